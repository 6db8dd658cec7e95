"""Elementwise ops: arithmetic, the unary functions, ``where``, ``maximum``/``minimum``.

Each op's forward and backward sit side by side; below each family, the public
functions that apply them (``mg.exp``, ``x.exp()`` ...). Binary ops broadcast like numpy:
their backward returns gradients in the output's shape and ``unbroadcast`` (core.py) sums
them back to each input's shape.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .core import (
    Elementwise,
    Op,
    ShapeError,
    as_default_float,
    constant,
    data,
    fractional,
    is_tensor,
    lift,
    pair,
)


# =========================================================================== arithmetic
class Add(Elementwise):
    name = "add"
    forward = staticmethod(np.add)
    uses_values = False

    @staticmethod
    def backward(g, out, needs, a, b):
        return g, g  # d(a+b)/da = d(a+b)/db = 1; unbroadcast sums broadcast copies


class Sub(Elementwise):
    name = "sub"
    forward = staticmethod(np.subtract)
    uses_values = False

    @staticmethod
    def backward(g, out, needs, a, b):
        return g, (-g if needs[1] else None)


class Mul(Elementwise):
    name = "mul"
    forward = staticmethod(np.multiply)

    @staticmethod
    def reads(needs):
        return False, needs[1], needs[0]  # a's gradient reads b, b's reads a

    @staticmethod
    def backward(g, out, needs, a, b):
        return (g * b if needs[0] else None), (g * a if needs[1] else None)


class Div(Elementwise):
    name = "div"
    forward = staticmethod(np.true_divide)

    @staticmethod
    def backward(g, out, needs, a, b):
        # d(a/b)/da = 1/b ; d(a/b)/db = -a/b^2, as (a/b)/b like PyTorch: from the inputs, not
        # the output, which t.div_(w) puts in t, where a later write would change it
        ga = g / b if needs[0] else None
        gb = -g * (a / b / b) if needs[1] else None
        return ga, gb

    @staticmethod
    def reads(needs):
        return False, needs[1], True


class Pow(Elementwise):
    name = "pow"
    forward = staticmethod(np.power)

    @staticmethod
    def backward(g, out, needs, a, b):
        # d(a^b)/da = b a^(b-1) ; d(a^b)/db = a^b ln a.  At a = 0 both formulas meet 0 * inf;
        # the limits are 0 (b = 0 in the first, b >= 0 in the second), as in PyTorch. Where a
        # base of 1 stands in for 0 the formula gives that 0 itself, so no NaN can leak
        # through, not even into a second derivative (a `where` after the fact would).
        ad, bd = data(a), data(b)
        ga = gb = None
        if needs[0]:
            zero_exp = bd == 0
            base = _where(zero_exp, 1, a) if zero_exp.any() else a
            ga = g * b * base ** (b - 1)
        if needs[1]:
            zero_base = (ad == 0) & (bd >= 0)
            gb = g * out * _log(_where(zero_base, 1, a) if zero_base.any() else a)
        return ga, gb


class Maximum(Elementwise):
    """The larger of a and b, elementwise. The gradient goes to the larger input; at a tie
    each input gets half of it (PyTorch's rule, and what the ``max`` reduction does)."""

    name = "maximum"
    reads_output = False
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
    a, b = data(a), data(b)
    return np.where(a == b, 0.5, wins(a, b)).astype(dtype, copy=False)


class Neg(Op):
    name = "neg"
    forward = staticmethod(np.negative)
    uses_values = False

    @staticmethod
    def backward(g, out, needs, a):
        return (-g,)


def add(a: Any, b: Any) -> Any:
    return Add.apply(*pair(a, b, "add"))


def sub(a: Any, b: Any) -> Any:
    a, b = pair(a, b, "sub")
    if a.data.dtype.kind == "b" and b.data.dtype.kind == "b":
        raise TypeError("sub: subtracting two bool tensors is not supported; to invert a "
                        "mask use ~mask.data or mg.where")
    return Sub.apply(a, b)


def mul(a: Any, b: Any) -> Any:
    return Mul.apply(*pair(a, b, "mul"))


def div(a: Any, b: Any) -> Any:
    a, b = pair(a, b, "div")
    if a.data.dtype.kind in "biu" and b.data.dtype.kind in "biu":
        a, b = as_default_float(a), as_default_float(b)
    return Div.apply(a, b)


def pow(a: Any, b: Any) -> Any:  # noqa: A001  (mirrors numpy/torch naming)
    a, b = pair(a, b, "pow")
    if a.data.dtype.kind in "iu" and b.data.dtype.kind in "iu" and (b.data < 0).any():
        raise ValueError(f"pow: integers to negative integer powers are not allowed (base "
                         f"dtype {a.dtype}, exponent {b.data.min()}); use a float base, "
                         "e.g. x.astype(np.float32) ** -2")
    return Pow.apply(a, b)


def neg(a: Any) -> Any:
    a = lift(a, where="neg")
    if a.data.dtype.kind == "b":
        raise TypeError("neg: negating a bool tensor is not supported; to invert a mask use "
                        "~mask.data")
    return Neg.apply(a)


def maximum(a: Any, b: Any) -> Any:
    return Maximum.apply(*pair(a, b, "maximum"))


def minimum(a: Any, b: Any) -> Any:
    return Minimum.apply(*pair(a, b, "minimum"))


# =========================================================================== unary
class Exp(Op):
    name = "exp"
    forward = staticmethod(np.exp)

    @staticmethod
    def reads(needs):
        return True, False

    @staticmethod
    def backward(g, out, needs, a):
        return (g * out,)


class Log(Op):
    name = "log"
    reads_output = False
    forward = staticmethod(np.log)

    @staticmethod
    def backward(g, out, needs, a):
        return (g / a,)


class Sqrt(Op):
    name = "sqrt"
    forward = staticmethod(np.sqrt)
    reads = Exp.reads  # the output only

    @staticmethod
    def backward(g, out, needs, a):
        return (g / (out * 2),)


class Abs(Op):
    name = "abs"
    reads_output = False
    forward = staticmethod(np.abs)

    @staticmethod
    def backward(g, out, needs, a):
        return (g * _sign(a),)


class Tanh(Op):
    name = "tanh"
    forward = staticmethod(np.tanh)
    reads = Exp.reads

    @staticmethod
    def backward(g, out, needs, a):
        return (g * (1 - out * out),)


class Sigmoid(Op):
    name = "sigmoid"
    reads = Exp.reads

    @staticmethod
    def forward(a):
        e = np.exp(-np.abs(a))  # never overflows; sigmoid(-x) = 1 - sigmoid(x)
        return np.where(a >= 0, 1 / (1 + e), e / (1 + e))

    @staticmethod
    def backward(g, out, needs, a):
        return (g * out * (1 - out),)


class Softplus(Op):
    """log(1 + e^x), computed without overflow. Smooth everywhere, with derivative
    sigmoid(x): the building block of ``binary_cross_entropy_with_logits``, whose gradient
    at a logit of exactly 0 must be sigmoid(0) - y (a formula with |x| or max(x, 0) would
    add up two subgradients there)."""

    name = "softplus"
    reads_output = False

    @staticmethod
    def forward(a):
        return np.logaddexp(0, a).astype(a.dtype, copy=False)

    @staticmethod
    def backward(g, out, needs, a):
        return (g * (a.sigmoid() if is_tensor(a) else Sigmoid.forward(a)),)


class Cast(Op):
    name = "astype"
    uses_values = False

    @staticmethod
    def forward(a, dtype):
        return a.astype(dtype)

    @staticmethod
    def backward(g, out, needs, a, dtype):
        return (g.astype(a.dtype),)


def exp(x: Any) -> Any:
    return Exp.apply(fractional(x, "exp"))


def log(x: Any) -> Any:
    return Log.apply(fractional(x, "log"))


def sqrt(x: Any) -> Any:
    return Sqrt.apply(fractional(x, "sqrt"))


def abs(x: Any) -> Any:  # noqa: A001
    return Abs.apply(lift(x, where="abs"))


def tanh(x: Any) -> Any:
    return Tanh.apply(fractional(x, "tanh"))


def sigmoid(x: Any) -> Any:
    return Sigmoid.apply(fractional(x, "sigmoid"))


def softplus(x: Any) -> Any:
    return Softplus.apply(fractional(x, "softplus"))


def astype(x: Any, dtype: Any) -> Any:
    x = lift(x, where="astype")
    dtype = np.dtype(dtype)
    if dtype == x.dtype:
        return x
    if x.requires_grad and dtype.kind != "f":
        return constant(x.data.astype(dtype), x)  # integers carry no gradient
    return Cast.apply(x, dtype=dtype)


# =========================================================================== selection
class Where(Op):
    """``cond ? a : b`` elementwise; ``cond`` is a constant boolean array."""

    name = "where"
    uses_values = False

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


def where(cond: Any, a: Any, b: Any) -> Any:
    """Elementwise ``a`` where ``cond`` holds, else ``b``; gradients flow to the chosen one."""
    if not is_tensor(a) and not is_tensor(b) and is_tensor(cond):
        a = lift(a, cond, "where")
    cond = np.asarray(data(cond))
    if cond.dtype != np.bool_:
        cond = cond.astype(bool)
    a, b = pair(a, b, "where")
    return Where.apply(a, b, cond=cond)


def clip(x: Any, lo: Any = None, hi: Any = None) -> Any:
    """Limit values to [lo, hi]; the gradient passes only where x was inside."""
    x = lift(x, where="clip")
    if lo is None and hi is None:
        raise ValueError("clip: give at least one of lo and hi")
    inside = np.ones(x.shape, dtype=bool)
    if lo is not None:
        inside &= x.data >= lo
    if hi is not None:
        inside &= x.data <= hi
    return where(inside, x, np.clip(x.data, lo, hi).astype(x.dtype, copy=False))


# Dispatchers for the few numpy *functions* a backward rule needs (arrays and Tensors
# share the methods and operators, not the functions).
def _log(x: Any) -> Any:
    return log(x) if is_tensor(x) else np.log(x)


def _sign(x: Any) -> Any:
    if is_tensor(x):
        return constant(np.sign(x.data), x)  # a constant: d sign = 0
    return np.sign(x)


def _where(cond: np.ndarray, x: Any, y: Any) -> Any:
    if is_tensor(x) or is_tensor(y):
        return where(cond, x, y)
    return np.where(cond, x, y)
