"""save / load: state dicts in a numpy ``.npz`` file — arrays plus a JSON description of
the nesting, never pickled code — written atomically (a temporary file, then a rename), so
a crash mid-write leaves the old checkpoint intact.

``load`` treats the file as untrusted input: it refuses anything ``save`` would not have
written (compressed or oversized entries, odd dtypes, malformed or deeply nested
manifests) with a ``CheckpointError`` *before* reading the data, so a small crafted file
can neither inflate into gigabytes of memory nor crash with a raw ``TypeError``.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import re
import secrets
import socket
import stat
import struct
import zipfile
from typing import Any

import numpy as np

from .tensor import Tensor

_MANIFEST = "__microgd__"
_VERSION = 1
_MAX_DEPTH = 100  # containers inside containers; optimizer state dicts use about 4
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # opening a FIFO must not wait for a writer
_O_BINARY = getattr(os, "O_BINARY", 0)


class CheckpointError(ValueError):
    """A file ``mg.load`` will not read: not a checkpoint, damaged, or crafted."""


# ---------------------------------------------------------------------------- saving
def _short(where: str) -> str:
    return where if len(where) <= 120 else where[:70] + "..." + where[-40:]


def _encode(obj: Any, arrays: dict[str, np.ndarray], where: str, active: set[int]) -> Any:
    if isinstance(obj, Tensor):
        obj = obj.data
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind not in "biuf":
            raise TypeError(f"save: {where}: cannot store an array of dtype {obj.dtype}")
        key = f"a{len(arrays)}"
        arrays[key] = obj
        return {"__array__": key}
    if isinstance(obj, (dict, list, tuple)):
        if id(obj) in active:
            raise ValueError(f"save: {_short(where)} contains itself; a checkpoint is a tree "
                             "of containers, not a cycle")
        if len(active) >= _MAX_DEPTH:
            raise ValueError(f"save: {_short(where)}: nested more than {_MAX_DEPTH} containers "
                             "deep (load refuses deeper manifests)")
        active.add(id(obj))
        try:
            return _encode_container(obj, arrays, where, active)
        finally:
            active.discard(id(obj))
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"save: {where}: cannot store a {type(obj).__name__} (only arrays, Tensors, "
                    "numbers, strings, None and dicts/lists of them)")


def _encode_container(obj: Any, arrays: dict[str, np.ndarray], where: str,
                      active: set[int]) -> Any:
    if isinstance(obj, dict):
        items = []
        for k, v in obj.items():
            if not isinstance(k, (str, int)) or isinstance(k, bool):
                raise TypeError(f"save: {where}: keys must be str or int, got {type(k).__name__}")
            items.append([k, _encode(v, arrays, f"{where}[{k!r}]", active)])
        return {"__dict__": items}
    return {"__tuple__" if isinstance(obj, tuple) else "__list__":
            [_encode(v, arrays, f"{where}[{i}]", active) for i, v in enumerate(obj)]}


# Temporaries are named after the writer (host and process id), so that a later save can tell
# the leftovers of a killed save (the writer is gone) from a save still running elsewhere.
_HOST = re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname())[:64] or "host"
_TMP_NAME = re.compile(r"^\.microgd-save\.(?P<host>[A-Za-z0-9_-]+)\.(?P<pid>\d+)\.[0-9a-f]+\.tmp$")


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # someone else's process, or not a pid at all: not ours to judge
    return True


def _remove_stale_temporaries(folder: str) -> None:
    """Delete temporaries left in ``folder`` by saves whose process has died (SIGKILL, power
    cut): without this each killed save leaves a checkpoint-sized file behind. A temporary is
    removed only if it was made on this host by a process that no longer exists; one whose
    pid is alive (a save running in another process, or a reused pid) is left alone."""
    if os.name != "posix":
        return  # on Windows os.kill(pid, 0) would terminate the process, not probe it
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        m = _TMP_NAME.match(name)
        if m is None or m["host"] != _HOST:
            continue
        pid = int(m["pid"])
        if pid == os.getpid() or _process_alive(pid):
            continue  # another thread of ours, or a live process, may still be writing it
        with contextlib.suppress(OSError):  # another save may have removed it first
            os.remove(os.path.join(folder, name))


def _create_temporary(folder: str) -> tuple[str, int]:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_BINARY
    for _ in range(100):
        tmp = os.path.join(folder, f".microgd-save.{_HOST}.{os.getpid()}."
                                   f"{secrets.token_hex(4)}.tmp")
        try:
            return tmp, os.open(tmp, flags, 0o666)  # 0o666 & ~umask, as np.save would
        except FileExistsError:
            continue
    raise FileExistsError(f"save: could not create a temporary file in {folder}")


def _fsync_folder(folder: str) -> None:
    """Make the rename itself durable (POSIX); harmless to skip where folders cannot be
    opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save(obj: Any, path: str | os.PathLike) -> None:
    """Write ``obj`` (e.g. ``model.state_dict()`` or ``optimizer.state_dict()``) to ``path``.

    The file appears complete or not at all: it is written to a temporary file in the same
    folder, flushed to disk, then renamed over ``path``. Temporaries left by saves that were
    killed midway are removed by the next save into the same folder.
    """
    path = os.fspath(path)
    arrays: dict[str, np.ndarray] = {}
    manifest = json.dumps({"version": _VERSION, "root": _encode(obj, arrays, "obj", set())})
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"save: the folder {folder} does not exist")
    _remove_stale_temporaries(folder)
    tmp, fd = _create_temporary(folder)
    try:
        with os.fdopen(fd, "wb") as f:
            # mypy matches a **dict against savez's `allow_pickle: bool` too; our keys are
            # the manifest's and a0, a1, ..., never that name
            np.savez(f, **{_MANIFEST: np.array(manifest)}, **arrays)  # type: ignore[arg-type]
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    _fsync_folder(folder)


# ---------------------------------------------------------------------------- loading
_KINDS = {stat.S_IFDIR: "a directory", stat.S_IFIFO: "a FIFO (named pipe)",
          stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
          stat.S_IFSOCK: "a socket"}


def _require_regular_file(mode: int, path: str) -> None:
    if not stat.S_ISREG(mode):
        kind = _KINDS.get(stat.S_IFMT(mode), "not a regular file")
        raise CheckpointError(f"load: {path} is {kind}, not a regular file; a checkpoint is a "
                              "file written by mg.save")


def _entry_header(zf: zipfile.ZipFile, info: zipfile.ZipInfo, where: str
                  ) -> tuple[tuple, np.dtype, int]:
    """(shape, dtype, header length) from an entry's .npy header, without reading its data."""
    with zf.open(info) as fp:
        try:
            version = np.lib.format.read_magic(fp)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(fp)
            elif version == (2, 0):
                shape, _, dtype = np.lib.format.read_array_header_2_0(fp)
            else:
                raise ValueError(f".npy format version {version[0]}.{version[1]}; save writes "
                                 "1.0 or 2.0")
        except ValueError as exc:
            raise CheckpointError(f"{where} has an unreadable .npy header: {exc}") from None
        return shape, dtype, fp.tell()


def _check_entries(zf: zipfile.ZipFile, path: str, file_size: int) -> None:
    """Refuse, before reading any data, every entry ``save`` would not have written: the
    memory ``load`` then allocates is at most the size of the file itself."""
    infos = zf.infolist()
    seen: set[str] = set()
    for info in infos:  # first what the zip directory declares: cheap, reads no entry
        where = f"load: {path}: entry {info.filename!r}"
        if info.filename in seen:
            raise CheckpointError(f"{where} appears more than once; save writes each once")
        seen.add(info.filename)
        if not info.filename.endswith(".npy"):
            raise CheckpointError(f"{where} is not a .npy array; save writes nothing else")
        if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 0x1:
            raise CheckpointError(
                f"{where} is compressed or encrypted (zip method {info.compress_type}); save "
                "never compresses, and a compressed entry can inflate far beyond the file's "
                "size, so it is refused before reading")
        if info.compress_size != info.file_size:
            raise CheckpointError(f"{where} is stored uncompressed but declares {info.file_size} "
                                  f"bytes unpacked and {info.compress_size} packed")
    total = sum(info.file_size for info in infos)
    if total > file_size:
        raise CheckpointError(f"load: {path}: its entries declare {total} bytes in all, more than "
                              f"the file's {file_size} bytes (overlapping or inflating entries: "
                              "a crafted or damaged file); refused before reading")
    for info in infos:  # then each entry's .npy header against its size
        where = f"load: {path}: entry {info.filename!r}"
        shape, dtype, header = _entry_header(zf, info, where)
        if dtype.hasobject:
            raise CheckpointError(f"load: {path} holds pickled Python objects; microgd "
                                  "checkpoints are plain arrays and load() never unpickles")
        if info.filename == _MANIFEST + ".npy":
            wrong, expected = dtype.kind != "U" or shape != (), "a single string"
        else:
            wrong, expected = dtype.kind not in "biuf", "booleans, integers or floats"
        if wrong:
            raise CheckpointError(f"{where} has dtype {dtype} and shape {shape}; save writes "
                                  f"{expected} there")
        nbytes = math.prod(shape) * dtype.itemsize
        if min(shape, default=0) < 0 or header + nbytes != info.file_size:
            raise CheckpointError(
                f"{where} declares shape {shape} of {dtype} ({nbytes} bytes) but holds "
                f"{info.file_size - header} bytes of data (a crafted or damaged file); refused "
                "before reading")


class _Manifest:
    """Turns the JSON manifest back into dicts, lists and arrays, checking every node, so
    a malformed one is a CheckpointError that says where, not a TypeError or KeyError."""

    def __init__(self, path: str, arrays: dict[str, np.ndarray]) -> None:
        self.path, self.arrays = path, arrays

    def error(self, where: str, problem: str) -> CheckpointError:
        where = f" {_short(where)}" if where else ""
        return CheckpointError(f"load: {self.path}: manifest{where}: {problem}")

    def root(self, manifest: Any) -> Any:
        if not isinstance(manifest, dict) or "root" not in manifest:
            raise self.error("", "expected a JSON object with 'version' and 'root', got "
                             f"{type(manifest).__name__}")
        version = manifest.get("version")
        if version != _VERSION or isinstance(version, bool):
            raise self.error("version", f"format version {version!r}; this microgd reads "
                             f"version {_VERSION} (was it written by a newer one?)")
        return self.decode(manifest["root"], "root", 0)

    def decode(self, node: Any, where: str, depth: int) -> Any:
        if isinstance(node, list):
            raise self.error(where, "a bare JSON list; save writes lists as {'__list__': [...]}")
        if not isinstance(node, dict):
            return node  # JSON leaves: None, bool, int, float, str
        if len(node) != 1 or next(iter(node)) not in (
                "__array__", "__dict__", "__list__", "__tuple__"):
            raise self.error(where, f"unknown entry {sorted(node)}")
        kind, body = next(iter(node.items()))
        if kind == "__array__":
            if not isinstance(body, str) or body not in self.arrays:
                raise self.error(where, f"refers to array {body!r}, which the file does not hold")
            return self.arrays[body]
        if depth >= _MAX_DEPTH:
            raise self.error(where, f"nested more than {_MAX_DEPTH} containers deep")
        if not isinstance(body, list):
            raise self.error(where, f"{kind} must hold a JSON list, got {type(body).__name__}")
        if kind == "__dict__":
            out = {}
            for item in body:
                key = item[0] if isinstance(item, list) and len(item) == 2 else None
                if not isinstance(key, (str, int)) or isinstance(key, bool):
                    raise self.error(where, "a dict item must be a [key, value] pair with a str "
                                     f"or int key, got {_short(repr(item))}")
                out[key] = self.decode(item[1], f"{where}[{key!r}]", depth + 1)
            return out
        items = [self.decode(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(body)]
        return tuple(items) if kind == "__tuple__" else items


def _open_regular(path: str) -> tuple[Any, int]:
    """Open ``path`` for reading, refusing FIFOs, devices and directories before and after
    opening (a FIFO would block the read forever)."""
    try:
        _require_regular_file(os.stat(path).st_mode, path)
        fd = os.open(path, os.O_RDONLY | _O_NONBLOCK | _O_BINARY)
    except FileNotFoundError:
        raise FileNotFoundError(f"load: no such checkpoint file: {path}") from None
    f = os.fdopen(fd, "rb")
    try:
        st = os.fstat(fd)
        _require_regular_file(st.st_mode, path)  # the path may have been swapped meanwhile
    except BaseException:
        f.close()
        raise
    return f, st.st_size


_DAMAGED = (ValueError, OSError, EOFError, zipfile.BadZipFile, struct.error, NotImplementedError)


def load(path: str | os.PathLike) -> Any:
    """Read what ``save`` wrote. Never unpickles, and checks every entry's declared size,
    dtype and compression before reading it; anything else raises ``CheckpointError``."""
    path = os.fspath(path)
    f, file_size = _open_regular(path)
    with f:
        if f.read(4) != b"PK\x03\x04":
            raise CheckpointError(f"load: {path} is not a microgd checkpoint (not an .npz file)")
        f.seek(0)
        try:
            with zipfile.ZipFile(f) as zf:
                if _MANIFEST + ".npy" not in zf.namelist():
                    raise CheckpointError(f"load: {path} is an .npz file but not a microgd "
                                          "checkpoint (it has no manifest); read it with "
                                          "numpy.load")
                _check_entries(zf, path, file_size)
                arrays = {}
                for name in zf.namelist():
                    with zf.open(name) as fp:
                        arrays[name[:-4]] = np.lib.format.read_array(fp, allow_pickle=False)
            text = arrays.pop(_MANIFEST).item()
            try:
                manifest = json.loads(text)
            except RecursionError:
                raise CheckpointError(f"load: {path}: its manifest is nested too deeply to "
                                      "read") from None
        except CheckpointError:
            raise
        except _DAMAGED as exc:
            raise CheckpointError(f"load: {path} is a damaged checkpoint (truncated or "
                                  f"corrupt): {exc}") from None
    return _Manifest(path, arrays).root(manifest)
