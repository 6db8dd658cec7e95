"""Feeding examples to gradient descent: batch, stochastic and mini-batch.

The gradient of the average loss over *all* examples is exact but costs a full pass per
step (batch gradient descent, ``batch_size=len(dataset)``); one example per step is cheap
and noisy (stochastic, ``batch_size=1``); a few dozen is the usual compromise (mini-batch).
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from .state import generator
from .tensor import Tensor, as_tensor


class TensorDataset:
    """Rows of several arrays that belong together (features, labels, ...)."""

    def __init__(self, *arrays: Any) -> None:
        if not arrays:
            raise ValueError("TensorDataset: needs at least one array")
        self.arrays = [a.data if isinstance(a, Tensor) else np.asarray(a) for a in arrays]
        lengths = [len(a) if a.ndim else None for a in self.arrays]
        if None in lengths or len(set(lengths)) != 1:
            raise ValueError(f"TensorDataset: all arrays need the same length (first "
                             f"dimension), got lengths {lengths}")

    def __len__(self) -> int:
        return len(self.arrays[0])

    def __getitem__(self, index: Any) -> tuple[np.ndarray, ...]:
        return tuple(a[index] for a in self.arrays)


class DataLoader:
    """Iterate over a dataset in batches of Tensors; one pass is one epoch.

    ``shuffle=True`` draws a new order every epoch from a generator seeded with ``seed``,
    so the same seed gives the same sequence of batches (without a seed, from the
    generator ``mg.manual_seed`` sets).
    """

    def __init__(self, dataset: Any, batch_size: int = 1, shuffle: bool = False,
                 drop_last: bool = False, seed: int | None = None) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
                or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive int, got {batch_size!r}")
        if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
            raise TypeError(f"DataLoader: the dataset must support len() and indexing, got "
                            f"{type(dataset).__name__}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.seed = seed
        # its own generator when seeded; otherwise mg.manual_seed's, like PyTorch's default
        self._rng = np.random.default_rng(seed) if seed is not None else None

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self) -> Iterator[tuple[Tensor, ...]]:
        n = len(self.dataset)
        if self.shuffle:
            order = (self._rng if self._rng is not None else generator()).permutation(n)
        else:
            order = np.arange(n)
        for b in range(len(self)):
            idx = order[b * self.batch_size:(b + 1) * self.batch_size]
            yield self._batch(idx)

    def _batch(self, idx: np.ndarray) -> tuple[Tensor, ...]:
        if isinstance(self.dataset, TensorDataset):  # one fancy-index per array
            columns = [a[idx] for a in self.dataset.arrays]
        else:
            rows = [self.dataset[int(i)] for i in idx]
            rows = [r if isinstance(r, tuple) else (r,) for r in rows]
            columns = [np.stack([np.asarray(getattr(v, "data", v)) for v in col])
                       for col in zip(*rows)]
        return tuple(as_tensor(c) for c in columns)
