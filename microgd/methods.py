"""Tensor's operators and methods: each is one line that hands over to ``ops/``.

``x + y`` is ``ops.add(x, y)``, ``x.exp()`` is ``ops.exp(x)``: the arithmetic, and each
op's backward, live in ``ops/`` (one file per family). ``Tensor`` (tensor.py) inherits
these, so that file can stay about what a Tensor *is*: an array in a graph.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from . import ops
from .ops.core import TensorBase
from .ops.inplace import inplace, overwrite

if TYPE_CHECKING:
    from .tensor import Tensor

_T = TypeVar("_T")


class TensorMethods(TensorBase):
    """The operator and method half of ``Tensor``."""

    __slots__ = ()
    data: np.ndarray

    # ----------------------------------------------------------------- operators
    def __add__(self, other: Any) -> Tensor:
        return ops.add(self, other)

    def __radd__(self, other: Any) -> Tensor:
        return ops.add(other, self)

    def __sub__(self, other: Any) -> Tensor:
        return ops.sub(self, other)

    def __rsub__(self, other: Any) -> Tensor:
        return ops.sub(other, self)

    def __mul__(self, other: Any) -> Tensor:
        return ops.mul(self, other)

    def __rmul__(self, other: Any) -> Tensor:
        return ops.mul(other, self)

    def __truediv__(self, other: Any) -> Tensor:
        return ops.div(self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return ops.div(other, self)

    def __pow__(self, other: Any) -> Tensor:
        return ops.pow(self, other)

    def __rpow__(self, other: Any) -> Tensor:
        return ops.pow(other, self)

    def __matmul__(self, other: Any) -> Tensor:
        return ops.matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return ops.matmul(other, self)

    def __neg__(self) -> Tensor:
        return ops.neg(self)

    def __pos__(self: _T) -> _T:
        return self

    def __getitem__(self, index: Any) -> Tensor:
        return ops.getitem(self, index)

    # ----------------------------------------------------------------- methods (see ops/)
    def matmul(self, other: Any) -> Tensor:
        return ops.matmul(self, other)

    def exp(self) -> Tensor:
        return ops.exp(self)

    def log(self) -> Tensor:
        return ops.log(self)

    def sqrt(self) -> Tensor:
        return ops.sqrt(self)

    def abs(self) -> Tensor:
        return ops.abs(self)

    def pow(self, p: Any) -> Tensor:
        return ops.pow(self, p)

    def relu(self) -> Tensor:
        return ops.relu(self)

    def softplus(self) -> Tensor:
        return ops.softplus(self)

    def tanh(self) -> Tensor:
        return ops.tanh(self)

    def sigmoid(self) -> Tensor:
        return ops.sigmoid(self)

    def clip(self, lo: Any = None, hi: Any = None) -> Tensor:
        return ops.clip(self, lo, hi)

    def astype(self, dtype: Any) -> Tensor:
        return ops.astype(self, dtype)

    def sum(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return ops.sum(self, axis, keepdims)

    def mean(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return ops.mean(self, axis, keepdims)

    def max(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return ops.max(self, axis, keepdims)

    def min(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return ops.min(self, axis, keepdims)

    def var(self, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> Tensor:
        return ops.var(self, axis, ddof, keepdims)

    def softmax(self, axis: int = -1) -> Tensor:
        return ops.softmax(self, axis)

    def log_softmax(self, axis: int = -1) -> Tensor:
        return ops.log_softmax(self, axis)

    def logsumexp(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return ops.logsumexp(self, axis, keepdims)

    def reshape(self, *shape: Any) -> Tensor:
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return ops.reshape(self, shape)

    def transpose(self, *axes: Any) -> Tensor:
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return ops.transpose(self, axes or None)

    def swapaxes(self, a: int, b: int) -> Tensor:
        return ops.swapaxes(self, a, b)

    @property
    def T(self) -> Tensor:
        return ops.transpose(self, None)

    def flatten(self, start_dim: int = 0) -> Tensor:
        return ops.flatten(self, start_dim)

    def squeeze(self, axis: Any = None) -> Tensor:
        return ops.squeeze(self, axis)

    def unsqueeze(self, axis: int) -> Tensor:
        return ops.unsqueeze(self, axis)

    def broadcast_to(self, shape: Any) -> Tensor:
        return ops.broadcast_to(self, tuple(shape))

    # ----------------------------------------------------------------- sequence ops (ops/index.py)
    def masked_fill(self, mask: Any, value: Any) -> Tensor:
        return ops.masked_fill(self, mask, value)

    def gather(self, axis: int, index: Any) -> Tensor:
        return ops.gather(self, axis, index)

    def tril(self, diagonal: int = 0) -> Tensor:
        return ops.tril(self, diagonal)

    def triu(self, diagonal: int = 0) -> Tensor:
        return ops.triu(self, diagonal)

    # ----------------------------------------------------------------- more math (ops/unary.py)
    def sin(self) -> Tensor:
        return ops.sin(self)

    def cos(self) -> Tensor:
        return ops.cos(self)

    def log1p(self) -> Tensor:
        return ops.log1p(self)

    def expm1(self) -> Tensor:
        return ops.expm1(self)

    def erf(self) -> Tensor:
        return ops.erf(self)

    def cumsum(self, axis: int) -> Tensor:
        return ops.cumsum(self, axis)

    # ----------------------------------------------------------------- in place
    def __iadd__(self, other: Any) -> Tensor:
        return inplace(self, "add_", ops.add, other)

    def __isub__(self, other: Any) -> Tensor:
        return inplace(self, "sub_", ops.sub, other)

    def __imul__(self, other: Any) -> Tensor:
        return inplace(self, "mul_", ops.mul, other)

    def __itruediv__(self, other: Any) -> Tensor:
        return inplace(self, "div_", ops.div, other)

    def add_(self, other: Any, alpha: float = 1) -> Tensor:
        if alpha != 1:
            other = ops.mul(ops.lift(other, self, "add_"), alpha)
        return inplace(self, "add_", ops.add, other)

    def sub_(self, other: Any, alpha: float = 1) -> Tensor:
        if alpha != 1:
            other = ops.mul(ops.lift(other, self, "sub_"), alpha)
        return inplace(self, "sub_", ops.sub, other)

    def mul_(self, other: Any) -> Tensor:
        return inplace(self, "mul_", ops.mul, other)

    def div_(self, other: Any) -> Tensor:
        return inplace(self, "div_", ops.div, other)

    def copy_(self, src: Any) -> Tensor:
        return inplace(self, "copy_", overwrite, src)

    def fill_(self, value: Any) -> Tensor:
        return inplace(self, "fill_", overwrite, value)

    def zero_(self) -> Tensor:
        return inplace(self, "zero_", overwrite, 0)

    # ----------------------------------------------------------------- comparisons (no gradient)
    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return _compare(self, other, np.equal)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return _compare(self, other, np.not_equal)

    def __lt__(self, other: Any) -> Tensor:
        return _compare(self, other, np.less)

    def __le__(self, other: Any) -> Tensor:
        return _compare(self, other, np.less_equal)

    def __gt__(self, other: Any) -> Tensor:
        return _compare(self, other, np.greater)

    def __ge__(self, other: Any) -> Tensor:
        return _compare(self, other, np.greater_equal)

    def argmax(self, axis: int | None = None, keepdims: bool = False) -> Tensor:
        """Index of the largest entry (along ``axis``): integers, no gradient."""
        return _arg(self, np.argmax, "argmax", axis, keepdims)

    def argmin(self, axis: int | None = None, keepdims: bool = False) -> Tensor:
        return _arg(self, np.argmin, "argmin", axis, keepdims)


def _compare(t: Any, other: Any, fn: Any) -> Any:
    """Comparisons are not differentiable: they return constant boolean tensors."""
    return t._make(fn(t.data, other.data if isinstance(other, TensorBase) else other),
                   (), None, None, False)


def _arg(t: Any, fn: Any, name: str, axis: Any, keepdims: bool) -> Any:
    if axis is not None:
        axes = ops.normalize_axis(axis, t.ndim, name, t.shape)
        axis = axes[0] if axes else None
    if t.size == 0:
        raise ValueError(f"{name}: cannot take the {name} of an empty tensor (shape {t.shape})")
    return t._make(np.asarray(fn(t.data, axis=axis, keepdims=keepdims)), (), None, None, False)
