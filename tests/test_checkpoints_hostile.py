"""Checkpoints as untrusted input: load refuses, with a CheckpointError, what save would
never write: FIFOs (without blocking), directories and devices, compressed zip bombs and
headers declaring huge shapes (before allocating), overlapping or oversized zip entries,
malformed manifests, entries of the wrong dtype or format, non-zip and truncated files.
The save/load round trips are in tests/test_checkpoints.py."""
import io
import json
import os
import struct
import threading
import tracemalloc
import zipfile

import numpy as np
import pytest

import microgd as mg
from microgd.io import CheckpointError


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
