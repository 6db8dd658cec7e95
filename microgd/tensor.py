"""Tensor: a thin wrapper over ``numpy.ndarray`` that records the graph it was computed by.

A Tensor holds its array in ``.data`` and, when it was produced by a differentiable op,
links to its inputs (``_parents``), the op (``_op``, a class in ``ops/`` holding the
forward and the backward rule) and the op's options (``_ctx``). Operators and methods
only delegate to ``ops``; the arithmetic lives there. This file is the one place that
wraps arrays in Tensors (``_make``), and it speaks the walk's ``Node`` protocol
(``autograd.py``): ``_parents``, ``requires_grad``, ``_vjp``, ``_accumulate``, ``_release``.
"""
from __future__ import annotations

import numbers
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from . import ops
from .anomaly import check_backward
from .autograd import backpropagate, copy_node, restore_node
from .hooks import HOOKS, RemovableHandle, add_hook, run_hooks
from .hooks import retain as _retain
from .methods import TensorMethods
from .ops.core import array_of, needs_grad
from .ops.inplace import EDITS, check_saved, refresh
from .state import STATE, get_default_dtype, next_seq, set_default_dtype

__all__ = ["Tensor", "tensor", "as_tensor", "get_default_dtype", "set_default_dtype"]

_NEEDS_ONE = (True,)  # a one-input op is only recorded when its input requires grad
_FREED: dict = {}     # the _ctx of a node whose saved values backward() released


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
            arr = arr.astype(get_default_dtype())
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


class Tensor(TensorMethods):
    """An n-dimensional array that can take part in backpropagation."""

    __slots__ = ("data", "grad", "requires_grad", "name", "_parents", "_op", "_ctx", "_scope",
                 "_seq", "_epoch", "_before", "_view", "__weakref__")
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
        self._op: Any = None
        self._ctx: Any = None
        self._scope = STATE.scope
        self._seq = next_seq()
        self._view = None  # a view's link to the tensor it shows (ops/views.py)
        if EDITS[0]:
            self._epoch = EDITS[0]

    def __setstate__(self, state: Any) -> None:
        """Unpickled or deep-copied: numbers kept in order (``autograd.restore_node``)."""
        self._view = None  # (a pickle from before views were tracked has none)
        restore_node(self, state)

    __copy__ = copy_node

    @staticmethod
    def _make(data: np.ndarray, parents: tuple, op: Any, ctx: Any, requires_grad: bool
              ) -> Tensor:
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
        t._seq = next_seq()  # made after its parents (the walk's order: autograd.py)
        t._view = None
        if EDITS[0]:  # only once something was changed in place (see ops/inplace.py)
            t._epoch = EDITS[0]
        return t

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
    def _freed(self) -> bool:
        """True once backward() released what another backward through this node needs."""
        return self._ctx is _FREED

    @property
    def grad_fn(self) -> str | None:
        """Name of the op that produced this tensor (None for leaves)."""
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
        """The underlying array (shared, not copied, as in PyTorch)."""
        return self.data

    def tolist(self) -> Any:
        return self.data.tolist()

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        """numpy's protocol: ``np.array(t)`` (copy=True) copies, ``np.asarray(t)`` shares."""
        if copy is False and dtype is not None and np.dtype(dtype) != self.data.dtype:
            raise ValueError(f"__array__: converting dtype {self.data.dtype} to {dtype} "
                             "needs a copy, but copy=False was asked for")
        if copy:
            return np.array(self.data, dtype=dtype, copy=True)
        return self.data if dtype is None else self.data.astype(dtype, copy=False)

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
        if self._op is not None:
            extra += f", grad_fn={self._op.name}"
            if self._ctx is _FREED:
                extra += " (graph freed by backward)"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    # ----------------------------------------------------------------- autograd
    def detach(self) -> Tensor:
        """The same data, cut from the graph (no gradient flows through it)."""
        return Tensor._make(self.data, (), None, None, False)

    def clone(self) -> Tensor:
        """A copy of the data that stays in the graph (gradient flows back unchanged)."""
        if self._view is not None:
            refresh(self)
        return self * 1 if self.requires_grad else Tensor._make(self.data.copy(), (), None,
                                                                   None, False)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        _check_requires_grad(self.data, requires_grad)
        self.requires_grad = bool(requires_grad)
        return self

    def zero_grad(self) -> None:
        self.grad = None

    def _refresh(self) -> None:
        """A view whose tensor changed in place since: its node rebuilt (ops/inplace.py)."""
        refresh(self)

    def backward(self, grad: Any = None, retain_graph: bool = False) -> None:
        """Add d(self)/d(leaf) to ``.grad`` of every leaf that requires grad.

        ``grad`` is the upstream gradient d(loss)/d(self); it may be omitted only for a
        one-element tensor (then it is 1). The graph's saved values are freed afterwards
        unless ``retain_graph=True``; its structure stays, so it can still be drawn.
        """
        if self._view is not None:
            refresh(self)
        if not self.requires_grad:
            raise RuntimeError(
                "backward: this tensor does not require grad: it was computed from tensors "
                "with requires_grad=False (or inside no_grad()), so there is nothing to "
                "differentiate"
            )
        if grad is None and self.data.size == 1:  # the usual loss.backward()
            data = self.data  # (np.array of a number: 4x cheaper than np.ones for a 0-d seed)
            seed = np.array(1, data.dtype) if data.ndim == 0 else np.ones(data.shape, data.dtype)
        else:
            seed = self._grad_seed(grad, "backward", as_tensor=False)
        backpropagate([self], [seed], retain_graph=retain_graph)

    def _grad_seed(self, grad: Any, where: str, as_tensor: bool) -> Any:
        """The upstream gradient for this output: ones for a one-element output, else
        checked against its shape (a copy the walk may own)."""
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"{where}: the output has shape {self.shape}, so its gradient is not "
                    f"implied; call it on a one-element tensor (e.g. loss.sum() or "
                    f"loss.mean()) or pass the upstream gradient explicitly, e.g. "
                    f"{where}(np.ones({self.shape}))"
                )
            seed = np.ones(self.data.shape, dtype=self.data.dtype)
        elif isinstance(grad, Tensor) and as_tensor:
            if grad.shape != self.shape:
                raise ValueError(f"{where}: gradient shape {grad.shape} does not match the "
                                 f"output shape {self.shape}")
            return grad
        elif isinstance(grad, numbers.Number) and self.data.size == 1:
            seed = np.full(self.shape, grad, dtype=self.dtype)
        else:
            seed = np.array(grad.data if isinstance(grad, Tensor) else grad, dtype=self.dtype)
            if seed.shape != self.shape:
                raise ValueError(f"{where}: gradient shape {seed.shape} does not match the "
                                 f"output shape {self.shape}")
        return Tensor(seed) if as_tensor else seed

    # hooks ------------------------------------------------------------------
    def register_hook(self, hook: Callable[[Tensor], Any]) -> RemovableHandle:
        """Call ``hook(grad)`` when this tensor's gradient has been computed (summed over
        all its uses), before it flows on; a returned Tensor or array replaces it."""
        if self._view is not None:
            refresh(self)  # a view: on its tensor's latest self, where the gradient will be
        if not self.requires_grad:
            raise RuntimeError("register_hook: this tensor does not require grad, so no "
                               "gradient will ever reach it")
        return RemovableHandle(add_hook(self, hook), hook)

    def retain_grad(self) -> None:
        """Keep this non-leaf's gradient in ``.grad`` after backward (leaves always do)."""
        if self._view is not None:
            refresh(self)
        if not self.requires_grad:
            raise RuntimeError("retain_grad: this tensor does not require grad")
        if self._op is not None and _retain not in HOOKS.get(id(self), ()):
            self.register_hook(_retain)

    @property
    def retains_grad(self) -> bool:
        return _retain in HOOKS.get(id(self), ())

    def _run_hooks(self, g: Any) -> Any:
        """The walk calls this with the finished gradient when the tensor has hooks."""
        return run_hooks(self, g, Tensor)

    def _keep_grad(self, g: Any) -> None:
        arr = np.array(g.data if isinstance(g, Tensor) else g, dtype=self.dtype)
        self.grad = arr if self.grad is None else self.grad + arr

    # the backprop protocol (see autograd.py) --------------------------------
    def _vjp(self, g: Any, create_graph: bool) -> Any:
        op = self._op
        if op is None:
            return ()
        ctx = self._ctx
        if ctx is _FREED:
            raise RuntimeError(
                "backward: trying to backpropagate through a graph a second time, but its "
                "saved values were freed by the first backward(); pass retain_graph=True to "
                "the first call if you need to go through it twice"
            )
        if EDITS[0] and op.uses_values and EDITS[0] > getattr(self, "_epoch", 0):
            check_saved(self)
        given, anomaly = g, STATE.detect_anomaly
        if anomaly and type(g) is np.ndarray:
            g = g.copy()  # a VJP may overwrite the g it owns; the check below reads it
        parents = self._parents
        if len(parents) == 1:  # the common unary case, without the loops below
            parent = parents[0]
            if create_graph:  # Tensors in, so the backward pass is recorded too
                (pg,) = op.backward(g, self, _NEEDS_ONE, parent, **ctx)
            else:
                (pg,) = op.backward(g, self.data, _NEEDS_ONE, parent.data, **ctx)
            if pg is not None and pg.shape != parent.data.shape:
                pg = ops.unbroadcast(pg, parent.data.shape)
            if anomaly:
                check_backward(self, given, (pg,))
            return (pg,)
        needs = list(map(needs_grad, parents))
        if create_graph:
            grads = op.backward(g, self, needs, *parents, **ctx)
        else:
            grads = op.backward(g, self.data, needs, *map(array_of, parents), **ctx)
            if not op.broadcasts and not anomaly:
                return grads  # already fresh, per-input arrays of the right shapes
        # each parent gets a gradient of its own shape (undo broadcasting), and never an
        # array another parent also got: leaves accumulate in place (think of x + y -> g, g)
        fitted: list[Any] = []  # arrays, Tensors (create_graph) or None
        previous: Any = None
        for parent, pg in zip(parents, grads):
            if pg is not None:
                shape = parent.data.shape
                if pg.shape != shape:
                    pg = ops.unbroadcast(pg, shape)
                elif pg is previous and not create_graph:
                    pg = pg.copy()
            fitted.append(pg)
            previous = pg
        if anomaly:
            check_backward(self, given, fitted)
        return fitted

    def _accumulate(self, g: Any) -> None:
        if self._op is not None:
            return  # only leaves keep .grad (as in PyTorch; retain_grad() is a hook)
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
        """Free what only a second backward would need; keep the structure (op, parents,
        shapes) so the graph can still be drawn, as PyTorch keeps its grad_fn chain."""
        op = self._op  # (an op that saved nothing, such as a view's, can run again)
        if op is not None and (op.uses_values or op.saves):
            self._ctx = _FREED


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """A new Tensor holding a copy of ``data`` (``Tensor(array)`` shares the array)."""
    arr = _to_array(data, dtype, copy=True)
    _check_requires_grad(arr, requires_grad)
    return Tensor._make(arr, (), None, None, bool(requires_grad))


def as_tensor(data: Any, dtype: Any = None) -> Tensor:
    """``data`` as a Tensor outside any graph, sharing its memory when it is already an
    array of that dtype (``torch.as_tensor``): the way to make a constant."""
    if isinstance(data, Tensor) and (dtype is None or np.dtype(dtype) == data.dtype):
        return data
    return Tensor._make(_to_array(data, dtype), (), None, None, False)
