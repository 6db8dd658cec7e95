"""Checkpoints as untrusted input: load_state_dict is all-or-nothing, save cleans up after
killed saves, and load refuses FIFOs, zip bombs and malformed manifests before reading."""
import io
import json
import os
import signal
import struct
import subprocess
import sys
import threading
import time
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

import microgd as mg
from microgd import nn
from microgd.io import CheckpointError

ROOT = Path(__file__).resolve().parent.parent


class Pair(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Parameter(np.arange(6, dtype=np.float32).reshape(2, 3))
        self.b = nn.Parameter(np.arange(6, 12, dtype=np.float32).reshape(2, 3))
        self.c = nn.Parameter(np.zeros(4))


def assert_unchanged(model, before):
    """The model still holds what ``before = model.state_dict()`` (a copy) saw."""
    after = model.state_dict()
    assert list(after) == list(before)
    for k in before:
        np.testing.assert_array_equal(after[k], before[k])


# ---------------------------------------------------------------- load_state_dict
def test_load_state_dict_checks_every_entry_before_copying_any():
    m = Pair()
    before = m.state_dict()  # a copy
    bad = {"a": np.full((2, 3), 5.0),           # valid: must not be copied either
           "b": np.array([["x", "y", "z"]] * 2),  # strings
           "c": [0.0, 1.0, 2.0, 3.0],             # a list, not an array
           "d": np.zeros(1), 7: np.zeros(1)}      # unexpected, one with a non-str key
    with pytest.raises(RuntimeError) as err:
        m.load_state_dict(bad)
    assert str(err.value) == (
        "load_state_dict for Pair: unexpected keys: d, 7 | not arrays: c: got a list "
        "(expected a numpy array or Tensor) | dtypes that are not numbers: b: checkpoint has "
        "dtype <U1, model has float32 (nothing was loaded)")
    assert_unchanged(m, before)


@pytest.mark.parametrize("value,problem", [
    (np.array([None] * 4, dtype=object), "b: checkpoint has dtype object, model has float32"),
    (np.zeros((2, 3), complex), "b: checkpoint has dtype complex128, model has float32"),
    (np.zeros((3, 2)), "b: checkpoint has shape (3, 2), model has (2, 3)"),
    ("weights", "b: got a str (expected a numpy array or Tensor)"),
    (None, "b: got a NoneType (expected a numpy array or Tensor)"),
])
def test_load_state_dict_each_bad_value_changes_nothing_even_when_not_strict(value, problem):
    m = Pair()
    before = m.state_dict()  # a copy
    sd = {"a": np.ones((2, 3)), "b": value}  # "c" missing: allowed with strict=False
    with pytest.raises(RuntimeError, match="nothing was loaded") as err:
        m.load_state_dict(sd, strict=False)
    assert problem in str(err.value) and "missing" not in str(err.value)
    assert_unchanged(m, before)


def test_load_state_dict_missing_key_strict_changes_nothing():
    m = Pair()
    before = m.state_dict()  # a copy
    with pytest.raises(RuntimeError, match=r"^load_state_dict for Pair: missing keys: c "
                                           r"\(nothing was loaded\)$"):
        m.load_state_dict({"a": np.ones((2, 3)), "b": np.ones((2, 3))})
    assert_unchanged(m, before)


def test_load_state_dict_casts_numbers_and_accepts_tensors():
    m = Pair()
    result = m.load_state_dict({"a": np.arange(6).reshape(2, 3),            # int64 -> float32
                                "b": mg.tensor(np.full((2, 3), 0.5)),      # a Tensor
                                "c": np.array([True, False, True, True])})  # bool -> float64
    assert result.missing_keys == [] and result.unexpected_keys == []
    np.testing.assert_array_equal(m.a.data, np.arange(6, dtype=np.float32).reshape(2, 3))
    np.testing.assert_array_equal(m.b.data, np.full((2, 3), 0.5, np.float32))
    np.testing.assert_array_equal(m.c.data, [1.0, 0.0, 1.0, 1.0])
    assert m.a.dtype == np.float32 and m.c.dtype == np.float64


def test_load_state_dict_from_the_models_own_buffers_swaps_cleanly():
    """Values that alias the parameters themselves are read before any is overwritten."""
    m = Pair()
    a0, b0 = m.a.data.copy(), m.b.data.copy()
    buffer_a = m.a.data
    m.load_state_dict({"a": m.b.data, "b": m.a.data[...], "c": m.c.data})
    np.testing.assert_array_equal(m.a.data, b0)
    np.testing.assert_array_equal(m.b.data, a0)
    assert m.a.data is buffer_a  # still in place: optimizers keep their references


def test_load_state_dict_refuses_a_non_mapping():
    with pytest.raises(TypeError, match="load_state_dict for Pair: expected a dict of name -> "
                                        "array, got list"):
        Pair().load_state_dict([("a", np.zeros((2, 3)))])


# ---------------------------------------------------------------- save: temporaries
def tmp_name(pid, host=None):
    return f".microgd-save.{host or mg.io._HOST}.{pid}.0123abcd.tmp"


def dead_pid():
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    with pytest.raises(ProcessLookupError):
        os.kill(p.pid, 0)
    return p.pid


@pytest.mark.skipif(os.name != "posix", reason="process probing with os.kill(pid, 0) is POSIX")
def test_save_removes_stale_temporaries_of_dead_writers_only(tmp_path):
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        stale, alive = tmp_path / tmp_name(dead_pid()), tmp_path / tmp_name(live.pid)
        ours = tmp_path / tmp_name(os.getpid())          # maybe another thread's save
        elsewhere = tmp_path / tmp_name(dead_pid(), host="other-machine")
        unrelated = [tmp_path / ".tmp-abc.npz", tmp_path / "notes.txt"]
        for p in [stale, alive, ours, elsewhere, *unrelated]:
            p.write_bytes(b"partial")
        mg.save({"w": np.ones(3)}, tmp_path / "ckpt.npz")
        assert not stale.exists()
        assert alive.exists() and ours.exists() and elsewhere.exists()
        assert all(p.exists() for p in unrelated)
        np.testing.assert_array_equal(mg.load(tmp_path / "ckpt.npz")["w"], np.ones(3))
    finally:
        live.kill()
        live.wait()


KILLED_SAVE = """
import sys, time
import numpy as np
import microgd as mg
real, calls = np.lib.format.write_array, [0]
def write_then_hang(*args, **kwargs):
    real(*args, **kwargs)
    calls[0] += 1
    if calls[0] == 2:  # the manifest and one array written, the second array not yet
        open(sys.argv[2], "w").close()
        time.sleep(60)
np.lib.format.write_array = write_then_hang
mg.save({"a": np.full(1_000_000, 2.0), "b": np.full(1_000_000, 3.0)}, sys.argv[1])
"""


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL is POSIX")
def test_a_save_killed_midway_leaves_the_old_file_and_the_next_save_cleans_up(tmp_path):
    path, ready = tmp_path / "ckpt.npz", tmp_path.parent / f"{tmp_path.name}.ready"
    mg.save({"a": np.ones(3)}, path)
    child = subprocess.Popen([sys.executable, "-c", KILLED_SAVE, str(path), str(ready)],
                             cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        while not ready.exists() and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert ready.exists(), "the child never reached the middle of its save"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    leftovers = [p for p in tmp_path.iterdir() if p.name != "ckpt.npz"]
    assert len(leftovers) == 1 and leftovers[0].stat().st_size > 8_000_000
    np.testing.assert_array_equal(mg.load(path)["a"], np.ones(3))  # old file intact
    mg.save({"a": np.zeros(2)}, path)
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.npz"]
    np.testing.assert_array_equal(mg.load(path)["a"], np.zeros(2))


def test_save_refuses_cycles_and_deep_nesting_and_round_trips_the_deepest_allowed(tmp_path):
    d = {"w": np.ones(2)}
    d["self"] = d
    with pytest.raises(ValueError, match=r"^save: obj\['self'\] contains itself"):
        mg.save(d, tmp_path / "x.npz")
    deepest = np.ones(2)
    for _ in range(100):
        deepest = [deepest]
    mg.save(deepest, tmp_path / "x.npz")
    back = mg.load(tmp_path / "x.npz")
    for _ in range(100):
        back = back[0]
    np.testing.assert_array_equal(back, np.ones(2))
    with pytest.raises(ValueError, match="nested more than 100 containers deep"):
        mg.save([deepest], tmp_path / "x.npz")
    assert [p.name for p in tmp_path.iterdir()] == ["x.npz"]


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_saved_file_mode_follows_the_umask_like_numpy(tmp_path):
    mg.save({"w": np.ones(2)}, tmp_path / "a.npz")
    np.save(tmp_path / "b.npy", np.ones(2))
    mode = (tmp_path / "a.npz").stat().st_mode & 0o777
    assert mode == (tmp_path / "b.npy").stat().st_mode & 0o777


def test_round_trip_of_unusual_but_valid_arrays(tmp_path):
    obj = {"fortran": np.asfortranarray(np.arange(12.0).reshape(3, 4)),
           "empty": np.zeros((0, 3), np.float32), "scalar": np.array(2.5, np.float16),
           "big_endian": np.arange(4, dtype=">i4"), "mask": np.array([True, False])}
    mg.save(obj, tmp_path / "x.npz")
    back = mg.load(tmp_path / "x.npz")
    for k, v in obj.items():
        np.testing.assert_array_equal(back[k], v)
        assert back[k].dtype == v.dtype and back[k].shape == v.shape


# ---------------------------------------------------------------- load: what it refuses
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_load_refuses_a_fifo_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.npz"
    os.mkfifo(fifo)

    def unblock():  # if load ever waits for a writer, be that writer so the test ends
        try:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass

    timer = threading.Timer(10, unblock)
    timer.start()
    try:
        with pytest.raises(CheckpointError, match=r"pipe.npz is a FIFO \(named pipe\), not a "
                                                  r"regular file; a checkpoint is a file"):
            mg.load(fifo)
    finally:
        timer.cancel()


def test_load_refuses_directories_and_devices(tmp_path):
    with pytest.raises(CheckpointError, match="is a directory, not a regular file"):
        mg.load(tmp_path)
    if os.path.exists("/dev/null"):
        with pytest.raises(CheckpointError, match="is a character device, not a regular file"):
            mg.load("/dev/null")


def npy_bytes(array=None, header=None, data=b""):
    buf = io.BytesIO()
    if header is None:
        np.lib.format.write_array(buf, array, allow_pickle=False)
    else:
        np.lib.format.write_array_header_1_0(buf, header)
        buf.write(data)
    return buf.getvalue()


MANIFEST = json.dumps({"version": 1, "root": {"__dict__": [["w", {"__array__": "a0"}]]}})


def write_zip(path, entries, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)


def refused_with_little_memory(path, message):
    """load raises CheckpointError(message) having allocated under 5 MB at its peak."""
    tracemalloc.start()
    try:
        with pytest.raises(CheckpointError, match=message):
            mg.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000


def test_a_compressed_zip_bomb_is_refused_before_inflating(tmp_path):
    path = tmp_path / "bomb.npz"
    np.savez_compressed(path, __microgd__=np.array(MANIFEST), a0=np.zeros(32_000_000))
    assert path.stat().st_size < 1_000_000  # 256 MB of float64 zeros in under 1 MB
    refused_with_little_memory(path, r"entry '__microgd__.npy' is compressed.*save never "
                                     "compresses")


def test_a_header_declaring_a_huge_shape_is_refused_before_allocating(tmp_path):
    path = tmp_path / "huge.npz"
    header = {"descr": "<f8", "fortran_order": False, "shape": (10**12,)}
    write_zip(path, {"__microgd__.npy": npy_bytes(np.array(MANIFEST)),
                     "a0.npy": npy_bytes(header=header, data=b"\0" * 80)})
    refused_with_little_memory(path, r"entry 'a0.npy' declares shape \(1000000000000,\) of "
                                     r"float64 \(8000000000000 bytes\) but holds 80 bytes")


def test_overlapping_entries_are_refused_before_reading(tmp_path):
    """Many directory records pointing at one stored entry would each read the whole of it."""
    path = tmp_path / "overlap.npz"
    names = [f"a{i}" for i in range(10)]
    manifest = json.dumps({"version": 1, "root": {"__list__": [{"__array__": n} for n in names]}})
    write_zip(path, {"__microgd__.npy": npy_bytes(np.array(manifest)),
                     "a0.npy": npy_bytes(np.zeros(100_000))})
    data = path.read_bytes()
    eocd = data.rindex(b"PK\x05\x06")
    sig, disk, cd_disk, n_here, n_all, cd_size, cd_off, comment = struct.unpack(
        "<4s4H2LH", data[eocd:eocd + 22])
    records = data[cd_off:cd_off + cd_size]
    a0 = records.index(b"PK\x01\x02", 1)  # the second record: a0.npy (46 + 6-byte name)
    copies = b"".join(records[a0:].replace(b"a0.npy", f"{n}.npy".encode()) for n in names[1:])
    records += copies
    eocd_new = struct.pack("<4s4H2LH", sig, disk, cd_disk, n_here + 9, n_all + 9,
                           len(records), cd_off, comment)
    path.write_bytes(data[:cd_off] + records + eocd_new)
    with zipfile.ZipFile(path) as zf:
        assert len(zf.infolist()) == 11
    with pytest.raises(CheckpointError, match=r"its entries declare \d+ bytes in all, more "
                                              r"than the file's \d+ bytes"):
        mg.load(path)


def test_an_entry_larger_than_the_file_is_refused(tmp_path):
    path = tmp_path / "lying.npz"
    write_zip(path, {"__microgd__.npy": npy_bytes(np.array(MANIFEST)),
                     "a0.npy": npy_bytes(np.zeros(10))})
    data = bytearray(path.read_bytes())
    record = data.rindex(b"PK\x01\x02")  # the central record of a0.npy, the last one
    data[record + 20:record + 28] = struct.pack("<2L", 10**9, 10**9)  # packed, unpacked
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="more than the file's"):
        mg.load(path)


DEEP_JSON = "[" * 100_000 + "]" * 100_000
DEEP_MANIFEST = {"version": 1, "root": {"__array__": "a0"}}
for _ in range(101):  # one container more than save writes
    DEEP_MANIFEST["root"] = {"__list__": [DEEP_MANIFEST["root"]]}


@pytest.mark.parametrize("manifest,message", [
    ([1, 2], "manifest: expected a JSON object with 'version' and 'root', got list"),
    ({"version": 1}, "expected a JSON object with 'version' and 'root', got dict"),
    ({"version": 2, "root": None}, "manifest version: format version 2; this microgd reads "
                                   "version 1"),
    ({"version": "1", "root": None}, "format version '1'"),
    ({"version": 1, "root": {"__array__": 5}}, "manifest root: refers to array 5, which the "
                                               "file does not hold"),
    ({"version": 1, "root": {"__array__": "a9"}}, "refers to array 'a9'"),
    ({"version": 1, "root": {"__dict__": {"w": 1}}}, "__dict__ must hold a JSON list, got dict"),
    ({"version": 1, "root": {"__dict__": [[1.5, 2]]}},
     r"a dict item must be a \[key, value\] pair with a str or int key, got \[1.5, 2\]"),
    ({"version": 1, "root": {"__dict__": [["w"]]}}, "a dict item must be a"),
    ({"version": 1, "root": {"__dict__": [[True, 1]]}}, "a dict item must be a"),
    ({"version": 1, "root": {"__list__": 3}}, "__list__ must hold a JSON list, got int"),
    ({"version": 1, "root": {"__tuple__": [{"x": 1}]}}, r"manifest root\[0\]: unknown entry "
                                                        r"\['x'\]"),
    ({"version": 1, "root": {"__list__": [], "__dict__": []}}, "unknown entry"),
    ({"version": 1, "root": {"__dict__": [["k", [1, 2]]]}}, r"manifest root\['k'\]: a bare "
                                                           "JSON list"),
    (DEEP_MANIFEST, "nested more than 100 containers deep"),
    (DEEP_JSON, "its manifest is nested too deeply to read"),
    ("{not json", r"damaged checkpoint \(truncated or corrupt\)"),
    ('{"version": 1, "root": ' + "9" * 5000 + "}", r"damaged checkpoint"),
])
def test_malformed_manifests_raise_checkpoint_error(tmp_path, manifest, message):
    text = manifest if isinstance(manifest, str) else json.dumps(manifest)
    np.savez(tmp_path / "m.npz", __microgd__=np.array(text), a0=np.zeros(3))
    with pytest.raises(CheckpointError, match=message):
        mg.load(tmp_path / "m.npz")


@pytest.mark.parametrize("entries,message", [
    ({"__microgd__.npy": npy_bytes(np.arange(3))},
     r"entry '__microgd__.npy' has dtype int64 and shape \(3,\); save writes a single string"),
    ({"__microgd__.npy": npy_bytes(np.array(MANIFEST)), "a0.npy": npy_bytes(np.array(["x"]))},
     r"entry 'a0.npy' has dtype <U1 and shape \(1,\); save writes booleans, integers or floats"),
    ({"__microgd__.npy": npy_bytes(np.array(MANIFEST)), "a0.npy": npy_bytes(np.zeros(2, complex))},
     "has dtype complex128"),
    ({"__microgd__.npy": npy_bytes(np.array(MANIFEST)), "notes.txt": b"hello"},
     "entry 'notes.txt' is not a .npy array; save writes nothing else"),
    ({"__microgd__.npy": npy_bytes(np.array(MANIFEST)), "a0.npy": b"\x93NUMPY\x03\x00" + b"\0" * 8},
     r"entry 'a0.npy' has an unreadable .npy header: .npy format version 3.0"),
    ({"__microgd__.npy": npy_bytes(np.array(MANIFEST)), "a0.npy": b"not an npy file"},
     "entry 'a0.npy' has an unreadable .npy header"),
])
def test_entries_save_would_not_write_are_refused(tmp_path, entries, message):
    write_zip(tmp_path / "x.npz", entries)
    with pytest.raises(CheckpointError, match=message):
        mg.load(tmp_path / "x.npz")


def test_existing_load_errors_are_checkpoint_errors(tmp_path):
    assert mg.io.CheckpointError is CheckpointError and issubclass(CheckpointError, ValueError)
    (tmp_path / "junk.npz").write_bytes(b"this is not a zip file")
    with pytest.raises(CheckpointError, match=r"not a microgd checkpoint \(not an .npz file\)"):
        mg.load(tmp_path / "junk.npz")
    mg.save({"w": np.zeros(1000)}, tmp_path / "ok.npz")
    data = (tmp_path / "ok.npz").read_bytes()
    (tmp_path / "trunc.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"^load: .*trunc.npz is a damaged checkpoint "
                                              r"\(truncated or corrupt\): File is not a zip file$"):
        mg.load(tmp_path / "trunc.npz")
    np.savez(tmp_path / "plain.npz", a=np.zeros(2))
    with pytest.raises(CheckpointError, match="no manifest"):
        mg.load(tmp_path / "plain.npz")
