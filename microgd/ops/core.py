"""What every op shares: the ``Op`` base class, ``unbroadcast``, constants, axis checks.

An op is a small class: ``forward`` computes the output from numpy arrays, ``backward``
is its vector-Jacobian product (VJP) — given ``g`` = d(loss)/d(out) it returns
d(loss)/d(input) for each input. ``needs[i]`` says whether input i wants a gradient, so
expensive ones (a matmul) are skipped when nobody asked.

Backward rules use only operations that numpy arrays and Tensors both have (``*``, ``@``,
``.sum``, ``.reshape``, ...). The walk hands them arrays normally (fast, nothing recorded)
and Tensors under ``create_graph=True``, when the very same lines are recorded as a graph:
that is how gradients of gradients (Hessians) come for free, from one set of rules.

This package never imports ``Tensor``: an op's result is made by the constructor of the
Tensors it was given (``Tensor._make``), so the floors are state → anomaly → ops → tensor.
"""
from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Sequence
from operator import attrgetter
from typing import Any, overload

import numpy as np

from ..anomaly import check_forward
from ..state import STATE, get_default_dtype


class ShapeError(ValueError, RuntimeError):
    """Operands whose shapes do not fit together. A ``ValueError`` and, as PyTorch raises
    it, a ``RuntimeError``: ``except`` clauses written for either library catch it."""


class AxisError(ValueError, IndexError):
    """An axis out of range: a ``ValueError`` and, as in PyTorch (and numpy), an
    ``IndexError``."""


# Each Tensor's ``.data``, as a C-level function for ``map``: called on every op's inputs
# forward and backward, where a list comprehension's own frame cost more than the lookups.
array_of = attrgetter("data")
needs_grad = attrgetter("requires_grad")


# =========================================================================== Op
class Op:
    """One differentiable operation: ``forward`` on arrays, ``backward`` = its VJP.

    An op with ``saves = True`` returns ``(out, {name: array})`` from ``forward``; the
    arrays reach ``backward`` as keyword arguments (intermediate results worth keeping).
    ``uses_values = False`` says backward never reads the input or output values (add,
    reshape, ...), so changing them in place afterwards is harmless; ``reads`` says more
    precisely which ones it reads (see ``inplace.check_saved``).
    """

    name = "op"
    saves = False
    broadcasts = True  # False: backward already returns fresh arrays of the inputs' shapes
    uses_values = True

    # forward(*arrays, **ctx) and backward(g, out, needs, *inputs, **ctx): each op names
    # its own inputs and context (a ufunc such as np.add serves as a forward as is), so
    # the base declares (*Any, **Any), which the type checker reads as "any signature".
    @staticmethod
    def forward(*arrays: Any, **ctx: Any) -> np.ndarray:
        raise NotImplementedError

    @staticmethod
    def backward(*args: Any, **ctx: Any) -> Sequence[Any]:
        raise NotImplementedError

    reads_output = True  # False: backward reads only the inputs (sin, log, relu, ...)

    @classmethod
    def reads(cls, needs: Sequence[bool]) -> Sequence[bool]:
        """Which values backward reads, given which inputs need a gradient: a flag for the
        output, then one per input. By default all the inputs, and the output unless
        ``reads_output`` says not (then writing the output in place is harmless)."""
        return (cls.reads_output,) + (True,) * len(needs)

    @classmethod
    def explain(cls, exc: Exception, shapes: list, ctx: dict) -> Exception:
        """Turn numpy's complaint into one that names this op and the shapes."""
        shown = " and ".join(str(s) for s in shapes)
        return ShapeError(f"{cls.name}: cannot apply to shape {shown}: {exc}")

    @classmethod
    def apply(cls, *inputs: Any, **ctx: Any) -> Any:
        """Run ``forward`` on the inputs' arrays and wrap the result as a Tensor that
        remembers this op and its inputs (only if recording and an input wants a gradient)."""
        try:
            data = cls.forward(*map(array_of, inputs), **ctx)
        except (ValueError, IndexError, TypeError, ZeroDivisionError) as exc:
            raise cls.explain(exc, [t.shape for t in inputs], ctx) from None
        if cls.saves:
            data, saved = data
            ctx = {**ctx, **saved}
        if type(data) is not np.ndarray:
            data = np.asarray(data)
        make = inputs[0]._make
        state = STATE
        if state.grad_enabled:
            wanted = False
            for t in inputs:
                if t._view is not None:  # a view: rebuilt first if its tensor changed
                    t._refresh()         # since (ops/inplace.refresh)
                if t.requires_grad:
                    wanted = True
            if wanted:
                out = make(data, inputs, cls, ctx, True)
            else:
                out = make(data, (), None, None, False)
        else:
            out = make(data, (), None, None, False)
        if state.detect_anomaly:
            check_forward(cls, inputs, out)
        return out


class Elementwise(Op):
    """A binary op with numpy broadcasting."""

    @classmethod
    def explain(cls, exc: Exception, shapes: list, ctx: dict) -> Exception:
        a, b = shapes[0], shapes[-1]
        try:
            np.broadcast_shapes(a, b)
        except ValueError:
            return ShapeError(
                f"{cls.name}: shapes {a} and {b} cannot be broadcast together (numpy "
                "broadcasting: aligned from the right, each dimension pair must be equal or 1)"
            )
        return TypeError(f"{cls.name}: {exc}")  # the shapes fit: the dtypes or values do not


# =========================================================================== broadcasting
def unbroadcast(g: Any, shape: tuple) -> Any:
    """Sum ``g`` down to ``shape``: the VJP of numpy's implicit broadcasting.

    Broadcasting copies an input along new leading axes and along axes of size 1, so its
    gradient adds up those copies.
    """
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1
    )
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g.reshape(shape)


# =========================================================================== operands
class TensorBase:
    """The root of ``Tensor``'s classes, defined here so that ops can tell a Tensor from an
    array or a number (``isinstance``) without importing tensor.py, which sits above them."""

    __slots__ = ()
    data: np.ndarray  # declared for the type checker; Tensor's own slot holds it


def is_tensor(x: Any) -> bool:
    """A graph node of the tensor engine (a ``Tensor``)."""
    return isinstance(x, TensorBase)


def constant(arr: np.ndarray, like: Any) -> Any:
    """``arr`` as a Tensor outside the graph (no gradient flows into it), of ``like``'s kind."""
    return like._make(arr, (), None, None, False)


def lift(x: Any, like: Any = None, where: str = "op") -> Any:
    """Make an operand a Tensor. A Python scalar takes the other operand's dtype where it
    is of the same kind, so ``x * 2.0`` never turns a float32 graph into float64; a float
    meeting integers becomes the default float dtype (PyTorch's rule, not numpy's float64)."""
    if isinstance(x, TensorBase):
        return x
    if like is None:
        raise TypeError(
            f"{where}: expected a Tensor, got {type(x).__name__}; wrap it with mg.tensor(...) "
            "(as in PyTorch, a function needs at least one Tensor among its operands)"
        )
    if isinstance(x, np.ndarray):
        if x.dtype.kind not in "biuf":
            raise TypeError(f"{where}: expected a numeric array, got dtype {x.dtype}")
        return constant(x, like)
    if isinstance(x, (bool, int, float)) and not isinstance(x, np.generic):
        kind = like.data.dtype.kind
        if type(x) is bool:
            arr = np.asarray(x, dtype=like.data.dtype if kind == "b" else None)
        elif kind == "f" or (kind in "iu" and isinstance(x, int)):
            return like._make(np.asarray(x, dtype=like.data.dtype), (), None, None, False)
        elif isinstance(x, float):
            arr = np.asarray(x, dtype=get_default_dtype())
        else:
            arr = np.asarray(x)
        return constant(arr, like)
    if isinstance(x, np.generic) and x.dtype.kind in "biuf":
        return constant(np.asarray(x), like)
    if isinstance(x, (list, tuple)):
        try:
            arr = np.asarray(x)
        except ValueError as exc:
            raise ValueError(f"{where}: cannot make an array from a {type(x).__name__}: "
                             f"{exc}") from None
        if arr.dtype == np.float64:
            arr = arr.astype(get_default_dtype())
        return lift(arr, like, where)
    raise TypeError(
        f"{where}: unsupported operand of type {type(x).__name__}: expected a Tensor, a numpy "
        "array or a number"
    )


_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2}


def common_dtype(*dtypes: np.dtype) -> np.dtype:
    """PyTorch's promotion: a float's dtype wins over an integer's (int32 + float32 is
    float32, where numpy says float64), an integer's over a bool's; within the winning
    category, the wider type."""
    top = max(_CATEGORY[d.kind] for d in dtypes)
    return np.result_type(*[d for d in dtypes if _CATEGORY[d.kind] == top])


def promote(a: Any, b: Any) -> tuple[Any, Any]:
    """Two Tensors in PyTorch's common dtype. Only a change of category needs a cast here:
    numpy's ops already widen within one (float32 with float64 gives float64)."""
    da, db = a.data.dtype, b.data.dtype
    ca, cb = _CATEGORY[da.kind], _CATEGORY[db.kind]
    if ca > cb:
        return a, constant(b.data.astype(da), a)
    if cb > ca:
        return constant(a.data.astype(db), b), b
    return a, b


def pair(a: Any, b: Any, where: str = "op") -> tuple[Any, Any]:
    """Two operands as Tensors of PyTorch's common dtype."""
    if not isinstance(a, TensorBase):
        if not isinstance(b, TensorBase):
            raise TypeError(f"{where}: expected at least one Tensor, got {type(a).__name__} "
                            f"and {type(b).__name__}; wrap one with mg.tensor(...)")
        if type(a) is float and b.data.dtype.kind in "biu":
            b = as_default_float(b)
        a = lift(a, b, where)
    elif not isinstance(b, TensorBase):
        if type(b) is float and a.data.dtype.kind in "biu":
            a = as_default_float(a)
        b = lift(b, a, where)
    if a.data.dtype is not b.data.dtype:
        return promote(a, b)
    return a, b


def as_default_float(t: Any) -> Any:
    """An integer tensor, as a constant of the default float dtype: what PyTorch computes
    in when integers meet a Python float or an op with fractional results (numpy would
    pick float64)."""
    return constant(t.data.astype(get_default_dtype()), t)


def fractional(x: Any, where: str = "op") -> Any:
    """The input of an op whose result is fractional however whole its input (exp, log,
    sqrt, tanh, sigmoid, the softmax family, mean, var, true division): integers compute
    in the default float dtype, as in PyTorch. numpy would return float64, which then
    quietly turns every float32 op it meets into float64."""
    x = lift(x, where=where)
    return as_default_float(x) if x.data.dtype.kind in "biu" else x


def data(x: Any) -> Any:
    """The array behind a Tensor (anything else as it is)."""
    return x.data if is_tensor(x) else x


# =========================================================================== axes
@overload
def normalize_axis(axis: None, ndim: int, op: str, shape: tuple) -> None: ...
@overload
def normalize_axis(axis: int | Iterable[int], ndim: int, op: str, shape: tuple
                   ) -> tuple[int, ...]: ...
def normalize_axis(axis: Any, ndim: int, op: str, shape: tuple) -> tuple[int, ...] | None:
    """``axis`` as a sorted tuple of non-negative ints (None = all axes). A 0-d tensor
    accepts axis 0 and -1 (reducing over nothing), as PyTorch does."""
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for ax in axes:
        if not isinstance(ax, (int, np.integer)) or isinstance(ax, bool):
            raise TypeError(f"{op}: axis must be an int or a tuple of ints, got {axis!r}")
        if ndim == 0 and ax in (0, -1):
            continue
        if not -ndim <= ax < ndim:
            raise AxisError(
                f"{op}: axis {ax} is out of range for a tensor with {ndim} dimensions "
                f"(shape {shape})"
            )
        out.append(int(ax) % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: repeated axis in {axis!r}")
    return tuple(sorted(out))


def keepdims_shape(shape: tuple, axes: tuple | None) -> tuple:
    if axes is None:
        return (1,) * len(shape)
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def count(shape: tuple, axes: tuple | None) -> int:
    """How many elements a reduction over ``axes`` combines."""
    if axes is None:
        return int(np.prod(shape, dtype=np.int64))
    return int(np.prod([shape[a] for a in axes], dtype=np.int64))


_ONES: dict = {}


def owned(g: Any, dtype: Any = None) -> bool:
    """Whether a VJP may write its result into the gradient ``g`` it received: an array the
    walk handed to it alone (``autograd.backpropagate``), writeable, of ``dtype`` if given."""
    return type(g) is np.ndarray and g.flags.writeable and (dtype is None or g.dtype == dtype)


def ones(n: int, dtype: Any) -> np.ndarray:
    """A read-only vector of n ones, made once per (n, dtype): sums over rows are done as
    ``ones @ g`` (one BLAS call, 2-5x faster than ``g.sum(axis=0)``), and making the
    vector each time would cost as much as the sum on small layers."""
    key = (n, dtype)
    v = _ONES.get(key)
    if v is None:
        if len(_ONES) > 256:
            _ONES.clear()
        v = _ONES[key] = np.ones(n, dtype=dtype)
        v.flags.writeable = False
    return v


class _Work(threading.local):
    buffer: np.ndarray | None = None


_WORK = _Work()
WORK_LIMIT = 1 << 23  # bytes of work buffer kept between calls, per thread (8 MiB)


def work_array(shape: tuple, dtype: Any) -> np.ndarray:
    """Scratch space for a temporary that never leaves the op using it (uninitialised).

    One buffer per thread, reused from call to call: a fresh 1 MB temporary every step
    lands on pages that glibc gave back to the OS after the last step, and faulting them
    in again cost more than the arithmetic (GELU's, in a transformer). The caller must be
    done with it before returning, and must not ask twice at once."""
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    buffer = _WORK.buffer
    if buffer is None or buffer.nbytes < nbytes:
        buffer = np.empty(nbytes, np.uint8)
        if nbytes <= WORK_LIMIT:
            _WORK.buffer = buffer
    return buffer[:nbytes].view(dtype).reshape(shape)
