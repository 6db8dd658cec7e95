"""Small datasets for the demos and tests: numpy arrays out, nothing downloaded.

Features come in the default float dtype (float32 unless changed), labels as int64.
"""
from __future__ import annotations

import gzip
import os
from importlib import resources

import numpy as np
from numpy.typing import DTypeLike

from .tensor import get_default_dtype


def moons(n: int = 200, noise: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles (class 0 on top, class 1 below), as in scikit-learn."""
    if n < 2:
        raise ValueError(f"moons: n must be at least 2, got {n}")
    rng = np.random.default_rng(seed)
    n_top = n // 2
    n_bottom = n - n_top
    t_top = np.linspace(0, np.pi, n_top)
    t_bottom = np.linspace(0, np.pi, n_bottom)
    X = np.concatenate([
        np.stack([np.cos(t_top), np.sin(t_top)], axis=1),
        np.stack([1 - np.cos(t_bottom), 0.5 - np.sin(t_bottom)], axis=1),
    ])
    y = np.concatenate([np.zeros(n_top, np.int64), np.ones(n_bottom, np.int64)])
    X += noise * rng.standard_normal(X.shape)
    order = rng.permutation(n)
    return X[order].astype(get_default_dtype()), y[order]


def spirals(n: int = 300, classes: int = 3, noise: float = 0.2,
            seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``classes`` arms spiralling out from the origin (CS231n's toy set): not linearly
    separable, so a linear model fails and a small MLP succeeds."""
    if classes < 1 or n < classes:
        raise ValueError(f"spirals: need n >= classes >= 1, got n={n}, classes={classes}")
    rng = np.random.default_rng(seed)
    counts = [n // classes + (1 if c < n % classes else 0) for c in range(classes)]
    arms: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    for c, m in enumerate(counts):
        r = np.linspace(0.0, 1.0, m)
        t = np.linspace(c * 4.0, (c + 1) * 4.0, m) + noise * rng.standard_normal(m)
        arms.append(np.stack([r * np.sin(t), r * np.cos(t)], axis=1))
        labels.append(np.full(m, c, np.int64))
    X, y = np.concatenate(arms), np.concatenate(labels)
    order = rng.permutation(n)
    return X[order].astype(get_default_dtype()), y[order]


def digits() -> tuple[np.ndarray, np.ndarray]:
    """The 1,797 8x8 handwritten digits ("squiggles"): X (1797, 64) with pixel counts in
    [0, 16], y in 0..9.

    Shipped in ``microgd/_data/digits.csv.gz``: the test set of the UCI "Optical
    Recognition of Handwritten Digits" data (E. Alpaydin, C. Kaynak, 1998), licensed
    CC BY 4.0, as distributed with scikit-learn (see ``_data/README.md``).
    """
    path = resources.files("microgd") / "_data" / "digits.csv.gz"
    with path.open("rb") as raw, gzip.open(raw, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.float64)
    return table[:, :64].astype(get_default_dtype()), table[:, 64].astype(np.int64)


# --------------------------------------------------------------------------- house prices
#: ZIP code -> (land value in $, price per square foot in $): the generating formula's
#: regional constants (a made-up Raleigh/Cary-like market).
HOUSE_ZIPS: dict[int, tuple[float, float]] = {
    27502: (75_000.0, 165.0),
    27511: (80_000.0, 170.0),
    27513: (90_000.0, 185.0),
    27519: (110_000.0, 200.0),
    27560: (85_000.0, 175.0),
    27601: (120_000.0, 230.0),
    27606: (70_000.0, 160.0),
    27610: (40_000.0, 120.0),
}


def house_price_formula(zip_code: int | np.ndarray, sqft: float | np.ndarray) -> np.ndarray:
    """The noiseless price the dataset is generated from:
    price = land[zip] + price_per_sqft[zip] * sqft * (2000 / sqft) ** 0.05
    (a slightly lower price per square foot for bigger houses)."""
    zips = np.atleast_1d(np.asarray(zip_code)).astype(np.int64)
    unknown = sorted({int(z) for z in zips if int(z) not in HOUSE_ZIPS})
    if unknown:
        raise ValueError(f"house_price_formula: unknown ZIP codes {unknown}; known: "
                         f"{sorted(HOUSE_ZIPS)}")
    land = np.array([HOUSE_ZIPS[int(z)][0] for z in zips])
    ppsf = np.array([HOUSE_ZIPS[int(z)][1] for z in zips])
    sqft = np.asarray(sqft, dtype=np.float64)
    price = land + ppsf * sqft * (2000.0 / sqft) ** 0.05
    return price if np.ndim(zip_code) or np.ndim(sqft) else price[0]


def house_prices(n: int = 1000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Houses: X columns ``[zip_code, floor_area_sqft]``, y the sale price in dollars.

    Prices follow ``house_price_formula`` times a 5 % log-normal noise. The raw columns
    are on wildly different scales (ZIPs ~27,500, areas ~2,000, prices ~400,000): the demo
    shows why inputs are normalised (``one_hot_zips`` turns the ZIP into indicator columns).
    """
    if n < 1:
        raise ValueError(f"house_prices: n must be positive, got {n}")
    rng = np.random.default_rng(seed)
    zips = np.array(sorted(HOUSE_ZIPS))
    zip_code = rng.choice(zips, size=n)
    sqft = np.clip(rng.lognormal(np.log(2000.0), 0.35, size=n), 600, 6000).round()
    price = house_price_formula(zip_code, sqft) * np.exp(0.05 * rng.standard_normal(n))
    X = np.stack([zip_code.astype(np.float64), sqft], axis=1)
    return X.astype(get_default_dtype()), price.astype(get_default_dtype())


def one_hot_zips(zip_code: np.ndarray) -> np.ndarray:
    """ZIP codes as indicator columns in the order of ``sorted(HOUSE_ZIPS)``."""
    zips = np.array(sorted(HOUSE_ZIPS))
    zip_code = np.asarray(zip_code).astype(np.int64).reshape(-1)
    hits = zip_code[:, None] == zips[None, :]
    missing = zip_code[~hits.any(axis=1)]
    if missing.size:
        raise ValueError(f"one_hot_zips: unknown ZIP codes {sorted(set(missing.tolist()))}")
    return hits.astype(get_default_dtype())


# --------------------------------------------------------------------------- MNIST (IDX)
_MNIST_FILES = {
    "train_images": ("train-images-idx3-ubyte", "train-images.idx3-ubyte"),
    "train_labels": ("train-labels-idx1-ubyte", "train-labels.idx1-ubyte"),
    "test_images": ("t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte"),
    "test_labels": ("t10k-labels-idx1-ubyte", "t10k-labels.idx1-ubyte"),
}
_IDX_DTYPES: dict[int, DTypeLike] = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4",
                                     0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str) -> np.ndarray:
    """Read one IDX file (raw or gzip-compressed), the format MNIST is published in:
    two zero bytes, a dtype code, the number of dimensions, big-endian int32 sizes, data."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise ValueError(f"read_idx: {path}: corrupt gzip data ({exc})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(f"read_idx: {path} is not an IDX file (bad magic number "
                         f"{raw[:4].hex() or 'empty'})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"read_idx: {path}: truncated header")
    dims = tuple(int(d) for d in np.frombuffer(raw, ">i4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    expected = int(np.prod(dims)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(f"read_idx: {path}: header says shape {dims} ({expected} bytes of "
                         f"data) but the file holds {len(raw) - header}")
    return np.frombuffer(raw, dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


def _find(directory: str, names: tuple[str, ...]) -> str:
    for name in names:
        for candidate in (name, name + ".gz"):
            path = os.path.join(directory, candidate)
            if os.path.exists(path):
                return path
    raise FileNotFoundError(f"mnist: {directory} has no {names[0]} (or {names[0]}.gz)")


def mnist(path: str) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """``(X_train, y_train), (X_test, y_test)`` from a directory holding the four standard
    MNIST IDX files (raw or .gz). X is flattened to (N, rows*cols) pixel values in [0, 255]
    in the default float dtype; y is int64."""
    if not os.path.isdir(path):
        raise FileNotFoundError(
            f"mnist: {path!r} is not a directory; expected one holding "
            f"{', '.join(v[0] for v in _MNIST_FILES.values())} (raw or .gz)"
        )
    arrays = {key: read_idx(_find(path, names)) for key, names in _MNIST_FILES.items()}
    out = []
    for split in ("train", "test"):
        X, y = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if X.ndim != 3 or y.ndim != 1 or len(X) != len(y):
            raise ValueError(f"mnist: {split} images have shape {X.shape} and labels {y.shape};"
                             " expected (N, rows, cols) and (N,)")
        out.append((X.reshape(len(X), -1).astype(get_default_dtype()), y.astype(np.int64)))
    return out[0], out[1]
