"""Tensor: a thin wrapper over ``numpy.ndarray`` that records the graph it was computed by.

A Tensor holds its array in ``.data`` and, when it was produced by a differentiable op,
links to its inputs (``_parents``), the op (``_op``, a class in ``ops.py`` holding the
forward and the backward rule) and the op's options (``_ctx``). Operators and methods
only delegate to ``ops``; the arithmetic lives there.
"""
from __future__ import annotations

import numbers
from collections.abc import Iterator
from typing import Any

import numpy as np

from .autograd import STATE, backpropagate

_DEFAULT_FLOAT = [np.dtype(np.float32)]
_NEEDS_ONE = (True,)  # a one-input op is only recorded when its input requires grad


def set_default_dtype(dtype: Any) -> None:
    """Set the float dtype for Python floats, lists of floats, new Parameters, and for what
    integer tensors turn into in ops with fractional results (exp, mean, true division ...)."""
    dt = np.dtype(dtype)
    if dt.kind != "f":
        raise TypeError(f"set_default_dtype: expected a float dtype, got {dt}")
    _DEFAULT_FLOAT[0] = dt


def get_default_dtype() -> np.dtype:
    return _DEFAULT_FLOAT[0]


def _to_array(data: Any, dtype: Any = None, copy: bool = False) -> np.ndarray:
    """numpy arrays keep their dtype; Python floats become the default float dtype."""
    if isinstance(data, Tensor):
        data = data.data
    if isinstance(data, np.ndarray):
        arr = data
    else:
        try:
            arr = np.asarray(data)
        except (ValueError, TypeError) as exc:
            why = ("nested lists must be rectangular (every row the same length)"
                   if "inhomogeneous" in str(exc) else str(exc))
            raise ValueError(f"tensor: cannot make an array from {type(data).__name__}: {why}"
                             ) from None
        if dtype is None and arr.dtype == np.float64 and not isinstance(data, np.generic):
            arr = arr.astype(_DEFAULT_FLOAT[0])
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"tensor: expected numbers (a number, a nested list of numbers or a numeric "
            f"numpy array), got {type(data).__name__} with dtype {arr.dtype}"
        )
    if dtype is not None and arr.dtype != np.dtype(dtype):
        return arr.astype(dtype)
    return arr.copy() if copy and arr is data else arr


def _check_requires_grad(arr: np.ndarray, requires_grad: bool) -> None:
    if requires_grad and arr.dtype.kind != "f":
        raise TypeError(
            f"requires_grad=True needs a floating-point tensor, got dtype {arr.dtype}: "
            "gradients of integers are not defined (convert with dtype=np.float32)"
        )


class Tensor:
    """An n-dimensional array that can take part in backpropagation."""

    __slots__ = ("data", "grad", "requires_grad", "name", "_parents", "_op", "_ctx", "_scope",
                 "__weakref__")
    __array_ufunc__ = None  # ndarray (op) Tensor defers to Tensor's reflected operator
    __hash__ = object.__hash__  # == is elementwise, identity is the hash

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        arr = _to_array(data, dtype)
        _check_requires_grad(arr, requires_grad)
        self.data = arr
        self.grad: np.ndarray | None = None
        self.requires_grad = bool(requires_grad)
        self.name = ""
        self._parents: tuple = ()
        self._op = None
        self._ctx = None
        self._scope = STATE.scope

    # ----------------------------------------------------------------- array facts
    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def is_leaf(self) -> bool:
        return self._op is None

    @property
    def grad_fn(self) -> str | None:
        """Name of the op that produced this tensor (None for leaves)."""
        if self._op is ops.FreedGraph:
            return self._ctx["was"]
        return None if self._op is None else self._op.name

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        for i in range(len(self)):
            yield self[i]

    def item(self) -> float | int | bool:
        if self.data.size != 1:
            raise ValueError(
                f"item: only one-element tensors convert to a Python number, got shape "
                f"{self.shape}"
            )
        return self.data.item()

    def numpy(self) -> np.ndarray:
        """The underlying array (shared, not copied)."""
        return self.data

    def tolist(self) -> Any:
        return self.data.tolist()

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self.data if dtype is None else self.data.astype(dtype)

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise ValueError(
                f"the truth value of a tensor of shape {self.shape} is ambiguous; "
                "use .any() or .all() on .data"
            )
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        extra = f", dtype={self.dtype}"
        if self._op is ops.FreedGraph:
            extra += f", grad_fn={self._ctx['was']} (graph freed by backward)"
        elif self._op is not None:
            extra += f", grad_fn={self._op.name}"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    # ----------------------------------------------------------------- autograd
    def detach(self) -> Tensor:
        """The same data, cut from the graph (no gradient flows through it)."""
        return _make(self.data, (), None, None, False)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        _check_requires_grad(self.data, requires_grad)
        self.requires_grad = bool(requires_grad)
        return self

    def zero_grad(self) -> None:
        self.grad = None

    def backward(self, grad: Any = None, retain_graph: bool = False) -> None:
        """Add d(self)/d(leaf) to ``.grad`` of every leaf that requires grad.

        ``grad`` is the upstream gradient d(loss)/d(self); it may be omitted only for a
        one-element tensor (then it is 1). The graph is freed afterwards unless
        ``retain_graph=True``.
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward: this tensor does not require grad: it was computed from tensors "
                "with requires_grad=False (or inside no_grad()), so there is nothing to "
                "differentiate"
            )
        if grad is None and self.data.size == 1:  # the usual loss.backward()
            seed = np.ones(self.data.shape, dtype=self.data.dtype)
        else:
            seed = _as_grad_seed(self, grad, "backward", as_tensor=False)
        backpropagate([self], [seed], retain_graph=retain_graph)

    # the backprop protocol (see autograd.py) --------------------------------
    def _vjp(self, g: Any, create_graph: bool) -> Any:
        op = self._op
        if op is None:
            return ()
        parents = self._parents
        if len(parents) == 1:  # the common unary case, without the loops below
            parent = parents[0]
            if create_graph:  # Tensors in, so the backward pass is recorded too
                (pg,) = op.backward(g, self, _NEEDS_ONE, parent, **self._ctx)
            else:
                (pg,) = op.backward(g, self.data, _NEEDS_ONE, parent.data, **self._ctx)
            if pg is not None and pg.shape != parent.data.shape:
                pg = ops.unbroadcast(pg, parent.data.shape)
            if STATE.detect_anomaly:
                check_backward(self, g, (pg,))
            return (pg,)
        needs = [p.requires_grad for p in parents]
        if create_graph:
            grads = op.backward(g, self, needs, *parents, **self._ctx)
        else:
            grads = op.backward(g, self.data, needs, *[p.data for p in parents], **self._ctx)
            if not op.broadcasts and not STATE.detect_anomaly:
                return grads  # already fresh, per-input arrays of the right shapes
        # each parent gets a gradient of its own shape (undo broadcasting), and never an
        # array another parent also got: leaves accumulate in place (think of x + y -> g, g)
        fitted, previous = [], None
        for parent, pg in zip(parents, grads):
            if pg is not None:
                shape = parent.data.shape
                if pg.shape != shape:
                    pg = ops.unbroadcast(pg, shape)
                elif pg is previous and not create_graph:
                    pg = pg.copy()
            fitted.append(pg)
            previous = pg
        if STATE.detect_anomaly:
            check_backward(self, g, fitted)
        return fitted

    def _accumulate(self, g: Any) -> None:
        if self._op is not None:
            if self._op is ops.FreedGraph:
                ops.FreedGraph.backward(g, None, ())
            return  # only leaves keep .grad (as in PyTorch)
        if type(g) is not np.ndarray:
            g = np.array(g.data if isinstance(g, Tensor) else g)
        elif g.base is not None and not g.flags.writeable:  # a broadcast view: copy it
            g = g.copy()
        if g.dtype is not self.data.dtype and g.dtype != self.data.dtype:
            g = g.astype(self.data.dtype)
        if self.grad is None:
            self.grad = g
        else:
            self.grad += g

    def _release(self) -> None:
        if self._op is not None:
            self._parents = ()
            self._ctx = {"was": self._op.name}  # for repr and messages
            self._op = ops.FreedGraph

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

    def __pos__(self) -> Tensor:
        return self

    def __getitem__(self, index: Any) -> Tensor:
        return ops.getitem(self, index)

    # comparisons are not differentiable: they return constant boolean tensors
    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return _make(self.data == _data(other), (), None, None, False)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return _make(self.data != _data(other), (), None, None, False)

    def __lt__(self, other: Any) -> Tensor:
        return _make(self.data < _data(other), (), None, None, False)

    def __le__(self, other: Any) -> Tensor:
        return _make(self.data <= _data(other), (), None, None, False)

    def __gt__(self, other: Any) -> Tensor:
        return _make(self.data > _data(other), (), None, None, False)

    def __ge__(self, other: Any) -> Tensor:
        return _make(self.data >= _data(other), (), None, None, False)

    def argmax(self, axis: int | None = None) -> Tensor:
        return _make(np.asarray(self.data.argmax(axis=axis)), (), None, None, False)

    def argmin(self, axis: int | None = None) -> Tensor:
        return _make(np.asarray(self.data.argmin(axis=axis)), (), None, None, False)

    # ----------------------------------------------------------------- methods (see ops.py)
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


def _data(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else x


def _make(data: np.ndarray, parents: tuple, op: Any, ctx: Any, requires_grad: bool) -> Tensor:
    """Fast constructor for op results: no conversion, no checks (ops did them)."""
    t = object.__new__(Tensor)
    t.data = data
    t.grad = None
    t.requires_grad = requires_grad
    t.name = ""
    t._parents = parents
    t._op = op
    t._ctx = ctx
    t._scope = STATE.scope
    return t


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """A new Tensor holding a copy of ``data`` (``Tensor(array)`` shares the array)."""
    arr = _to_array(data, dtype, copy=True)
    _check_requires_grad(arr, requires_grad)
    t = _make(arr, (), None, None, bool(requires_grad))
    return t


def _as_grad_seed(out: Tensor, grad: Any, where: str, as_tensor: bool) -> Any:
    """The upstream gradient for ``out``: ones for a one-element output, else checked."""
    if grad is None:
        if out.data.size != 1:
            raise RuntimeError(
                f"{where}: the output has shape {out.shape}, so its gradient is not implied; "
                f"call it on a one-element tensor (e.g. loss.sum() or loss.mean()) or pass the "
                f"upstream gradient explicitly, e.g. {where}(np.ones({out.shape}))"
            )
        seed = np.ones(out.data.shape, dtype=out.data.dtype)
    else:
        if isinstance(grad, Tensor) and as_tensor:
            if grad.shape != out.shape:
                raise ValueError(f"{where}: gradient shape {grad.shape} does not match the "
                                 f"output shape {out.shape}")
            return grad
        if isinstance(grad, numbers.Number) and out.data.size == 1:
            seed = np.full(out.shape, grad, dtype=out.dtype)
        else:
            seed = np.array(_data(grad), dtype=out.dtype)  # a copy the walk may own
            if seed.shape != out.shape:
                raise ValueError(f"{where}: gradient shape {seed.shape} does not match the "
                                 f"output shape {out.shape}")
    return Tensor(seed) if as_tensor else seed


from . import ops  # noqa: E402  (ops needs Tensor defined first)
from .anomaly import check_backward  # noqa: E402
