"""Shape ops: views (reshape, transpose, broadcast), indexing, concatenation.

None of them changes a value, only where it sits; so each backward puts the gradient back
where its input's value came from (the inverse reshape, the inverse permutation, a
scatter for indexing, a slice for concatenation).
"""
from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import numpy as np

from .core import AxisError, Op, ShapeError, common_dtype, is_tensor, lift, normalize_axis
from .views import View


class Reshape(View):
    name = "reshape"
    uses_values = False

    @staticmethod
    def forward(a, shape):
        return a.reshape(shape)

    @staticmethod
    def backward(g, out, needs, a, shape):
        return (g.reshape(a.shape),)

    @classmethod
    def explain(cls, exc, shapes, ctx):
        size = int(np.prod(shapes[0]))
        return ShapeError(
            f"reshape: cannot reshape a tensor of shape {shapes[0]} ({size} elements) "
            f"into shape {ctx['shape']}"
        )


class Transpose(View):
    """Permute the axes; ``axes`` is a permutation of non-negative axes (None reverses)."""

    name = "transpose"
    uses_values = False

    @staticmethod
    def forward(a, axes):
        return a.transpose(axes)

    @staticmethod
    def backward(g, out, needs, a, axes):
        if axes is None:
            return (g.transpose(),)
        return (g.transpose(tuple(np.argsort(axes))),)  # the inverse permutation


class BroadcastTo(Op):
    name = "broadcast_to"
    uses_values = False

    @staticmethod
    def forward(a, shape):
        return np.broadcast_to(a, shape)

    @staticmethod
    def backward(g, out, needs, a, shape):
        return (g,)  # unbroadcast sums the copies

    @classmethod
    def explain(cls, exc, shapes, ctx):
        return ShapeError(f"broadcast_to: cannot broadcast shape {shapes[0]} to {ctx['shape']}")


def reshape(x: Any, shape: Any) -> Any:
    x = lift(x, where="reshape")
    shape = tuple(int(n) for n in shape)
    if shape == x.shape:
        return x
    return Reshape.apply(x, shape=shape)


def transpose(x: Any, axes: Any = None) -> Any:
    x = lift(x, where="transpose")
    if axes is not None:
        raw = tuple(int(a) for a in axes)
        if len(raw) != x.ndim or builtins.any(not -x.ndim <= a < x.ndim for a in raw):
            raise ValueError(f"transpose: axes {raw} are not a permutation of the {x.ndim} "
                             f"axes of shape {x.shape}")
        axes = tuple(a % x.ndim for a in raw)  # normalised: the backward inverts this
        if sorted(axes) != list(range(x.ndim)):
            raise ValueError(f"transpose: axes {raw} are not a permutation of the {x.ndim} "
                             f"axes of shape {x.shape}")
    return Transpose.apply(x, axes=axes)


def swapaxes(x: Any, a: int, b: int) -> Any:
    x = lift(x, where="swapaxes")
    perm = list(range(x.ndim))
    a = normalize_axis(a, x.ndim, "swapaxes", x.shape)[0]
    b = normalize_axis(b, x.ndim, "swapaxes", x.shape)[0]
    perm[a], perm[b] = perm[b], perm[a]
    return Transpose.apply(x, axes=tuple(perm))


def broadcast_to(x: Any, shape: tuple) -> Any:
    x = lift(x, where="broadcast_to")
    shape = tuple(shape)
    if shape == x.shape:
        return x
    return BroadcastTo.apply(x, shape=shape)


def flatten(x: Any, start_dim: int = 0) -> Any:
    """Merge the axes from ``start_dim`` on into one."""
    x = lift(x, where="flatten")
    if x.ndim == 0:
        return reshape(x, (1,))
    start = normalize_axis(start_dim, x.ndim, "flatten", x.shape)[0]
    return reshape(x, x.shape[:start] + (-1,))


def squeeze(x: Any, axis: Any = None) -> Any:
    """Drop axes of size 1 (all of them, or those named; a named axis whose size is not 1
    is left as it is, as in PyTorch)."""
    x = lift(x, where="squeeze")
    axes = normalize_axis(axis, x.ndim, "squeeze", x.shape)
    if axes is None:
        axes = tuple(i for i, n in enumerate(x.shape) if n == 1)
    axes = tuple(a for a in axes if x.shape[a] == 1)
    return reshape(x, tuple(n for i, n in enumerate(x.shape) if i not in axes))


def unsqueeze(x: Any, axis: int) -> Any:
    x = lift(x, where="unsqueeze")
    n = x.ndim + 1  # the new axis may go anywhere from -n to n - 1
    if isinstance(axis, (int, np.integer)) and not -n <= axis < n:
        raise AxisError(f"unsqueeze: axis {axis} is out of range for a tensor with {x.ndim} "
                        f"dimensions (shape {x.shape}): the new axis goes at -{n}..{n - 1}")
    ax = normalize_axis(axis, n, "unsqueeze", x.shape)[0]
    return reshape(x, x.shape[:ax] + (1,) + x.shape[ax:])


# =========================================================================== indexing
def _is_basic_index(index: Any) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return builtins.all(
        isinstance(p, (int, np.integer, slice)) or p is None or p is Ellipsis for p in parts
    )


class GetItem(View):
    """``a[index]``: basic (ints, slices) and advanced (integer arrays, boolean masks)."""

    name = "getitem"
    uses_values = False

    @staticmethod
    def forward(a, index):
        out = a[index]
        if not isinstance(out, np.ndarray):  # numpy gives one element as a copy (a scalar);
            out = a[(*index, ...) if isinstance(index, tuple) else (index, ...)]  # a view,
        return out                           # as PyTorch: t[1].mul_(2) changes t

    @staticmethod
    def backward(g, out, needs, a, index):
        return (_scatter(g, index, a.shape),)

    @classmethod
    def explain(cls, exc, shapes, ctx):
        return IndexError(f"getitem: {exc} (tensor shape {shapes[0]})")


class ScatterAdd(Op):
    """Zeros of ``shape`` with ``g`` added at ``index`` (repeated indices add up): the VJP
    of indexing, and indexing is in turn its VJP."""

    name = "scatter_add"
    uses_values = False

    @staticmethod
    def forward(g, index, shape):
        z = np.zeros(shape, dtype=g.dtype)
        if _is_basic_index(index):
            z[index] = g  # a view: no position is hit twice
        else:
            np.add.at(z, index, g)
        return z

    @staticmethod
    def backward(g, out, needs, a, index, shape):
        return (g[index],)


def _scatter(g: Any, index: Any, shape: tuple) -> Any:
    if is_tensor(g):
        return ScatterAdd.apply(g, index=index, shape=shape)
    return ScatterAdd.forward(g, index, shape)


def getitem(x: Any, index: Any) -> Any:
    x = lift(x, where="getitem")
    return GetItem.apply(x, index=_plain_index(index))


def _plain_index(index: Any) -> Any:
    """Tensors and lists inside an index become arrays (numpy's advanced indexing)."""
    if isinstance(index, tuple):
        return tuple(_plain_index_part(p) for p in index)
    return _plain_index_part(index)


def _plain_index_part(p: Any) -> Any:
    if is_tensor(p):
        p = p.data
    elif isinstance(p, list):
        p = np.asarray(p)
    if isinstance(p, np.ndarray) and p.dtype.kind not in "biu":
        raise IndexError(f"getitem: index arrays must be integers or booleans, got {p.dtype}")
    return p


# =========================================================================== joining
class Concatenate(Op):
    name = "concatenate"
    uses_values = False

    @staticmethod
    def forward(*arrays, axis):
        return np.concatenate(arrays, axis=axis)

    @staticmethod
    def backward(g, out, needs, *inputs, axis):
        grads, start = [], 0
        for x, need in zip(inputs, needs):
            stop = start + x.shape[axis]
            grads.append(g[(slice(None),) * axis + (slice(start, stop),)] if need else None)
            start = stop
        return grads

    @classmethod
    def explain(cls, exc, shapes, ctx):
        return ShapeError(
            f"concatenate: shapes {shapes} along axis {ctx['axis']}: all dimensions except "
            "that axis must match"
        )


def _tensors(tensors: Sequence[Any], where: str) -> list:
    tensors = list(tensors)
    if not tensors:
        raise ValueError(f"{where}: needs at least one tensor")
    like = next((t for t in tensors if is_tensor(t)), None)
    tensors = [lift(t, like, where) for t in tensors]
    common = common_dtype(*[t.dtype for t in tensors])  # PyTorch's promotion
    return [t if t.dtype == common else t.astype(common) for t in tensors]


def concatenate(tensors: Sequence[Any], axis: int = 0) -> Any:
    tensors = _tensors(tensors, "concatenate")
    first = tensors[0]
    if first.ndim == 0:
        raise ValueError("concatenate: zero-dimensional tensors cannot be concatenated")
    for t in tensors[1:]:
        if t.ndim != first.ndim:
            raise ShapeError(f"concatenate: shapes {[t.shape for t in tensors]}: all tensors "
                             "need the same number of dimensions")
    ax = normalize_axis(axis, first.ndim, "concatenate", first.shape)[0]
    return Concatenate.apply(*tensors, axis=ax)


def stack(tensors: Sequence[Any], axis: int = 0) -> Any:
    tensors = _tensors(tensors, "stack")
    shapes = {t.shape for t in tensors}
    if len(shapes) > 1:
        raise ShapeError(f"stack: all tensors need the same shape, got "
                         f"{[t.shape for t in tensors]}")
    ax = normalize_axis(axis, tensors[0].ndim + 1, "stack", tensors[0].shape)[0]
    return Concatenate.apply(*[unsqueeze(t, ax) for t in tensors], axis=ax)



# =========================================================================== splitting
def split(x: Any, split_size_or_sections: Any, axis: int = 0) -> tuple:
    """Pieces of ``x`` along ``axis``: of ``split_size`` each (the last may be smaller) or of
    the listed sizes. Each piece is a slice, so its gradient lands back in place."""
    x = lift(x, where="split")
    if x.ndim == 0:
        raise ValueError("split: a 0-d tensor has no axis to split")
    ax = normalize_axis(axis, x.ndim, "split", x.shape)[0]
    n = x.shape[ax]
    if isinstance(split_size_or_sections, (int, np.integer)):
        size = int(split_size_or_sections)
        if size <= 0:
            raise ValueError(f"split: split_size must be a positive int, got {size}")
        sizes = [size] * (n // size) + ([n % size] if n % size or n == 0 else [])
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if builtins.any(s < 0 for s in sizes) or builtins.sum(sizes) != n:
            raise ValueError(f"split: sections {sizes} must be non-negative and sum to the "
                             f"size {n} of axis {ax} (shape {x.shape})")
    pieces, start = [], 0
    for s in sizes:
        pieces.append(getitem(x, (slice(None),) * ax + (slice(start, start + s),)))
        start += s
    return tuple(pieces)


def chunk(x: Any, chunks: int, axis: int = 0) -> tuple:
    """``chunks`` nearly equal pieces along ``axis`` (PyTorch's rule: pieces of
    ceil(n / chunks), so there may be fewer than ``chunks``)."""
    if not isinstance(chunks, (int, np.integer)) or chunks <= 0:
        raise ValueError(f"chunk: chunks must be a positive int, got {chunks!r}")
    x = lift(x, where="chunk")
    if x.ndim == 0:
        raise ValueError("chunk: a 0-d tensor has no axis to split")
    ax = normalize_axis(axis, x.ndim, "chunk", x.shape)[0]
    n = x.shape[ax]
    return split(x, builtins.max(-(-n // int(chunks)), 1), ax)
