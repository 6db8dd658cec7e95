"""Checkpoints' save and load round trips: load_state_dict is all-or-nothing (every entry
is checked before any is copied, values that alias the model's own buffers swap cleanly),
save cleans up the temporaries of dead writers and of saves killed midway, refuses cycles
and over-deep nesting, writes files with numpy's mode, and round-trips unusual but valid
arrays. The hostile and corrupt files load refuses are in tests/test_checkpoints_hostile.py."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import microgd as mg
from microgd import nn

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
