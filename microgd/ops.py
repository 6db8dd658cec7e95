"""Differentiable tensor ops: each op's forward and backward, side by side.

An op is a small class: ``forward`` computes the output from numpy arrays, ``backward``
is its vector-Jacobian product (VJP) — given ``g`` = d(loss)/d(out) it returns
d(loss)/d(input) for each input. ``needs[i]`` says whether input i wants a gradient, so
expensive ones (a matmul) are skipped when nobody asked.

Backward rules use only operations that numpy arrays and Tensors both have (``*``, ``@``,
``.sum``, ``.reshape``, ...). The walk hands them arrays normally (fast, nothing recorded)
and Tensors under ``create_graph=True``, when the very same lines are recorded as a graph:
that is how gradients of gradients (Hessians) come for free, from one set of rules.

A gradient may come back in the broadcast shape of the output: ``unbroadcast`` (one
helper, below) sums it back to the input's shape, for every op (``Tensor._vjp`` calls it).

Only a few primitives have hand-written backward rules; ``mean``, ``var``, ``softmax``,
``log_softmax``, ``logsumexp``, ``maximum``, ``clip``, ``stack``, ``squeeze`` ... are
compositions of them and need none. Two fused ops, ``Linear`` and ``CrossEntropy``, exist
because a profile of a training step said they pay (see their docstrings).
"""
from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import numpy as np

from .anomaly import check_forward
from .autograd import STATE
from .tensor import Tensor, _data, _make, get_default_dtype


class ShapeError(ValueError):
    """An op got operands whose shapes do not fit together."""


# =========================================================================== helpers
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


def _lift(x: Any, like: Tensor | None = None) -> Tensor:
    """Make an operand a Tensor. A Python scalar takes the other operand's float dtype,
    so ``x * 2.0`` never turns a float32 graph into float64."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, np.ndarray):
        if x.dtype.kind not in "biuf":
            raise TypeError(f"expected a numeric array, got dtype {x.dtype}")
        return _make(x, (), None, None, False)
    if isinstance(x, (int, float, bool)) and not isinstance(x, np.generic):
        if like is not None:
            kind = like.data.dtype.kind
            if kind == "f" or (kind in "iu" and isinstance(x, int) and not isinstance(x, bool)):
                return _make(np.asarray(x, dtype=like.data.dtype), (), None, None, False)
        if isinstance(x, float):
            return _make(np.asarray(x, dtype=get_default_dtype()), (), None, None, False)
        return _make(np.asarray(x), (), None, None, False)
    if isinstance(x, np.generic) and x.dtype.kind in "biuf":
        return _make(np.asarray(x), (), None, None, False)
    if isinstance(x, (list, tuple)):
        return Tensor(x)
    raise TypeError(
        f"unsupported operand of type {type(x).__name__}: expected a Tensor, a numpy array "
        "or a number"
    )


def _pair(a: Any, b: Any) -> tuple[Tensor, Tensor]:
    if not isinstance(a, Tensor):
        if type(a) is float and isinstance(b, Tensor) and b.data.dtype.kind in "biu":
            b = _as_default_float(b)
        a = _lift(a, b if isinstance(b, Tensor) else None)
    if not isinstance(b, Tensor):
        if type(b) is float and a.data.dtype.kind in "biu":
            a = _as_default_float(a)
        b = _lift(b, a)
    return a, b


def _as_default_float(t: Tensor) -> Tensor:
    """An integer tensor, as a constant of the default float dtype: what PyTorch computes
    in when integers meet a Python float or an op with fractional results (numpy would
    pick float64)."""
    return _make(t.data.astype(get_default_dtype()), (), None, None, False)


def _fractional(x: Any) -> Tensor:
    """The input of an op whose result is fractional however whole its input (exp, log,
    sqrt, tanh, sigmoid, the softmax family, mean, var, true division): integers compute
    in the default float dtype, as in PyTorch. numpy would return float64, which then
    quietly turns every float32 op it meets into float64."""
    x = _lift(x)
    return _as_default_float(x) if x.data.dtype.kind in "biu" else x


def normalize_axis(axis: Any, ndim: int, op: str, shape: tuple) -> tuple | None:
    """``axis`` as a sorted tuple of non-negative ints (None = all axes)."""
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for ax in axes:
        if not isinstance(ax, (int, np.integer)) or isinstance(ax, bool):
            raise TypeError(f"{op}: axis must be an int or a tuple of ints, got {axis!r}")
        if not -ndim <= ax < ndim:
            raise ValueError(
                f"{op}: axis {ax} is out of range for a tensor with {ndim} dimensions "
                f"(shape {shape})"
            )
        out.append(int(ax) % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: repeated axis in {axis!r}")
    return tuple(sorted(out))


def _keepdims_shape(shape: tuple, axes: tuple | None) -> tuple:
    if axes is None:
        return (1,) * len(shape)
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


# Dispatchers for the few numpy *functions* a backward rule needs (arrays and Tensors
# share the methods and operators, not the functions).
def _log(x: Any) -> Any:
    return log(x) if isinstance(x, Tensor) else np.log(x)


def _sign(x: Any) -> Any:
    if isinstance(x, Tensor):
        return _make(np.sign(x.data), (), None, None, False)  # constant: d sign = 0
    return np.sign(x)


def _where(cond: np.ndarray, x: Any, y: Any) -> Any:
    if isinstance(x, Tensor) or isinstance(y, Tensor):
        return where(cond, x, y)
    return np.where(cond, x, y)


def _broadcast(x: Any, shape: tuple) -> Any:
    return broadcast_to(x, shape) if isinstance(x, Tensor) else np.broadcast_to(x, shape)


def _swap_last(x: Any) -> Any:
    return x.swapaxes(-1, -2)


# =========================================================================== Op
class Op:
    """One differentiable operation: ``forward`` on arrays, ``backward`` = its VJP.

    An op with ``saves = True`` returns ``(out, {name: array})`` from ``forward``; the
    arrays reach ``backward`` as keyword arguments (intermediate results worth keeping).
    """

    name = "op"
    saves = False
    broadcasts = True  # False: backward already returns fresh arrays of the inputs' shapes

    @staticmethod
    def forward(*arrays: np.ndarray, **ctx: Any) -> np.ndarray:
        raise NotImplementedError

    @staticmethod
    def backward(g: Any, out: Any, needs: tuple, *inputs: Any, **ctx: Any) -> Sequence[Any]:
        raise NotImplementedError

    @classmethod
    def explain(cls, exc: Exception, shapes: list, ctx: dict) -> Exception:
        """Turn numpy's complaint into one that names this op and the shapes."""
        shown = " and ".join(str(s) for s in shapes)
        return ShapeError(f"{cls.name}: cannot apply to shape {shown}: {exc}")

    @classmethod
    def apply(cls, *inputs: Tensor, **ctx: Any) -> Tensor:
        try:
            data = cls.forward(*[t.data for t in inputs], **ctx)
        except (ValueError, IndexError, TypeError) as exc:
            raise cls.explain(exc, [t.shape for t in inputs], ctx) from None
        if cls.saves:
            data, saved = data
            ctx = {**ctx, **saved}
        if type(data) is not np.ndarray:
            data = np.asarray(data)
        state = STATE
        if state.grad_enabled:
            for t in inputs:
                if t.requires_grad:
                    out = _make(data, inputs, cls, ctx, True)
                    break
            else:
                out = _make(data, (), None, None, False)
        else:
            out = _make(data, (), None, None, False)
        if state.detect_anomaly:
            check_forward(cls, inputs, out)
        return out


class FreedGraph(Op):
    """Stands in for the op of a node whose graph ``backward()`` already freed."""

    name = "freed"

    @staticmethod
    def backward(g: Any, out: Any, needs: tuple, *inputs: Any, **ctx: Any) -> Sequence[Any]:
        raise RuntimeError(
            "backward: trying to backpropagate through a graph a second time, but its saved "
            "values were freed by the first backward(); pass retain_graph=True to the first "
            "call if you need to go through it twice"
        )


class Elementwise(Op):
    @classmethod
    def explain(cls, exc: Exception, shapes: list, ctx: dict) -> Exception:
        a, b = shapes[0], shapes[-1]
        return ShapeError(
            f"{cls.name}: shapes {a} and {b} cannot be broadcast together (numpy "
            "broadcasting: aligned from the right, each dimension pair must be equal or 1)"
        )


# =========================================================================== arithmetic
class Add(Elementwise):
    name = "add"
    forward = staticmethod(np.add)

    @staticmethod
    def backward(g, out, needs, a, b):
        return g, g  # d(a+b)/da = d(a+b)/db = 1; unbroadcast sums broadcast copies


class Sub(Elementwise):
    name = "sub"
    forward = staticmethod(np.subtract)

    @staticmethod
    def backward(g, out, needs, a, b):
        return g, (-g if needs[1] else None)


class Mul(Elementwise):
    name = "mul"
    forward = staticmethod(np.multiply)

    @staticmethod
    def backward(g, out, needs, a, b):
        return (g * b if needs[0] else None), (g * a if needs[1] else None)


class Div(Elementwise):
    name = "div"
    forward = staticmethod(np.true_divide)

    @staticmethod
    def backward(g, out, needs, a, b):
        # d(a/b)/da = 1/b ; d(a/b)/db = -a/b^2 = -out/b
        ga = g / b if needs[0] else None
        gb = -g * out / b if needs[1] else None
        return ga, gb


class Pow(Elementwise):
    name = "pow"
    forward = staticmethod(np.power)

    @staticmethod
    def backward(g, out, needs, a, b):
        # d(a^b)/da = b a^(b-1) ; d(a^b)/db = a^b ln a
        ga = g * b * a ** (b - 1) if needs[0] else None
        gb = g * out * _log(a) if needs[1] else None
        return ga, gb


class Maximum(Elementwise):
    """The larger of a and b, elementwise. The gradient goes to the larger input; at a tie
    each input gets half of it (PyTorch's rule, and what the ``max`` reduction does)."""

    name = "maximum"
    forward = staticmethod(np.maximum)
    a_wins = staticmethod(np.greater)

    @classmethod
    def backward(cls, g, out, needs, a, b):
        share = _share_of_a(cls.a_wins, a, b, g.dtype)
        return (g * share if needs[0] else None), (g * (1 - share) if needs[1] else None)


class Minimum(Maximum):
    """The smaller of a and b, elementwise; ties split the gradient as in ``Maximum``."""

    name = "minimum"
    forward = staticmethod(np.minimum)
    a_wins = staticmethod(np.less)


def _share_of_a(wins: Any, a: Any, b: Any, dtype: Any) -> np.ndarray:
    """1 where ``wins(a, b)``, 1/2 where a == b, else 0: a constant (the choice of input is
    piecewise, so it has no derivative of its own)."""
    a, b = _data(a), _data(b)
    return np.where(a == b, 0.5, wins(a, b)).astype(dtype, copy=False)


class Neg(Op):
    name = "neg"
    forward = staticmethod(np.negative)

    @staticmethod
    def backward(g, out, needs, a):
        return (-g,)


class MatMul(Op):
    """numpy's matmul: 1-D operands are vectors, N-D ones stacks of matrices whose batch
    dimensions broadcast."""

    name = "matmul"
    forward = staticmethod(np.matmul)

    @staticmethod
    def backward(g, out, needs, a, b):
        if a.ndim == 1 and b.ndim == 1:  # dot product: out is a scalar
            return (g * b if needs[0] else None), (g * a if needs[1] else None)
        if a.ndim == 1:  # (k,) @ (..., k, n): a acts as the row (1, k)
            g = g.reshape(g.shape[:-1] + (1, g.shape[-1]))
            ga = (g @ _swap_last(b)).reshape(g.shape[:-2] + (a.shape[0],)) if needs[0] else None
            gb = a.reshape((a.shape[0], 1)) @ g if needs[1] else None
            return ga, gb
        if b.ndim == 1:  # (..., m, k) @ (k,): b acts as the column (k, 1)
            g = g.reshape(g.shape + (1,))
            ga = g @ b.reshape((1, b.shape[0])) if needs[0] else None
            gb = (_swap_last(a) @ g).reshape(g.shape[:-2] + (b.shape[0],)) if needs[1] else None
            return ga, gb
        # C = A B  =>  dA = G B^T, dB = A^T G (batch dims are summed by unbroadcast)
        ga = g @ _swap_last(b) if needs[0] else None
        gb = _swap_last(a) @ g if needs[1] else None
        return ga, gb

    @classmethod
    def explain(cls, exc, shapes, ctx):
        sa, sb = shapes
        if not sa or not sb:
            return ShapeError(
                f"matmul: {sa} @ {sb}: both operands need at least one dimension "
                "(use * to multiply by a scalar)"
            )
        ka, kb = sa[-1], (sb[-2] if len(sb) > 1 else sb[0])
        if ka != kb:
            return ShapeError(f"matmul: {sa} @ {sb}: inner dimensions {ka} and {kb} differ")
        return ShapeError(
            f"matmul: {sa} @ {sb}: batch dimensions {sa[:-2]} and {sb[:-2]} cannot be "
            "broadcast together"
        )


# =========================================================================== unary
class Exp(Op):
    name = "exp"
    forward = staticmethod(np.exp)

    @staticmethod
    def backward(g, out, needs, a):
        return (g * out,)


class Log(Op):
    name = "log"
    forward = staticmethod(np.log)

    @staticmethod
    def backward(g, out, needs, a):
        return (g / a,)


class Sqrt(Op):
    name = "sqrt"
    forward = staticmethod(np.sqrt)

    @staticmethod
    def backward(g, out, needs, a):
        return (g / (out * 2),)


class Abs(Op):
    name = "abs"
    forward = staticmethod(np.abs)

    @staticmethod
    def backward(g, out, needs, a):
        return (g * _sign(a),)


class Tanh(Op):
    name = "tanh"
    forward = staticmethod(np.tanh)

    @staticmethod
    def backward(g, out, needs, a):
        return (g * (1 - out * out),)


class Sigmoid(Op):
    name = "sigmoid"

    @staticmethod
    def forward(a):
        e = np.exp(-np.abs(a))  # never overflows; sigmoid(-x) = 1 - sigmoid(x)
        return np.where(a >= 0, 1 / (1 + e), e / (1 + e))

    @staticmethod
    def backward(g, out, needs, a):
        return (g * out * (1 - out),)


class Relu(Op):
    name = "relu"

    @staticmethod
    def forward(a):
        return np.maximum(a, 0)

    @staticmethod
    def backward(g, out, needs, a):
        if type(g) is np.ndarray and g.flags.writeable:  # g is ours to overwrite: see
            np.multiply(g, a > 0, out=g)                   # autograd.backpropagate
            return (g,)
        return (g * (a > 0),)


class Cast(Op):
    name = "astype"

    @staticmethod
    def forward(a, dtype):
        return a.astype(dtype)

    @staticmethod
    def backward(g, out, needs, a, dtype):
        return (g.astype(a.dtype),)


class Where(Op):
    """``cond ? a : b`` elementwise; ``cond`` is a constant boolean array."""

    name = "where"

    @staticmethod
    def forward(a, b, cond):
        return np.where(cond, a, b)

    @staticmethod
    def backward(g, out, needs, a, b, cond):
        ga = _where(cond, g, 0) if needs[0] else None
        gb = _where(cond, 0, g) if needs[1] else None
        return ga, gb

    @classmethod
    def explain(cls, exc, shapes, ctx):
        return ShapeError(
            f"where: condition {np.shape(ctx['cond'])}, x {shapes[0]} and y {shapes[1]} "
            "cannot be broadcast together"
        )


# =========================================================================== reductions
class Sum(Op):
    name = "sum"

    @staticmethod
    def forward(a, axis, keepdims):
        return a.sum(axis=axis, keepdims=keepdims)

    @staticmethod
    def backward(g, out, needs, a, axis, keepdims):
        # every input element contributed once: copy g back along the summed axes
        return (_broadcast(g.reshape(_keepdims_shape(a.shape, axis)), a.shape),)


class Max(Op):
    name = "max"

    @staticmethod
    def forward(a, axis, keepdims):
        return a.max(axis=axis, keepdims=keepdims)

    @staticmethod
    def backward(g, out, needs, a, axis, keepdims):
        # the gradient goes to the maximal entries, split equally between ties
        kshape = _keepdims_shape(a.shape, axis)
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


# =========================================================================== shapes
class Reshape(Op):
    name = "reshape"

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


class Transpose(Op):
    name = "transpose"

    @staticmethod
    def forward(a, axes):
        return a.transpose(axes)

    @staticmethod
    def backward(g, out, needs, a, axes):
        if axes is None:
            return (g.transpose(),)
        return (g.transpose(tuple(np.argsort(axes))),)

    @classmethod
    def explain(cls, exc, shapes, ctx):
        return ValueError(
            f"transpose: axes {ctx['axes']} are not a permutation of the {len(shapes[0])} "
            f"axes of shape {shapes[0]}"
        )


class BroadcastTo(Op):
    name = "broadcast_to"

    @staticmethod
    def forward(a, shape):
        return np.broadcast_to(a, shape)

    @staticmethod
    def backward(g, out, needs, a, shape):
        return (g,)  # unbroadcast sums the copies

    @classmethod
    def explain(cls, exc, shapes, ctx):
        return ShapeError(f"broadcast_to: cannot broadcast shape {shapes[0]} to {ctx['shape']}")


def _is_basic_index(index: Any) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return builtins.all(
        isinstance(p, (int, np.integer, slice)) or p is None or p is Ellipsis for p in parts
    )


class GetItem(Op):
    """``a[index]``: basic (ints, slices) and advanced (integer arrays, boolean masks)."""

    name = "getitem"

    @staticmethod
    def forward(a, index):
        return a[index]

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
    if isinstance(g, Tensor):
        return ScatterAdd.apply(g, index=index, shape=shape)
    return ScatterAdd.forward(g, index, shape)


class Concatenate(Op):
    name = "concatenate"

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


# =========================================================================== fused ops
# Each of these could be composed from the primitives above (and once was); they are fused
# because a profile of a training step showed it pays: see docs/performance.md.
class Linear(Op):
    """x W^T + b, PyTorch's layer layout (W is (out_features, in_features)).

    Fused because the composite (transpose, matmul, add) cost three nodes of Python
    bookkeeping per layer and left W's gradient transposed in memory, which made the
    optimizer's elementwise update on it slow. Its gradients come out in the inputs' exact
    shapes (``broadcasts = False``), which holds because ``F.linear`` checks that the bias
    is ``(out_features,)``.
    """

    name = "linear"
    broadcasts = False

    @staticmethod
    def forward(x, w, b=None):
        out = x @ w.T
        if b is None:
            return out
        if b.dtype == out.dtype:
            out += b  # a fresh array: add in place
            return out
        return out + b

    @staticmethod
    def backward(g, out, needs, x, w, b=None):
        gx = g @ w if needs[0] else None                  # d/dx (x W^T) = G W
        if needs[1] or (b is not None and needs[2]):
            g2 = g if g.ndim == 2 else g.reshape((-1, g.shape[-1]))
        gw = None
        if needs[1]:
            x2 = x if x.ndim == 2 else x.reshape((-1, x.shape[-1]))
            gw = g2.T @ x2                                 # d/dW = G^T x, summed over rows
        gb = g2.sum(axis=0) if b is not None and needs[2] else None
        return (gx, gw) if b is None else (gx, gw, gb)


class CrossEntropy(Op):
    """-log softmax(x)[target] over the last axis, reduced; ``target`` holds class indices.

    Fused because the composite (max, sub, exp, sum, log, add, sub, index, neg, mean) was
    ten nodes; this is one, and its gradient is the familiar softmax(x) - onehot(target).
    The softmax computed on the way forward is kept for backward.
    """

    name = "cross_entropy"
    saves = True

    @staticmethod
    def forward(x, target, reduction):
        z = x - x.max(axis=-1, keepdims=True)          # shift: exp never overflows
        e = np.exp(z)
        s = e.sum(axis=-1, keepdims=True)
        picked = z[np.arange(len(target)), target] if x.ndim == 2 else z[target]
        loss = np.log(s[..., 0]) - picked
        e /= s                                         # softmax(x), for backward
        if reduction == "mean":
            loss = loss.sum() / builtins.max(1, loss.size)
        elif reduction == "sum":
            loss = loss.sum()
        return loss, {"probs": e}

    @staticmethod
    def backward(g, out, needs, x, target, reduction, probs):
        if isinstance(g, Tensor):  # differentiable again: recompute softmax from x
            d = softmax(x, -1) - np.eye(x.shape[-1], dtype=x.dtype)[target]
            if reduction == "mean":
                return (d * (g / builtins.max(1, len(target) if x.ndim == 2 else 1)),)
            return (d * g if reduction == "sum" else d * g.reshape(g.shape + (1,)),)
        # arrays: scale the saved softmax by the upstream gradient, subtract it at the targets
        if reduction == "mean":  # a Python float keeps float32 float32 and is cheap
            scale = float(g) / builtins.max(1, len(target) if x.ndim == 2 else 1)
        elif reduction == "sum":
            scale = float(g)
        else:
            scale = g.reshape(g.shape + (1,))
        d = probs * scale
        if x.ndim == 2:
            d[np.arange(len(target)), target] -= scale if reduction != "none" else scale[:, 0]
        else:
            d[target] -= scale
        return (d,)


# =========================================================================== public functions
def add(a: Any, b: Any) -> Tensor:
    return Add.apply(*_pair(a, b))


def sub(a: Any, b: Any) -> Tensor:
    return Sub.apply(*_pair(a, b))


def mul(a: Any, b: Any) -> Tensor:
    return Mul.apply(*_pair(a, b))


def div(a: Any, b: Any) -> Tensor:
    a, b = _pair(a, b)
    if a.data.dtype.kind in "biu" and b.data.dtype.kind in "biu":
        a, b = _as_default_float(a), _as_default_float(b)
    return Div.apply(a, b)


def pow(a: Any, b: Any) -> Tensor:  # noqa: A001  (mirrors numpy/torch naming)
    return Pow.apply(*_pair(a, b))


def neg(a: Any) -> Tensor:
    return Neg.apply(_lift(a))


def matmul(a: Any, b: Any) -> Tensor:
    return MatMul.apply(*_pair(a, b))


def exp(x: Any) -> Tensor:
    return Exp.apply(_fractional(x))


def log(x: Any) -> Tensor:
    return Log.apply(_fractional(x))


def sqrt(x: Any) -> Tensor:
    return Sqrt.apply(_fractional(x))


def abs(x: Any) -> Tensor:  # noqa: A001
    return Abs.apply(_lift(x))


def tanh(x: Any) -> Tensor:
    return Tanh.apply(_fractional(x))


def sigmoid(x: Any) -> Tensor:
    return Sigmoid.apply(_fractional(x))


def relu(x: Any) -> Tensor:
    return Relu.apply(_lift(x))


def astype(x: Any, dtype: Any) -> Tensor:
    x = _lift(x)
    dtype = np.dtype(dtype)
    if dtype == x.dtype:
        return x
    if x.requires_grad and dtype.kind != "f":
        return _make(x.data.astype(dtype), (), None, None, False)  # integers carry no gradient
    return Cast.apply(x, dtype=dtype)


def where(cond: Any, a: Any, b: Any) -> Tensor:
    """Elementwise ``a`` where ``cond`` holds, else ``b``; gradients flow to the chosen one."""
    cond = np.asarray(_data(cond))
    if cond.dtype != np.bool_:
        cond = cond.astype(bool)
    a, b = _pair(a, b)
    return Where.apply(a, b, cond=cond)


def maximum(a: Any, b: Any) -> Tensor:
    return Maximum.apply(*_pair(a, b))


def minimum(a: Any, b: Any) -> Tensor:
    return Minimum.apply(*_pair(a, b))


def clip(x: Any, lo: Any = None, hi: Any = None) -> Tensor:
    """Limit values to [lo, hi]; the gradient passes only where x was inside."""
    x = _lift(x)
    if lo is None and hi is None:
        raise ValueError("clip: give at least one of lo and hi")
    inside = np.ones(x.shape, dtype=bool)
    if lo is not None:
        inside &= x.data >= lo
    if hi is not None:
        inside &= x.data <= hi
    return where(inside, x, np.clip(x.data, lo, hi).astype(x.dtype, copy=False))


# ------------------------------------------------------------------ reductions
def sum(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    x = _lift(x)
    return Sum.apply(x, axis=normalize_axis(axis, x.ndim, "sum", x.shape), keepdims=keepdims)


def mean(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    x = _fractional(x)
    axes = normalize_axis(axis, x.ndim, "mean", x.shape)
    count = _count(x.shape, axes)
    if count == 0:
        raise ValueError(f"mean: the mean over an empty axis is undefined (shape {x.shape}, "
                         f"axis {axis})")
    return Sum.apply(x, axis=axes, keepdims=keepdims) / count


def _count(shape: tuple, axes: tuple | None) -> int:
    if axes is None:
        return int(np.prod(shape, dtype=np.int64))
    return int(np.prod([shape[a] for a in axes], dtype=np.int64))


def var(x: Any, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> Tensor:
    """Variance: mean squared distance from the mean, divided by (n - ddof)."""
    x = _fractional(x)
    axes = normalize_axis(axis, x.ndim, "var", x.shape)
    n = _count(x.shape, axes)
    if n - ddof <= 0:
        raise ValueError(f"var: {n} elements with ddof={ddof} leave no degrees of freedom "
                         f"(shape {x.shape}, axis {axis})")
    centred = x - Sum.apply(x, axis=axes, keepdims=True) / n
    return Sum.apply(centred * centred, axis=axes, keepdims=keepdims) / (n - ddof)


def max(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    x = _lift(x)
    return Max.apply(x, axis=normalize_axis(axis, x.ndim, "max", x.shape), keepdims=keepdims)


def min(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    x = _lift(x)
    return Min.apply(x, axis=normalize_axis(axis, x.ndim, "min", x.shape), keepdims=keepdims)


def logsumexp(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """log(sum(exp(x))) without overflow: subtract the max first (a constant, so the
    gradient, softmax(x), is unchanged)."""
    x = _fractional(x)
    axes = normalize_axis(axis, x.ndim, "logsumexp", x.shape)
    if _count(x.shape, axes) == 0:
        raise ValueError(f"logsumexp: cannot reduce an empty axis (shape {x.shape})")
    m = x.data.max(axis=axes, keepdims=True)
    m = np.where(np.isfinite(m), m, 0).astype(x.dtype, copy=False)
    out = Sum.apply(Exp.apply(x - m), axis=axes, keepdims=True).log() + m
    if not keepdims:
        out = reshape(out, tuple(n for i, n in enumerate(x.shape)
                                 if axes is not None and i not in axes))
    return out


def log_softmax(x: Any, axis: int = -1) -> Tensor:
    x = _fractional(x)
    return x - logsumexp(x, axis=axis, keepdims=True)


def softmax(x: Any, axis: int = -1) -> Tensor:
    x = _fractional(x)
    axes = normalize_axis(axis, x.ndim, "softmax", x.shape)
    e = Exp.apply(x - x.data.max(axis=axes, keepdims=True))
    return e / Sum.apply(e, axis=axes, keepdims=True)


# ------------------------------------------------------------------ shapes
def reshape(x: Any, shape: Any) -> Tensor:
    x = _lift(x)
    shape = tuple(int(n) for n in shape)
    if shape == x.shape:
        return x
    return Reshape.apply(x, shape=shape)


def transpose(x: Any, axes: Any = None) -> Tensor:
    x = _lift(x)
    if axes is not None:
        axes = tuple(int(a) for a in axes)
        if sorted(a % x.ndim if x.ndim else a for a in axes) != list(range(x.ndim)):
            raise ValueError(f"transpose: axes {axes} are not a permutation of the {x.ndim} "
                             f"axes of shape {x.shape}")
    return Transpose.apply(x, axes=axes)


def swapaxes(x: Any, a: int, b: int) -> Tensor:
    x = _lift(x)
    perm = list(range(x.ndim))
    a = normalize_axis(a, x.ndim, "swapaxes", x.shape)[0]
    b = normalize_axis(b, x.ndim, "swapaxes", x.shape)[0]
    perm[a], perm[b] = perm[b], perm[a]
    return Transpose.apply(x, axes=tuple(perm))


def broadcast_to(x: Any, shape: tuple) -> Tensor:
    x = _lift(x)
    shape = tuple(shape)
    if shape == x.shape:
        return x
    return BroadcastTo.apply(x, shape=shape)


def flatten(x: Any, start_dim: int = 0) -> Tensor:
    """Merge the axes from ``start_dim`` on into one."""
    x = _lift(x)
    if x.ndim == 0:
        return reshape(x, (1,))
    start = normalize_axis(start_dim, x.ndim, "flatten", x.shape)[0]
    return reshape(x, x.shape[:start] + (-1,))


def squeeze(x: Any, axis: Any = None) -> Tensor:
    x = _lift(x)
    axes = normalize_axis(axis, x.ndim, "squeeze", x.shape)
    if axes is None:
        axes = tuple(i for i, n in enumerate(x.shape) if n == 1)
    for a in axes:
        if x.shape[a] != 1:
            raise ValueError(f"squeeze: axis {a} has size {x.shape[a]}, not 1 (shape {x.shape})")
    return reshape(x, tuple(n for i, n in enumerate(x.shape) if i not in axes))


def unsqueeze(x: Any, axis: int) -> Tensor:
    x = _lift(x)
    ax = normalize_axis(axis, x.ndim + 1, "unsqueeze", x.shape)[0]
    return reshape(x, x.shape[:ax] + (1,) + x.shape[ax:])


def getitem(x: Any, index: Any) -> Tensor:
    x = _lift(x)
    return GetItem.apply(x, index=_plain_index(index))


def _plain_index(index: Any) -> Any:
    """Tensors and lists inside an index become arrays (numpy's advanced indexing)."""
    if isinstance(index, tuple):
        return tuple(_plain_index_part(p) for p in index)
    return _plain_index_part(index)


def _plain_index_part(p: Any) -> Any:
    if isinstance(p, Tensor):
        p = p.data
    elif isinstance(p, list):
        p = np.asarray(p)
    if isinstance(p, np.ndarray) and p.dtype.kind not in "biu":
        raise IndexError(f"getitem: index arrays must be integers or booleans, got {p.dtype}")
    return p


def concatenate(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    tensors = [_lift(t) for t in tensors]
    if not tensors:
        raise ValueError("concatenate: needs at least one tensor")
    first = tensors[0]
    if first.ndim == 0:
        raise ValueError("concatenate: zero-dimensional tensors cannot be concatenated")
    for t in tensors[1:]:
        if t.ndim != first.ndim:
            raise ShapeError(f"concatenate: shapes {[t.shape for t in tensors]}: all tensors "
                             "need the same number of dimensions")
    ax = normalize_axis(axis, first.ndim, "concatenate", first.shape)[0]
    return Concatenate.apply(*tensors, axis=ax)


def stack(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    tensors = [_lift(t) for t in tensors]
    if not tensors:
        raise ValueError("stack: needs at least one tensor")
    shapes = {t.shape for t in tensors}
    if len(shapes) > 1:
        raise ShapeError(f"stack: all tensors need the same shape, got "
                         f"{[t.shape for t in tensors]}")
    ax = normalize_axis(axis, tensors[0].ndim + 1, "stack", tensors[0].shape)[0]
    return Concatenate.apply(*[unsqueeze(t, ax) for t in tensors], axis=ax)
