"""DataLoader, datasets, MNIST reader, checkpoints."""
import gzip
import struct

import numpy as np
import pytest

import microgd as mg
from microgd.data import DataLoader, TensorDataset


def test_batch_counts_and_epoch_covers_everything():
    X = np.arange(10 * 3).reshape(10, 3).astype(np.float32)
    y = np.arange(10)
    ds = TensorDataset(X, y)
    for bs, drop, n_batches in [(10, False, 1), (1, False, 10), (4, False, 3), (4, True, 2),
                                (32, False, 1), (32, True, 0)]:
        loader = DataLoader(ds, batch_size=bs, shuffle=True, drop_last=drop, seed=0)
        batches = list(loader)
        assert len(loader) == len(batches) == n_batches
        seen = np.concatenate([b[1].data for b in batches]) if batches else np.array([])
        if not drop:
            assert sorted(seen.tolist()) == list(range(10))
        for xb, yb in batches:
            assert isinstance(xb, mg.Tensor) and xb.dtype == np.float32
            np.testing.assert_array_equal(xb.data, X[yb.data])
    full = next(iter(DataLoader(ds, batch_size=10)))
    np.testing.assert_array_equal(full[1].data, y)  # no shuffle: in order


def test_seeded_shuffle_is_reproducible_and_changes_each_epoch():
    ds = TensorDataset(np.arange(50))
    a = DataLoader(ds, batch_size=50, shuffle=True, seed=7)
    b = DataLoader(ds, batch_size=50, shuffle=True, seed=7)
    ea1, ea2 = [next(iter(a))[0].data for _ in range(2)]
    eb1, eb2 = [next(iter(b))[0].data for _ in range(2)]
    np.testing.assert_array_equal(ea1, eb1)
    np.testing.assert_array_equal(ea2, eb2)
    assert not np.array_equal(ea1, ea2)


def test_unseeded_shuffle_follows_manual_seed():
    ds = TensorDataset(np.arange(30))
    mg.manual_seed(5)
    a = [b[0].data.copy() for b in DataLoader(ds, batch_size=30, shuffle=True)]
    mg.manual_seed(5)
    b = [b[0].data.copy() for b in DataLoader(ds, batch_size=30, shuffle=True)]
    np.testing.assert_array_equal(a[0], b[0])
    assert sorted(a[0].tolist()) == list(range(30))


def test_loader_errors_and_generic_dataset():
    with pytest.raises(ValueError, match=r"same length.*\[3, 4\]"):
        TensorDataset(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        DataLoader(TensorDataset(np.zeros(3)), batch_size=0)

    class Squares:
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return np.array([i], np.float32), i * i

    (xb, yb), *_ = DataLoader(Squares(), batch_size=2)
    assert xb.shape == (2, 1)
    np.testing.assert_array_equal(yb.data, [0, 1])


def test_datasets_shapes_and_ranges():
    X, y = mg.datasets.digits()
    assert X.shape == (1797, 64) and y.shape == (1797,)
    assert X.min() == 0 and X.max() == 16 and set(np.unique(y)) == set(range(10))
    X, y = mg.datasets.moons(200, noise=0.1, seed=0)
    assert X.shape == (200, 2) and np.bincount(y).tolist() == [100, 100]
    X, y = mg.datasets.spirals(300, classes=3, noise=0.2, seed=0)
    assert X.shape == (300, 2) and np.bincount(y).tolist() == [100, 100, 100]
    X2, _ = mg.datasets.spirals(300, classes=3, noise=0.2, seed=0)
    np.testing.assert_array_equal(X, X2)


def test_house_prices_follow_their_formula():
    X, y = mg.datasets.house_prices(5000, seed=0)
    assert X.shape == (5000, 2) and y.shape == (5000,)
    assert set(np.unique(X[:, 0]).astype(int)) <= set(mg.datasets.HOUSE_ZIPS)
    ratio = y / mg.datasets.house_price_formula(X[:, 0], X[:, 1])
    assert abs(np.log(ratio).mean()) < 0.01 and abs(np.log(ratio).std() - 0.05) < 0.01
    land, ppsf = mg.datasets.HOUSE_ZIPS[27513]
    assert mg.datasets.house_price_formula(27513, 2000.0) == pytest.approx(land + ppsf * 2000)
    assert mg.datasets.one_hot_zips([27513]).sum() == 1
    with pytest.raises(ValueError, match="unknown ZIP"):
        mg.datasets.house_price_formula(12345, 1000.0)


def write_idx(path, array, compress):
    codes = {np.dtype(np.uint8): 0x08}
    header = bytes([0, 0, codes[array.dtype], array.ndim]) + struct.pack(
        f">{array.ndim}I", *array.shape)
    data = header + array.tobytes()
    if compress:
        data = gzip.compress(data)
    path.write_bytes(data)


@pytest.mark.parametrize("compress", [False, True])
def test_mnist_reader_on_small_idx_files(tmp_path, compress):
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (6, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, 6, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (3, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, 3, dtype=np.uint8),
    }
    for name, arr in arrays.items():
        write_idx(tmp_path / (name + (".gz" if compress else "")), arr, compress)
    (Xtr, ytr), (Xte, yte) = mg.datasets.mnist(str(tmp_path))
    assert Xtr.shape == (6, 784) and Xte.shape == (3, 784) and ytr.dtype == np.int64
    np.testing.assert_array_equal(Xtr, arrays["train-images-idx3-ubyte"].reshape(6, -1))
    np.testing.assert_array_equal(yte, arrays["t10k-labels-idx1-ubyte"])


def test_mnist_reader_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a directory"):
        mg.datasets.mnist(str(tmp_path / "nope"))
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        mg.datasets.mnist(str(tmp_path))
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x12\x34\x08\x01" + b"\0" * 8)
    with pytest.raises(ValueError, match="not an IDX file"):
        mg.datasets.read_idx(str(bad))
    short = tmp_path / "short"
    short.write_bytes(bytes([0, 0, 8, 1]) + struct.pack(">I", 10) + b"\0" * 4)
    with pytest.raises(ValueError, match="header says shape"):
        mg.datasets.read_idx(str(short))


def test_save_load_nested_structures_without_pickle(tmp_path):
    obj = {"w": np.arange(6.0).reshape(2, 3), "t": mg.tensor([1.0, 2.0]),
           "nested": {"step": 3, "lr": 0.1, "betas": (0.9, 0.99), "flag": True, "none": None,
                      0: [np.ones(2, np.int64), "text"]}}
    mg.save(obj, tmp_path / "x.npz")
    back = mg.load(tmp_path / "x.npz")
    np.testing.assert_array_equal(back["w"], obj["w"])
    np.testing.assert_array_equal(back["t"], [1.0, 2.0])
    assert back["nested"]["betas"] == (0.9, 0.99) and back["nested"]["step"] == 3
    assert back["nested"][0][1] == "text" and back["nested"]["none"] is None
    with np.load(tmp_path / "x.npz", allow_pickle=False) as f:
        assert all(f[k].dtype != object for k in f.files)


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such checkpoint"):
        mg.load(tmp_path / "missing.npz")
    (tmp_path / "junk.npz").write_bytes(b"this is not a zip file")
    with pytest.raises(ValueError, match=r"is not a microgd checkpoint \(not an .npz file\)"):
        mg.load(tmp_path / "junk.npz")
    mg.save({"w": np.zeros(1000)}, tmp_path / "ok.npz")
    data = (tmp_path / "ok.npz").read_bytes()
    (tmp_path / "trunc.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"damaged checkpoint \(truncated or corrupt\)"):
        mg.load(tmp_path / "trunc.npz")
    np.savez(tmp_path / "plain.npz", a=np.zeros(2))
    with pytest.raises(ValueError, match="not a microgd checkpoint.*no manifest"):
        mg.load(tmp_path / "plain.npz")
    with pytest.raises(TypeError, match="cannot store a function"):
        mg.save({"f": lambda: 0}, tmp_path / "f.npz")


def test_interrupted_save_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    mg.save({"w": np.ones(3)}, path)
    real = np.savez

    def exploding(f, **arrays):
        real(f, **arrays)
        raise KeyboardInterrupt("power cut mid-write")

    monkeypatch.setattr(np, "savez", exploding)
    with pytest.raises(KeyboardInterrupt):
        mg.save({"w": np.zeros(3)}, path)
    monkeypatch.undo()
    np.testing.assert_array_equal(mg.load(path)["w"], np.ones(3))
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.npz"]  # no temp file left


def test_load_never_unpickles(tmp_path):
    """A checkpoint that smuggles in a pickled object is refused, not executed."""
    import json
    manifest = json.dumps({"version": 1, "root": {"__array__": "a0"}})
    np.savez(tmp_path / "evil.npz", __microgd__=np.array(manifest),
             a0=np.array([{"not": "numbers"}], dtype=object))
    with pytest.raises(ValueError, match="holds pickled Python objects.*never unpickles"):
        mg.load(tmp_path / "evil.npz")
