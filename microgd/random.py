"""The random generator behind weight init, dropout and shuffling defaults.

``mg.manual_seed(s)`` makes a run repeatable, like ``torch.manual_seed``.
"""
from __future__ import annotations

import numpy as np

_GENERATOR = [np.random.default_rng()]


def manual_seed(seed: int) -> np.random.Generator:
    _GENERATOR[0] = np.random.default_rng(seed)
    return _GENERATOR[0]


def generator() -> np.random.Generator:
    return _GENERATOR[0]
