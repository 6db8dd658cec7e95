"""Padding: ``pad`` with PyTorch's modes (constant, reflect, replicate, circular).

Padding only places values, so its backward takes the gradient back from where each value
came: the middle of the output's gradient, plus (for the non-constant modes) what the
border copies of an input element received.
"""
from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import numpy as np

from .core import Op, lift
from .shape import getitem

PAD_MODES = ("constant", "reflect", "replicate", "circular")


class Pad(Op):
    """Constant padding: the input in the middle of a block of ``value``; the gradient is
    the middle of the output's gradient (the border came from a constant)."""

    name = "pad"
    uses_values = False

    @staticmethod
    def forward(a, widths, value):
        shape = tuple(n + lo + hi for n, (lo, hi) in zip(a.shape, widths))
        out = np.full(shape, value, dtype=a.dtype)
        out[_middle(a.shape, widths)] = a
        return out

    @staticmethod
    def backward(g, out, needs, a, widths, value):
        return (g[_middle(a.shape, widths)],)


def _middle(shape: tuple, widths: Sequence) -> tuple:
    return tuple(slice(lo, lo + n) for n, (lo, _) in zip(shape, widths))


def _source_index(n: int, lo: int, hi: int, mode: str) -> np.ndarray:
    """For each position of a padded axis, the input position it copies."""
    i = np.arange(-lo, n + hi)
    if mode == "replicate":
        return np.clip(i, 0, n - 1)
    if mode == "circular":
        return i % n
    period = 2 * (n - 1)  # reflect: ... 2 1 [0 1 2 ... n-1] n-2 ...
    i = np.abs(i) % period if period else np.zeros_like(i)
    return np.where(i >= n, period - i, i)


def pad(x: Any, pad: Sequence[int], mode: str = "constant", value: float | None = 0.0) -> Any:
    """Pad with PyTorch's ``pad`` tuple, last axis first: (left, right) of the last axis,
    then (top, bottom) of the one before, ... Negative widths crop (constant mode).

    ``reflect`` mirrors without repeating the edge, ``replicate`` repeats the edge,
    ``circular`` wraps around; each is an index gather per padded axis (``getitem``), whose
    gradient adds the copies back where they came from.
    """
    x = lift(x, where="pad")
    widths_flat = tuple(pad)
    if (len(widths_flat) % 2 or len(widths_flat) // 2 > x.ndim
            or builtins.any(not isinstance(p, (int, np.integer)) for p in widths_flat)):
        raise ValueError(f"pad: pad must be an even number of ints, two per axis from the "
                         f"last, at most {2 * x.ndim} for shape {x.shape}; got {widths_flat}")
    if mode not in PAD_MODES:
        raise ValueError(f"pad: mode must be one of {PAD_MODES}, got {mode!r}")
    widths = [(0, 0)] * x.ndim
    for k in range(len(widths_flat) // 2):
        widths[x.ndim - 1 - k] = (int(widths_flat[2 * k]), int(widths_flat[2 * k + 1]))
    if mode == "constant":
        for ax, (lo, hi) in enumerate(widths):
            if x.shape[ax] + lo + hi < 0:
                raise ValueError(f"pad: widths {(lo, hi)} on axis {ax} of shape {x.shape} "
                                 "leave a negative size")
        grow = [(builtins.max(lo, 0), builtins.max(hi, 0)) for lo, hi in widths]
        if builtins.any(lo or hi for lo, hi in grow):
            x = Pad.apply(x, widths=tuple(grow), value=0.0 if value is None else value)
        if builtins.any(lo < 0 or hi < 0 for lo, hi in widths):
            x = getitem(x, tuple(slice(-builtins.min(lo, 0), n + builtins.min(hi, 0))
                                 for n, (lo, hi) in zip(x.shape, widths)))
        return x
    for ax, (lo, hi) in enumerate(widths):
        if not (lo or hi):
            continue
        n = x.shape[ax]
        limit = {"reflect": n - 1, "replicate": None if n else -1, "circular": n}[mode]
        if lo < 0 or hi < 0 or (limit is not None and builtins.max(lo, hi) > limit):
            need = ("non-negative widths" if lo < 0 or hi < 0 else
                    {"reflect": f"widths below the axis size {n}",
                     "replicate": "a non-empty axis",
                     "circular": f"widths at most the axis size {n}"}[mode])
            raise ValueError(f"pad: {mode} padding {(lo, hi)} of axis {ax} (shape {x.shape}) "
                             f"needs {need}")
        x = getitem(x, (slice(None),) * ax + (_source_index(n, lo, hi, mode),))
    return x
