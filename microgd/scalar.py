"""Value: the scalar engine, one number per graph node.

Each op computes its output *and* its local derivatives d(out)/d(input) right there, side
by side, and stores them on the new node. Backprop (``autograd.backpropagate``) then only
multiplies: parent.grad += node.grad * local_derivative. No closures are kept, so a node
holds no reference back to itself (no reference cycles for the garbage collector).
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Union

from .autograd import backpropagate, copy_node, restore_node
from .state import next_seq

Number = Union[int, float]


def _check_number(x: object, where: str) -> float:
    if type(x) is float or type(x) is int:
        return float(x)
    if isinstance(x, numbers.Real) and not isinstance(x, bool):
        return float(x)
    raise TypeError(
        f"{where}: expected a real number (int or float), got {type(x).__name__} {x!r}"
    )


class Value:
    """A scalar that remembers how it was computed, so gradients can flow back to it."""

    # One object per node: a one-input node keeps its parent itself in ``_in`` (others a
    # tuple of parents), and ``_parents`` makes the tuple when asked. Every object is
    # walked by Python's cycle collector again and again while a graph grows, so a tuple
    # per node cost a deep chain ~0.5 µs a link (docs/performance.md, S2).
    __slots__ = ("data", "grad", "label", "_in", "_local", "_op", "_const", "_seq")
    requires_grad = True  # every Value takes part in backprop

    def __init__(self, data: Number, label: str = "") -> None:
        self.data = _check_number(data, "Value")
        self.grad = 0.0
        self.label = label
        self._in: Value | tuple[Value, ...] = ()  # a leaf; results come from _node / _node1
        self._local: float | tuple[float, ...] = ()  # d self / d parent, one per parent
        self._op = ""
        self._const: float | None = None
        self._seq = next_seq()  # when it was made: the walk's order (autograd.py)

    __setstate__ = restore_node  # unpickled or deep-copied: numbers kept in order
    __copy__ = copy_node

    @property
    def _parents(self) -> tuple[Value, ...]:
        """The inputs this node was computed from (none for a leaf), as the walk reads them."""
        p = self._in
        return p if type(p) is tuple else (p,)

    @_parents.setter
    def _parents(self, parents: tuple[Value, ...]) -> None:
        self._in = parents[0] if len(parents) == 1 else tuple(parents)

    # ----------------------------------------------------------------- arithmetic
    # A Python number on either side is folded into the op (no node of its own): the graph
    # shows e.g. "* 2" with one input, and the number's derivative is never needed. An op
    # with one input keeps its local derivative as a plain float (fewer objects per node).
    # A float is taken as it is before calling _number (a call per op cost a deep chain
    # ~5 %).
    def __add__(self, other: Value | Number) -> Value:
        if isinstance(other, Value):
            return _node(self.data + other.data, (self, other), "+", (1.0, 1.0))
        k = other if type(other) is float else _number(other, "+")
        return _node1(self.data + k, self, "+", 1.0, k)

    def __radd__(self, other: Number) -> Value:
        k = other if type(other) is float else _number(other, "+")
        return _node1(k + self.data, self, "+", 1.0, k)

    def __mul__(self, other: Value | Number) -> Value:
        if isinstance(other, Value):
            return _node(self.data * other.data, (self, other), "*", (other.data, self.data))
        k = other if type(other) is float else _number(other, "*")
        return _node1(self.data * k, self, "*", k, k)

    def __rmul__(self, other: Number) -> Value:
        k = other if type(other) is float else _number(other, "*")
        return _node1(k * self.data, self, "*", k, k)

    def __neg__(self) -> Value:
        return _node1(-self.data, self, "neg", -1.0)

    def __sub__(self, other: Value | Number) -> Value:
        if isinstance(other, Value):
            return _node(self.data - other.data, (self, other), "-", (1.0, -1.0))
        k = other if type(other) is float else _number(other, "-")
        return _node1(self.data - k, self, "-", 1.0, k)

    def __rsub__(self, other: Number) -> Value:
        k = other if type(other) is float else _number(other, "-")
        return _node1(k - self.data, self, "r-", -1.0, k)

    def __truediv__(self, other: Value | Number) -> Value:
        a = self.data
        if isinstance(other, Value):
            b = other.data
            _check_divisor(a, b)
            return _node(a / b, (self, other), "/", (1.0 / b, -a / (b * b)))
        b = _number(other, "/")
        _check_divisor(a, b)
        return _node1(a / b, self, "/", 1.0 / b, b)

    def __rtruediv__(self, other: Number) -> Value:
        k, b = _number(other, "/"), self.data
        _check_divisor(k, b)
        return _node1(k / b, self, "r/", -k / (b * b), k)  # d(k/b)/db = -k/b^2

    def __pow__(self, other: Value | Number) -> Value:
        if isinstance(other, Value):
            out, d_base, d_exp = _power(self.data, other.data)
            return _node(out, (self, other), "**", (d_base, d_exp))
        b = _number(other, "**")
        out, d_base, _ = _power(self.data, b)
        return _node1(out, self, "**", d_base, b)

    def __rpow__(self, other: Number) -> Value:
        k = other if type(other) is float else _number(other, "**")
        out, _, d_exp = _power(k, self.data)
        return _node1(out, self, "r**", d_exp, k)

    # ----------------------------------------------------------------- functions
    def relu(self) -> Value:
        x = self.data
        return _node1(x if x > 0 else 0.0, self, "relu", 1.0 if x > 0 else 0.0)

    def tanh(self) -> Value:
        t = math.tanh(self.data)
        return _node1(t, self, "tanh", 1.0 - t * t)

    def sigmoid(self) -> Value:
        x = self.data
        # two forms so that exp never overflows: e^-x for x >= 0, e^x for x < 0
        s = 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))
        return _node1(s, self, "sigmoid", s * (1.0 - s))

    def exp(self) -> Value:
        try:
            e = math.exp(self.data)
        except OverflowError:
            e = math.inf
        return _node1(e, self, "exp", e)

    def log(self) -> Value:
        x = self.data
        if x <= 0:
            raise ValueError(f"Value log: the logarithm needs a positive value, got {x}")
        return _node1(math.log(x), self, "log", 1.0 / x)

    # ----------------------------------------------------------------- backprop protocol
    def _vjp(self, g: float, create_graph: bool = False) -> Sequence[float]:
        local = self._local  # chain rule: d root/d parent = d root/d self * d self/d parent
        if isinstance(local, float):  # one parent
            return (g * local,)
        if len(local) == 2:
            return (g * local[0], g * local[1])
        return [g * d for d in local]

    def _accumulate(self, g: float) -> None:
        self.grad += g

    def _release(self) -> None:  # Value graphs are kept: backward() may run again
        pass

    def backward(self) -> None:
        """Add d(self)/d(node) to ``.grad`` of every node in the graph, once per call."""
        backpropagate([self], [1.0], retain_graph=True)

    # ----------------------------------------------------------------- conveniences
    def __float__(self) -> float:
        return self.data

    @property
    def op_label(self) -> str:
        """How pictures write this node's op: "+", "* 2", or "2 -" where a folded number
        comes first (the ops ``_CONST_FIRST`` lists)."""
        op, k = self._op, self._const
        if k is None:
            return op
        if op in _CONST_FIRST:
            return f"{k:g} {_CONST_FIRST[op]}"
        return f"{op} {k:g}"

    def __repr__(self) -> str:
        label = f", label={self.label!r}" if self.label else ""
        return f"Value(data={self.data:.6g}, grad={self.grad:.6g}{label})"


# Ops with a folded number on the left (k - x, k / x, k ** x), and the symbol to print.
_CONST_FIRST = {"r-": "-", "r/": "/", "r**": "**"}


def _node(data: float, parents: tuple, op: str, local: tuple) -> Value:
    """Fast constructor for op results (inputs were validated already)."""
    out = object.__new__(Value)
    out.data = data
    out.grad = 0.0
    out.label = ""
    out._in = parents
    out._local = local
    out._op = op
    out._const = None
    out._seq = next_seq()
    return out


def _node1(data: float, parent: Value, op: str, local: float, const: float | None = None
           ) -> Value:
    """A one-input node; ``const`` is a folded Python number (``op_label`` shows it)."""
    out = object.__new__(Value)
    out.data = data
    out.grad = 0.0
    out.label = ""
    out._in = parent
    out._local = local
    out._op = op
    out._const = const
    out._seq = next_seq()
    return out


def _number(x: object, op: str) -> float:
    if type(x) is float:
        return x
    if type(x) is int:  # not bool: type() is exact
        return float(x)
    return _check_number(x, f"Value {op}")


def _check_divisor(a: float, b: float) -> None:
    if b == 0.0:
        raise ZeroDivisionError(f"Value /: division of {a} by zero")


def _power(a: float, b: float) -> tuple[float, float, float]:
    """a ** b and its partial derivatives b a^(b-1) (base) and a^b ln a (exponent)."""
    if a < 0 and not b.is_integer():
        raise ValueError(
            f"Value **: a negative base {a} with the non-integer exponent {b} has no real result"
        )
    if a == 0 and b < 0:
        raise ZeroDivisionError(f"Value **: 0.0 raised to the negative power {b}")
    try:
        out = a ** b
    except OverflowError:
        out = math.inf
    if a == 0 and b < 1:
        d_base = 0.0 if b == 0 else math.inf    # the slope of a^b at 0 for 0 < b < 1
    else:
        d_base = b * a ** (b - 1)
    if a > 0:
        d_exp = out * math.log(a)
    elif a == 0:
        d_exp = 0.0                             # a^b = 0 for every b > 0 near here
    else:
        d_exp = math.nan                        # (-2)^b is not real for b near an integer
    return out, d_base, d_exp


def weighted_sum(ws: Sequence[Value], xs: Sequence[Value | float], bias: Value) -> Value:
    """sum_i w_i x_i + b as ONE node: a neuron's pre-activation.

    Its local derivatives are what the chain of multiplies and adds would give: x_i for
    w_i, w_i for x_i (when x_i is a Value) and 1 for b. One node instead of 2n keeps
    scalar networks fast enough to train and their graph pictures readable.
    """
    if len(ws) != len(xs):
        raise ValueError(f"weighted_sum: {len(ws)} weights but {len(xs)} inputs")
    parents: list = []
    local: list = []
    total = bias.data
    for w, x in zip(ws, xs):
        if isinstance(x, Value):
            xd = x.data
            parents += (w, x)
            local += (xd, w.data)
        else:
            xd = _number(x, "weighted_sum")
            parents.append(w)
            local.append(xd)
        total += w.data * xd
    parents.append(bias)
    local.append(1.0)
    return _node(total, tuple(parents), "Σ w·x + b", tuple(local))
