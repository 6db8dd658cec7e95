"""save / load: state dicts in a numpy ``.npz`` file — arrays plus a JSON description of
the nesting, never pickled code — written atomically (a temporary file, then a rename), so
a crash mid-write leaves the old checkpoint intact."""
from __future__ import annotations

import json
import os
import tempfile
import zipfile
from typing import Any

import numpy as np

from .tensor import Tensor

_MANIFEST = "__microgd__"


def _encode(obj: Any, arrays: dict[str, np.ndarray], where: str) -> Any:
    if isinstance(obj, Tensor):
        obj = obj.data
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind not in "biuf":
            raise TypeError(f"save: {where}: cannot store an array of dtype {obj.dtype}")
        key = f"a{len(arrays)}"
        arrays[key] = obj
        return {"__array__": key}
    if isinstance(obj, dict):
        items = []
        for k, v in obj.items():
            if not isinstance(k, (str, int)) or isinstance(k, bool):
                raise TypeError(f"save: {where}: keys must be str or int, got {type(k).__name__}")
            items.append([k, _encode(v, arrays, f"{where}[{k!r}]")])
        return {"__dict__": items}
    if isinstance(obj, (list, tuple)):
        return {"__tuple__" if isinstance(obj, tuple) else "__list__":
                [_encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(obj)]}
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"save: {where}: cannot store a {type(obj).__name__} (only arrays, Tensors, "
                    "numbers, strings, None and dicts/lists of them)")


def _decode(node: Any, arrays: Any) -> Any:
    if isinstance(node, dict):
        if "__array__" in node:
            return arrays[node["__array__"]]
        if "__dict__" in node:
            return {k: _decode(v, arrays) for k, v in node["__dict__"]}
        if "__list__" in node:
            return [_decode(v, arrays) for v in node["__list__"]]
        if "__tuple__" in node:
            return tuple(_decode(v, arrays) for v in node["__tuple__"])
        raise ValueError(f"unknown entry {sorted(node)}")
    return node


def save(obj: Any, path: str | os.PathLike) -> None:
    """Write ``obj`` (e.g. ``model.state_dict()`` or ``optimizer.state_dict()``) to ``path``.

    The file appears complete or not at all: it is written to a temporary file in the same
    folder, flushed to disk, then renamed over ``path``.
    """
    path = os.fspath(path)
    arrays: dict[str, np.ndarray] = {}
    manifest = json.dumps({"version": 1, "root": _encode(obj, arrays, "obj")})
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"save: the folder {folder} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **{_MANIFEST: np.array(manifest)}, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def load(path: str | os.PathLike) -> Any:
    """Read what ``save`` wrote. Never unpickles (``allow_pickle=False``)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"load: no such checkpoint file: {path}")
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic != b"PK\x03\x04":
        raise ValueError(f"load: {path} is not a microgd checkpoint (not an .npz file)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            if _MANIFEST not in npz.files:
                raise LookupError
            manifest = json.loads(str(npz[_MANIFEST]))
            arrays = {k: npz[k] for k in npz.files if k != _MANIFEST}
        return _decode(manifest["root"], arrays)
    except LookupError:
        raise ValueError(f"load: {path} is an .npz file but not a microgd checkpoint (it has "
                         "no manifest); read it with numpy.load") from None
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
        if "allow_pickle" in str(exc):
            raise ValueError(f"load: {path} holds pickled Python objects; microgd checkpoints "
                             "are plain arrays and load() never unpickles") from None
        raise ValueError(f"load: {path} is a damaged checkpoint (truncated or corrupt): "
                         f"{exc}") from None
