"""The op table read by tests/test_op_table.py: adding an op is adding a row here (or in a
sibling that imports this module's Row, cases, domains and references: F.linear, F.dropout,
F.one_hot and the losses are in tests/op_table_rows_nn.py, the image ops in _cnn.py, the
sequence ops in _seq.py).

A row names the op as a user calls it (``x.sum``, ``mg.where``, ``2.5-x``, plus an optional
note in parentheses; the coverage test matches public names against it), says how to call
it in microgd (``mg``, on Tensors; ``also`` holds its other spellings, such as ``mg.sum``,
each tested in full), what numpy computes for it (``np``, on float64 arrays: the oracle),
which inputs to try (``cases``: shapes x options such as ``axis``) and where to draw them
from (``domain``: positive for ``log``, away from the kink for ``abs`` ...).
"""
from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import microgd as mg
from microgd.nn import functional as F

Case = tuple[tuple, dict]            # (one shape per input, keyword options)
Domain = Callable[[np.random.Generator, tuple], list]


# ------------------------------------------------------------------ cases
def one(*shapes: tuple, **options: list) -> list[Case]:
    """Single-input cases: every shape with every combination of the options' values."""
    return many(*[(s,) for s in shapes], **options)


def many(*shape_tuples: tuple, **options: list) -> list[Case]:
    names = list(options)
    combos = [dict(zip(names, vals)) for vals in itertools.product(*options.values())]
    return [(shapes, opts) for shapes in shape_tuples for opts in combos]


# ------------------------------------------------------------------ domains
def each(draw: Callable[[np.random.Generator, tuple], Any]) -> Domain:
    """The same distribution for every input."""
    return lambda rng, shapes: [np.array(draw(rng, s), dtype=np.float64) for s in shapes]


real = each(lambda rng, s: rng.standard_normal(s))
positive = each(lambda rng, s: rng.uniform(0.5, 2.0, s))
probability = each(lambda rng, s: rng.uniform(0.05, 0.95, s))
unit = each(lambda rng, s: rng.uniform(0.0, 1.0, s))
small_integers = each(lambda rng, s: rng.integers(-2, 3, s))  # ties, for comparisons


def away_from(*kinks: float, gap: float = 0.05) -> Domain:
    """Normal draws at least ``gap`` from each kink: a finite difference across a kink
    measures neither side's slope."""
    def draw(rng, s):
        a = np.array(rng.standard_normal(s))
        for k in kinks:
            near = np.abs(a - k) < gap
            a[near] = k + np.where(a[near] >= k, gap, -gap)
        return a
    return each(draw)


def distinct(rng: np.random.Generator, shapes: tuple) -> list:
    """All entries of all inputs at least 2/n apart: no ties for max/min/maximum/l1."""
    sizes = [int(np.prod(s)) for s in shapes]
    n = sum(sizes)
    flat = (rng.permutation(n) + rng.uniform(-0.25, 0.25, n) - n / 2) * (4.0 / n)
    parts = np.split(flat, np.cumsum(sizes)[:-1])
    return [p.reshape(s) for p, s in zip(parts, shapes)]


def inputs(*domains: Domain) -> Domain:
    """One domain per input."""
    return lambda rng, shapes: [d(rng, (s,))[0] for d, s in zip(domains, shapes)]


def with_zeros(domain: Domain) -> Domain:
    """Every other entry exactly 0 (where an initialised model starts, and pow's edge)."""
    def draw(rng, shapes):
        arrays = domain(rng, shapes)
        for a in arrays:
            a.reshape(-1)[::2] = 0.0
        return arrays
    return draw


def fixed(*arrays: Any) -> Domain:
    """Exactly these inputs: the edges (ties, kinks, clamps) where ops are easiest to get
    wrong."""
    def draw(rng, shapes):
        assert [np.shape(a) for a in arrays] == list(shapes), "fixed domain: shapes differ"
        return [np.array(a, dtype=np.float64) for a in arrays]
    return draw


def residuals(rng: np.random.Generator, shapes: tuple) -> list:
    """(input, target) pairs whose difference keeps 0.05 clear of 0 and of huber's deltas
    0.5 and 1 (the kinks of |d| and of huber)."""
    d = rng.choice([0.2, 0.3, 0.7, 0.8, 1.2, 1.8], shapes[0]) + rng.uniform(-0.05, 0.05, shapes[0])
    y = rng.standard_normal(shapes[1])
    return [y + d * rng.choice([-1.0, 1.0], shapes[0]), y]


@dataclass(frozen=True)
class Row:
    name: str
    mg: Callable[..., Any]            # microgd's call on Tensors (options as keywords)
    np: Callable[..., Any]            # numpy reference on float64 arrays (same keywords)
    cases: list[Case]
    domain: Domain = real             # how to draw the inputs
    grad: bool = True                 # False for integer/boolean results
    hessian: bool = True              # also check the second derivative
    vjp: Callable[..., list] | None = None  # closed-form VJP where finite differences
    #                                         cannot judge (kinks, clamps): PyTorch's values
    out_dtype: Any = None             # None: the input's float dtype is kept
    also: dict = field(default_factory=dict)  # other spellings of the op: {name: call}


# ------------------------------------------------------------------ numpy references
def like(x: mg.Tensor, a: np.ndarray) -> np.ndarray:
    """A constant in the tensor's dtype (a float64 array would promote a float32 graph)."""
    return a.astype(x.dtype)


def reducing(fn: Callable) -> Callable:
    """numpy refuses axis=0 on a 0-d array; PyTorch reduces the one element over it."""
    def ref(a, axis=None, **kw):
        return fn(a, axis=None if a.ndim == 0 else axis, **kw)
    return ref


@reducing
def np_logsumexp(a, axis=None, keepdims=False):
    m = a.max(axis=axis, keepdims=True)
    s = np.log(np.exp(a - m).sum(axis=axis, keepdims=True)) + m
    return s if keepdims else np.squeeze(s, axis=axis)


@reducing
def np_softmax(a, axis=-1):
    e = np.exp(a - a.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def np_log_softmax(a, axis=-1):
    return np.log(np_softmax(a, axis=axis))


def np_squeeze(a, axis=None):
    """PyTorch's squeeze: an axis whose size is not 1 is left as it is."""
    axes = range(a.ndim) if axis is None else np.atleast_1d(axis) % max(a.ndim, 1)
    return a.reshape([n for i, n in enumerate(a.shape) if not (i in axes and n == 1)])


def np_flatten(a, start_dim=0):
    return a.reshape(-1) if a.ndim == 0 else a.reshape(a.shape[:start_dim % a.ndim] + (-1,))


def np_index(index):
    if isinstance(index, tuple):
        return tuple(np_index(i) for i in index)
    return index.data if isinstance(index, mg.Tensor) else index


def split_at_ties(wins: Callable) -> Callable:
    """maximum/minimum's VJP: the winner takes g, a tie gives each input half (PyTorch)."""
    return lambda g, a, b: [g * np.where(a == b, 0.5, wins(a, b)),
                            g * np.where(a == b, 0.5, wins(b, a))]


# ------------------------------------------------------------------ constants baked into rows
ARR = np.array([[0.7, 1.3, 2.1]])           # an ndarray operand, (1, 3), positive
COND = np.random.default_rng(7).random((3, 4)) > 0.5
MASK = np.random.default_rng(8).random((2, 3, 4)) > 0.5
M34 = np.random.default_rng(9).standard_normal((4, 3))

BROADCAST = [((3, 4), (3, 4)), ((3, 1), (1, 4)), ((5,), (2, 3, 5)), ((), (3, 4)),
             ((3, 4), ()), ((2, 1, 4), (3, 1)), ((1,), (4,))]
MATMUL = [((3, 4), (4, 5)), ((4,), (4, 5)), ((3, 4), (4,)), ((4,), (4,)), ((2, 3, 4), (4, 5)),
          ((3, 4), (2, 4, 5)), ((2, 1, 3, 4), (5, 4, 2)), ((4,), (2, 4, 3)), ((2, 3, 4), (4,))]
UNARY = one((), (5,), (2, 3))
SCALAR_SIDE = one((2, 3))
REDUCE = (one((2, 3, 4), axis=[None, 1, -1, (0, -1), (-3, 1), (0, 1, 2)], keepdims=[False, True])
          + one((), axis=[0, -1], keepdims=[False, True]))
SOFTMAX = one((2, 3, 4), axis=[0, 1, -1, -3]) + one((5,)) + one((), axis=[0, -1])
PERMUTATIONS = one((3, 4, 5, 6), axes=[(1, 0, 3, 2), (-1, -2, -3, -4), (-2, -1, 1, 0),
                                       (2, -4, -1, 1)])
TIES = fixed([1.0, 2.0, 3.0, 2.0], [2.0, 2.0, 1.0, 2.0])
ZERO_TIES = fixed([0.0, 0.5, -1.0, 0.0])
COMPARE = dict(cases=many(((3, 4), (3, 4)), ((3, 1), (4,))), domain=small_integers, grad=False,
               out_dtype=np.bool_)
ARG = dict(cases=one((3, 4, 5), axis=[None, 1, -1]), domain=distinct, grad=False,
           out_dtype=np.int64)
INDEXES = [(1, slice(None), slice(1, 3)), -1, (Ellipsis, 0), (slice(None), None, 1),
           (slice(None, None, -1), 1), [0, 1, 0], (np.array([0, 0, 1]), np.array([2, 2, 0])),
           (slice(None), [1, 1, 2], 3), [-1, 0, -1], MASK, np.array([True, False]),
           mg.tensor([1, 0, 1]), mg.tensor(MASK)]

R = Row  # rows read as one line each
ROWS = [
    # -------------------------------------------------------------- arithmetic
    R("x+y", lambda a, b: a + b, np.add, many(*BROADCAST)),
    R("x-y", lambda a, b: a - b, np.subtract, many(*BROADCAST)),
    R("x*y", lambda a, b: a * b, np.multiply, many(*BROADCAST)),
    R("x/y", lambda a, b: a / b, np.divide, many(*BROADCAST), inputs(real, away_from(0, gap=0.5))),
    R("x**y", lambda a, b: a ** b, np.power, many(*BROADCAST), inputs(positive, real),
      also={"x.pow(y)": lambda a, b: a.pow(b)}),
    R("x+2.5", lambda x: x + 2.5, lambda a: a + 2.5, SCALAR_SIDE),
    R("2.5+x", lambda x: 2.5 + x, lambda a: 2.5 + a, SCALAR_SIDE),
    R("arr+x", lambda x: like(x, ARR) + x, lambda a: ARR + a, SCALAR_SIDE),
    R("x-2.5", lambda x: x - 2.5, lambda a: a - 2.5, SCALAR_SIDE),
    R("2.5-x", lambda x: 2.5 - x, lambda a: 2.5 - a, SCALAR_SIDE),
    R("arr-x", lambda x: like(x, ARR) - x, lambda a: ARR - a, SCALAR_SIDE),
    R("x*2.5", lambda x: x * 2.5, lambda a: a * 2.5, SCALAR_SIDE),
    R("2.5*x", lambda x: 2.5 * x, lambda a: 2.5 * a, SCALAR_SIDE),
    R("arr*x", lambda x: like(x, ARR) * x, lambda a: ARR * a, SCALAR_SIDE),
    R("x/2.5", lambda x: x / 2.5, lambda a: a / 2.5, SCALAR_SIDE),
    R("2.5/x", lambda x: 2.5 / x, lambda a: 2.5 / a, SCALAR_SIDE, positive),
    R("arr/x", lambda x: like(x, ARR) / x, lambda a: ARR / a, SCALAR_SIDE, positive),
    R("x**2", lambda x: x ** 2, lambda a: a ** 2, UNARY),
    R("x.pow(3)", lambda x: x.pow(3), lambda a: a ** 3, UNARY),
    R("x.pow(0.5)", lambda x: x.pow(0.5), np.sqrt, UNARY, positive),
    R("x**-1.5", lambda x: x ** -1.5, lambda a: a ** -1.5, UNARY, positive),
    R("2.5**x", lambda x: 2.5 ** x, lambda a: 2.5 ** a, SCALAR_SIDE),
    R("arr**x", lambda x: like(x, ARR) ** x, lambda a: ARR ** a, SCALAR_SIDE),
    R("x**arr", lambda x: x ** like(x, ARR), lambda a: a ** ARR, SCALAR_SIDE, positive),
    R("x**0 (x=0)", lambda x: x ** 0, lambda a: a ** 0, one((6,)), with_zeros(real)),
    R("0.0**x", lambda x: 0.0 ** x, lambda a: 0.0 ** a, one((6,)), positive),
    R("-x", lambda x: -x, np.negative, UNARY),
    R("+x", lambda x: +x, np.positive, UNARY),
    R("mg.maximum", mg.maximum, np.maximum, many(*BROADCAST), distinct),
    R("mg.minimum", mg.minimum, np.minimum, many(*BROADCAST), distinct),
    R("mg.maximum (ties)", mg.maximum, np.maximum, many(((4,), (4,))), TIES, hessian=False,
      vjp=split_at_ties(np.greater)),
    R("mg.minimum (ties)", mg.minimum, np.minimum, many(((4,), (4,))), TIES, hessian=False,
      vjp=split_at_ties(np.less)),
    R("mg.maximum (a number)", lambda x: mg.maximum(x, 0.3), lambda a: np.maximum(a, 0.3),
      UNARY, away_from(0.3)),
    R("mg.maximum (a number, ties)", lambda x: mg.maximum(x, 0.0), lambda a: np.maximum(a, 0.0),
      one((4,)), ZERO_TIES, hessian=False, vjp=lambda g, a: split_at_ties(np.greater)(g, a, 0)[:1]),
    R("mg.minimum (a number, ties)", lambda x: mg.minimum(x, 0.0), lambda a: np.minimum(a, 0.0),
      one((4,)), ZERO_TIES, hessian=False, vjp=lambda g, a: split_at_ties(np.less)(g, a, 0)[:1]),
    R("mg.where", lambda a, b: mg.where(COND, a, b), lambda a, b: np.where(COND, a, b),
      many(((3, 4), (1, 4)), ((), (3, 4)))),
    R("mg.where (Tensor cond, number)", lambda x: mg.where(mg.tensor(COND), x, 0.0),
      lambda a: np.where(COND, a, 0.0), one((3, 4))),
    # -------------------------------------------------------------- unary
    R("x.exp", lambda x: x.exp(), np.exp, UNARY, also={"mg.exp": mg.exp}),
    R("x.log", lambda x: x.log(), np.log, UNARY, positive, also={"mg.log": mg.log}),
    R("x.sqrt", lambda x: x.sqrt(), np.sqrt, UNARY, positive, also={"mg.sqrt": mg.sqrt}),
    R("x.abs", lambda x: x.abs(), np.abs, UNARY, away_from(0), also={"mg.abs": mg.abs}),
    R("x.abs (x=0)", lambda x: x.abs(), np.abs, one((3,)), fixed([-1.0, 0.0, 2.0]),
      hessian=False, vjp=lambda g, a: [g * np.sign(a)]),
    R("x.relu", lambda x: x.relu(), lambda a: np.maximum(a, 0), UNARY, away_from(0),
      also={"mg.relu": mg.relu, "F.relu": F.relu}),
    R("x.relu (x=0)", lambda x: x.relu(), lambda a: np.maximum(a, 0), one((3,)),
      fixed([-1.0, 0.0, 2.0]), hessian=False, vjp=lambda g, a: [g * (a > 0)]),
    R("x.tanh", lambda x: x.tanh(), np.tanh, UNARY, also={"mg.tanh": mg.tanh, "F.tanh": F.tanh}),
    R("x.sigmoid", lambda x: x.sigmoid(), lambda a: 1 / (1 + np.exp(-a)), UNARY,
      also={"mg.sigmoid": mg.sigmoid, "F.sigmoid": F.sigmoid}),
    R("x.softplus", lambda x: x.softplus(), lambda a: np.logaddexp(0, a), UNARY),
    R("mg.softplus", mg.softplus, lambda a: np.logaddexp(0, a), one((4,)),
      fixed([-30.0, 0.0, 1.5, 30.0])),  # no overflow at either end, smooth at 0
    R("x.clone", lambda x: x.clone(), np.copy, UNARY),
    R("x.clip", lambda x: x.clip(-0.5, 0.7), lambda a: np.clip(a, -0.5, 0.7), UNARY,
      away_from(-0.5, 0.7)),
    R("mg.clip (lo only)", lambda x: mg.clip(x, -0.5), lambda a: np.maximum(a, -0.5), UNARY,
      away_from(-0.5)),
    R("x.clip (hi only)", lambda x: x.clip(None, 0.7), lambda a: np.minimum(a, 0.7), UNARY,
      away_from(0.7)),
    R("x.clip (at the bounds)", lambda x: x.clip(-0.5, 0.7), lambda a: np.clip(a, -0.5, 0.7),
      one((4,)), fixed([-0.5, 0.7, 0.0, 2.0]), hessian=False,
      vjp=lambda g, a: [g * ((a >= -0.5) & (a <= 0.7))]),  # torch.clamp: bounds pass
    R("x.astype(float64)", lambda x: x.astype(np.float64), lambda a: a, UNARY,
      out_dtype=np.float64),
    R("x.astype(float32)", lambda x: x.astype(np.float32), lambda a: a.astype(np.float32),
      UNARY, out_dtype=np.float32, hessian=False,  # float32 rounding: no finite differences
      vjp=lambda g, a: [g]),
    R("x.astype(int64)", lambda x: x.astype(np.int64), lambda a: a.astype(np.int64), UNARY,
      grad=False, out_dtype=np.int64),
    # -------------------------------------------------------------- comparisons, arg-reductions
    R("x==y", lambda a, b: a == b, np.equal, **COMPARE),
    R("x!=y", lambda a, b: a != b, np.not_equal, **COMPARE),
    R("x<y", lambda a, b: a < b, np.less, **COMPARE),
    R("x<=y", lambda a, b: a <= b, np.less_equal, **COMPARE),
    R("x>y", lambda a, b: a > b, np.greater, **COMPARE),
    R("x>=y", lambda a, b: a >= b, np.greater_equal, **COMPARE),
    R("x.argmax", lambda x, **o: x.argmax(**o), lambda a, **o: np.argmax(a, **o), **ARG),
    R("x.argmin", lambda x, **o: x.argmin(**o), lambda a, **o: np.argmin(a, **o), **ARG),
    # -------------------------------------------------------------- reductions
    R("x.sum", lambda x, **o: x.sum(**o), reducing(np.sum), REDUCE, also={"mg.sum": mg.sum}),
    R("x.mean", lambda x, **o: x.mean(**o), reducing(np.mean), REDUCE, also={"mg.mean": mg.mean}),
    R("x.max", lambda x, **o: x.max(**o), reducing(np.max), REDUCE, distinct,
      also={"mg.max": mg.max}),
    R("x.max (ties)", lambda x: x.max(), np.max, one((4,)), fixed([1.0, 3.0, 3.0, 2.0]),
      hessian=False,  # ties share the gradient, as in torch.max()
      vjp=lambda g, a: [g * (a == a.max()) / np.sum(a == a.max())]),
    R("x.min", lambda x, **o: x.min(**o), reducing(np.min), REDUCE, distinct,
      also={"mg.min": mg.min}),
    R("x.var", lambda x, **o: x.var(**o), reducing(np.var),
      REDUCE + one((2, 3, 4), axis=[None, 0, (0, -1)], ddof=[1]), also={"mg.var": mg.var}),
    R("x.logsumexp", lambda x, **o: x.logsumexp(**o), np_logsumexp, REDUCE,
      also={"mg.logsumexp": mg.logsumexp}),
    R("x.softmax", lambda x, **o: x.softmax(**o), np_softmax, SOFTMAX,
      also={"mg.softmax": mg.softmax, "F.softmax": F.softmax}),
    R("x.log_softmax", lambda x, **o: x.log_softmax(**o), np_log_softmax, SOFTMAX,
      also={"mg.log_softmax": mg.log_softmax, "F.log_softmax": F.log_softmax}),
    # -------------------------------------------------------------- shapes and indexing
    R("x.reshape", lambda x, shape: x.reshape(shape), np.reshape,
      one((2, 3, 4), shape=[(4, 6), (6, -1), (-1,), (2, 1, 12)]) + one((), shape=[(1, 1)]),
      also={"x.reshape(*shape)": lambda x, shape: x.reshape(*shape), "mg.reshape": mg.reshape}),
    R("x.transpose", lambda x, axes: x.transpose(axes), np.transpose, PERMUTATIONS,
      also={"x.transpose(*axes)": lambda x, axes: x.transpose(*axes),
            "mg.transpose": mg.transpose}),
    R("x.T", lambda x: x.T, np.transpose, one((), (4,), (3, 4), (2, 3, 4)),
      also={"x.transpose()": lambda x: x.transpose()}),
    R("x.swapaxes", lambda x, ab: x.swapaxes(*ab), lambda a, ab: np.swapaxes(a, *ab),
      one((2, 3, 4), ab=[(0, -1), (-2, 2), (1, 1), (-3, -1)]),
      also={"mg.swapaxes": lambda x, ab: mg.swapaxes(x, *ab)}),
    R("x.flatten", lambda x, **o: x.flatten(**o), np_flatten,
      one((2, 3, 4), start_dim=[0, 1, -1, -2]) + one((), start_dim=[0, -1]),
      also={"mg.flatten": mg.flatten}),
    R("x.squeeze", lambda x, **o: x.squeeze(**o), np_squeeze,
      one((2, 1, 3, 1), axis=[None, 1, -1, (1, -1), -3, 0, (0, 1)]) + one((), axis=[0, -1]),
      also={"mg.squeeze": mg.squeeze}),
    R("x.unsqueeze", lambda x, axis: x.unsqueeze(axis), np.expand_dims,
      one((2, 3, 4), axis=[0, 2, 3, -1, -4]) + one((), axis=[0, -1]),
      also={"mg.unsqueeze": mg.unsqueeze}),
    R("x.broadcast_to", lambda x, shape: x.broadcast_to(shape), np.broadcast_to,
      one((3, 1, 4), shape=[(2, 3, 5, 4), (3, 2, 4)]) + one((), shape=[(3, 2)]),
      also={"mg.broadcast_to": mg.broadcast_to}),
    R("mg.concatenate", lambda a, b, axis: mg.concatenate([a, b, a], axis=axis),
      lambda a, b, axis: np.concatenate([a, b, a], axis=axis),
      many(((2, 3, 4), (2, 3, 4)), axis=[0, 1, -1, -3]) + many(((2, 3), (2, 5)), axis=[1, -1])),
    R("mg.stack", lambda a, b, c, axis: mg.stack([a, b, c], axis=axis),
      lambda a, b, c, axis: np.stack([a, b, c], axis=axis),
      many(((2, 3),) * 3, axis=[0, 1, 2, -1, -3]) + many(((),) * 3, axis=[0, -1])),
    R("x[index]", lambda x, index: x[index], lambda a, index: a[np_index(index)],
      one((2, 3, 4), index=INDEXES)),
    # -------------------------------------------------------------- matmul
    R("x@y", lambda a, b: a @ b, np.matmul, many(*MATMUL),
      also={"mg.matmul": mg.matmul, "x.matmul": lambda a, b: a.matmul(b)}),
    R("x@arr", lambda x: x @ like(x, M34), lambda a: a @ M34, one((2, 4), (4,))),
    R("arr@x", lambda x: like(x, M34) @ x, lambda a: M34 @ a, one((3, 2), (3,))),
]
