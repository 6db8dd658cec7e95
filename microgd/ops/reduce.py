"""Reductions: ``sum``, ``max``, ``min`` have backward rules; ``mean``, ``var``,
``logsumexp``, ``softmax`` and ``log_softmax`` are compositions of them and need none.

Every reduction takes ``axis=None | int | tuple`` (negative axes count from the end) and
``keepdims``. Its backward copies the gradient back along the reduced axes.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .core import Op, count, fractional, is_tensor, keepdims_shape, lift, normalize_axis, ones
from .elementwise import Exp


class Sum(Op):
    name = "sum"
    uses_values = False

    @staticmethod
    def forward(a, axis, keepdims):
        return a.sum(axis=axis, keepdims=keepdims)

    @staticmethod
    def backward(g, out, needs, a, axis, keepdims):
        # every input element contributed once: copy g back along the summed axes
        return (_broadcast(g.reshape(keepdims_shape(a.shape, axis)), a.shape),)


class Max(Op):
    name = "max"

    @staticmethod
    def forward(a, axis, keepdims):
        return a.max(axis=axis, keepdims=keepdims)

    @staticmethod
    def backward(g, out, needs, a, axis, keepdims):
        # the gradient goes to the maximal entries, split equally between ties
        kshape = keepdims_shape(a.shape, axis)
        hit = (a == out.reshape(kshape)).astype(g.dtype)
        return (g.reshape(kshape) * hit / hit.sum(axis=axis, keepdims=True),)

    @classmethod
    def explain(cls, exc, shapes, ctx):
        return ValueError(
            f"{cls.name}: cannot reduce an empty axis (shape {shapes[0]}, axis {ctx['axis']})"
        )


class Min(Max):
    name = "min"

    @staticmethod
    def forward(a, axis, keepdims):
        return a.min(axis=axis, keepdims=keepdims)


def _broadcast(x: Any, shape: tuple) -> Any:
    return x.broadcast_to(shape) if is_tensor(x) else np.broadcast_to(x, shape)


def sum(x: Any, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A001
    x = lift(x, where="sum")
    return Sum.apply(x, axis=normalize_axis(axis, x.ndim, "sum", x.shape), keepdims=keepdims)


def mean(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    x = fractional(x, "mean")
    axes = normalize_axis(axis, x.ndim, "mean", x.shape)
    n = count(x.shape, axes)
    if n == 0:
        raise ValueError(f"mean: the mean over an empty axis is undefined (shape {x.shape}, "
                         f"axis {axis})")
    return Sum.apply(x, axis=axes, keepdims=keepdims) / n


def var(x: Any, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> Any:
    """Variance: mean squared distance from the mean, divided by (n - ddof)."""
    x = fractional(x, "var")
    axes = normalize_axis(axis, x.ndim, "var", x.shape)
    n = count(x.shape, axes)
    if n - ddof <= 0:
        raise ValueError(f"var: {n} elements with ddof={ddof} leave no degrees of freedom "
                         f"(shape {x.shape}, axis {axis})")
    centred = x - Sum.apply(x, axis=axes, keepdims=True) / n
    return Sum.apply(centred * centred, axis=axes, keepdims=keepdims) / (n - ddof)


def max(x: Any, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A001
    x = lift(x, where="max")
    return Max.apply(x, axis=normalize_axis(axis, x.ndim, "max", x.shape), keepdims=keepdims)


def min(x: Any, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A001
    x = lift(x, where="min")
    return Min.apply(x, axis=normalize_axis(axis, x.ndim, "min", x.shape), keepdims=keepdims)


def logsumexp(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """log(sum(exp(x))) without overflow: subtract the max first (a constant, so the
    gradient, softmax(x), is unchanged)."""
    x = fractional(x, "logsumexp")
    axes = normalize_axis(axis, x.ndim, "logsumexp", x.shape)
    if count(x.shape, axes) == 0:
        raise ValueError(f"logsumexp: cannot reduce an empty axis (shape {x.shape})")
    m = x.data.max(axis=axes, keepdims=True)
    m = np.where(np.isfinite(m), m, 0).astype(x.dtype, copy=False)
    out = Sum.apply(Exp.apply(x - m), axis=axes, keepdims=True).log() + m
    if not keepdims:
        out = out.reshape(tuple(n for i, n in enumerate(x.shape)
                                if axes is not None and i not in axes))
    return out


def log_softmax(x: Any, axis: int = -1) -> Any:
    """x - logsumexp(x), computed as z - log(sum(exp(z))) with z = x - max(x): the shift is
    a constant (same gradient), and in float32 it keeps log_softmax([1e4, 1e4]) at
    -0.6931 rather than 1e4 - 10000.693 rounded."""
    x = fractional(x, "log_softmax")
    axes = normalize_axis(axis, x.ndim, "log_softmax", x.shape)
    if count(x.shape, axes) == 0:
        raise ValueError(f"log_softmax: cannot normalise over an empty axis (shape {x.shape})")
    m = x.data.max(axis=axes, keepdims=True)
    z = x - np.where(np.isfinite(m), m, 0).astype(x.dtype, copy=False)
    return z - Sum.apply(Exp.apply(z), axis=axes, keepdims=True).log()


def softmax(x: Any, axis: int = -1) -> Any:
    x = fractional(x, "softmax")
    axes = normalize_axis(axis, x.ndim, "softmax", x.shape)
    if count(x.shape, axes) == 0:
        raise ValueError(f"softmax: cannot normalise over an empty axis (shape {x.shape})")
    e = Exp.apply(x - x.data.max(axis=axes, keepdims=True))
    return e / Sum.apply(e, axis=axes, keepdims=True)


class Cumsum(Op):
    """Running totals along ``axis``. Input i reaches every output j >= i, so its gradient
    is the sum of g over j >= i: a cumulative sum run backwards."""

    name = "cumsum"
    uses_values = False

    @staticmethod
    def forward(a, axis):
        return np.cumsum(a, axis=axis)

    @staticmethod
    def backward(g, out, needs, a, axis):
        flip = (slice(None),) * axis + (slice(None, None, -1),)
        return (_cumsum(g[flip], axis)[flip],)


def _cumsum(x: Any, axis: int) -> Any:
    return Cumsum.apply(x, axis=axis) if is_tensor(x) else np.cumsum(x, axis=axis)


def cumsum(x: Any, axis: int) -> Any:
    """Cumulative sum along ``axis`` (required, as PyTorch's ``dim``). Bools and integers
    sum in int64, as in PyTorch."""
    x = lift(x, where="cumsum")
    axes = normalize_axis(axis, x.ndim, "cumsum", x.shape)
    if x.dtype.kind in "biu" and x.dtype != np.int64:
        x = x.astype(np.int64)
    if x.ndim == 0:
        return x  # one element: its own running total
    return Cumsum.apply(x, axis=axes[0])


# =========================================================================== fast row reductions
# numpy reduces a short, contiguous last axis one row at a time (~50 ns per row): on a
# transformer's (1024, 16) logits ``.max(axis=-1)`` took 53 µs and ``.sum(axis=-1)`` 20 µs.
def row_max(x: np.ndarray) -> np.ndarray:
    """``x.max(axis=-1, keepdims=True)``, bit for bit (a max is exact; NaN propagates).

    Rows of up to 32, from 96 of them: transposed to a contiguous copy, the rows become
    columns, and folding their halves onto each other is a few vectorised ``np.maximum``
    (16 µs on (1024, 16), 52 on attention's (32, 2, 32, 32) scores; its ~4 µs of calls
    lose to numpy's ~45 ns a row below ~96 rows, e.g. an MLP's (32, 10) logits). Longer
    rows, from 256 of them: one segmented reduction, ``np.maximum.reduceat`` (43 µs where
    numpy takes 63 on (1024, 64)). Otherwise numpy's own."""
    n = x.shape[-1] if x.ndim else 0
    if x.ndim >= 2 and 1 <= n <= 32 and x.size >= 96 * n:
        m = np.ascontiguousarray(x.swapaxes(-1, -2))
        while n > 1:
            h = n // 2
            folded = np.maximum(m[..., :h, :], m[..., h:2 * h, :])
            if n % 2:  # the odd row out joins the first
                np.maximum(folded[..., :1, :], m[..., 2 * h:n, :], out=folded[..., :1, :])
            m, n = folded, h
        return m.swapaxes(-1, -2)
    if n == 0 or x.size < 256 * n or not x.flags.c_contiguous:
        return x.max(axis=-1, keepdims=True)
    flat = x.reshape(-1)
    return np.maximum.reduceat(flat, np.arange(0, flat.size, n)).reshape(x.shape[:-1] + (1,))


def row_sum(x: np.ndarray) -> np.ndarray:
    """``x.sum(axis=-1, keepdims=True)`` of a float array as ``x @ ones``: one BLAS call
    (5x faster on many short rows; below ~256 rows making the call costs more than it
    saves)."""
    if x.ndim < 2 or x.size < 256 * x.shape[-1] or x.dtype.kind != "f" or x.dtype.itemsize < 4:
        return x.sum(axis=-1, keepdims=True)
    return (x @ ones(x.shape[-1], x.dtype)).reshape(x.shape[:-1] + (1,))
