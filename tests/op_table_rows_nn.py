"""The op table's rows for nn.functional's layer helpers and losses: F.linear (with and
without bias), F.dropout (eval, p=0, p=1), F.one_hot, and the losses mse_loss, l1_loss,
huber_loss (delta 1, 0.5), cross_entropy (batch and one example), nll_loss,
binary_cross_entropy (also at p = 0 and 1) and binary_cross_entropy_with_logits (also at
logit 0), each with reduction mean/sum/none. Read by tests/test_op_table.py with the rows of
tests/op_table_rows.py (whose cases, domains and references these use), and checked the
same way (forward in float64 and float32, gradient with a random upstream gradient against
finite differences, Hessian-vector product).
"""
from __future__ import annotations

import numpy as np
from op_table_rows import (
    UNARY,
    Row,
    distinct,
    fixed,
    inputs,
    like,
    many,
    np_log_softmax,
    one,
    probability,
    real,
    residuals,
    unit,
    with_zeros,
)

from microgd.nn import functional as F

R = Row


# ------------------------------------------------------------------ numpy references
def np_reduce(loss, reduction):
    return {"mean": np.mean, "sum": np.sum, "none": lambda v: v}[reduction](loss)


def np_bce(p, y, reduction="mean"):
    """PyTorch clamps each log at -100, so p = 0 or 1 gives a finite loss."""
    with np.errstate(divide="ignore"):  # log(0) = -inf, then clamped
        log_p, log_q = np.maximum(np.log(p), -100), np.maximum(np.log(1 - p), -100)
    return np_reduce(-(y * log_p + (1 - y) * log_q), reduction)


def torch_bce_vjp(g, p, reduction="mean"):
    """PyTorch's BCE gradient: (p - y) / max(p (1 - p), 1e-12), so p = 0 with y = 1 gives
    -1e12 (a steep push back), not 0."""
    g = g / p.size if reduction == "mean" else g
    return [g * (p - Y_ENDS) / np.maximum(p * (1 - p), 1e-12)]


def np_huber(x, y, reduction, delta):
    d = np.abs(x - y)
    return np_reduce(np.where(d < delta, 0.5 * d ** 2, delta * (d - 0.5 * delta)), reduction)


def np_bce_with_logits(x, y, reduction):
    return np_reduce(np.logaddexp(0, x) - x * y, reduction)


def np_cross_entropy(x, target, reduction="mean"):
    picked = -np_log_softmax(x)[..., target] if x.ndim == 1 else \
        -np_log_softmax(x)[np.arange(len(target)), target]
    return np_reduce(picked, reduction)


# ------------------------------------------------------------------ constants baked into rows
TARGET = np.array([0, 3, 1, 1, 2])          # class labels for 5 rows of 4 classes
P_ENDS = np.array([0.0, 1.0, 0.0, 1.0, 0.0, 0.3])
Y_ENDS = np.array([1.0, 0.0, 0.0, 1.0, 0.4, 0.6])
REDUCTIONS = ["mean", "sum", "none"]

ROWS = [
    # -------------------------------------------------------------- linear
    R("F.linear", F.linear, lambda x, w, b: x @ w.T + b,
      many(((4, 3), (2, 3), (2,)), ((3,), (2, 3), (2,)), ((2, 4, 3), (2, 3), (2,)))),
    R("F.linear (no bias)", F.linear, lambda x, w: x @ w.T, many(((4, 3), (2, 3)))),
    # -------------------------------------------------------------- F: dropout, one_hot
    R("F.dropout (eval)", lambda x: F.dropout(x, 0.5, training=False), lambda a: a, UNARY,
      also={"F.dropout (p=0)": lambda x: F.dropout(x, 0.0)}),
    R("F.dropout (p=1)", lambda x: F.dropout(x, 1.0), np.zeros_like, UNARY),
    R("F.one_hot", lambda x: F.one_hot(x.astype(np.int64), 4), lambda a: np.eye(4)[a.astype(int)],
      one((5,)), fixed([0.0, 3.0, 1.0, 1.0, 2.0]), grad=False,
      out_dtype=np.float32),  # the default float dtype (tests/conftest.py), whatever went in
    # -------------------------------------------------------------- losses
    R("F.mse_loss", F.mse_loss, lambda x, y, reduction: np_reduce((x - y) ** 2, reduction),
      many(((4, 3), (4, 3)), ((5,), (5,)), reduction=REDUCTIONS)),
    R("F.l1_loss", F.l1_loss, lambda x, y, reduction: np_reduce(np.abs(x - y), reduction),
      many(((4, 3), (4, 3)), reduction=REDUCTIONS), distinct),
    R("F.huber_loss", F.huber_loss, np_huber,
      many(((4, 3), (4, 3)), reduction=REDUCTIONS, delta=[1.0, 0.5]), residuals),
    R("F.cross_entropy", lambda x, **o: F.cross_entropy(x, TARGET, **o),
      lambda x, **o: np_cross_entropy(x, TARGET, **o), one((5, 4), reduction=REDUCTIONS)),
    R("F.cross_entropy (one example)", lambda x, **o: F.cross_entropy(x, np.int64(2), **o),
      lambda x, **o: np_cross_entropy(x, 2, **o), one((4,), reduction=REDUCTIONS)),
    R("F.nll_loss", lambda x, **o: F.nll_loss(x, TARGET, **o),
      lambda x, reduction: np_reduce(-x[np.arange(5), TARGET], reduction),
      one((5, 4), reduction=REDUCTIONS)),
    R("F.binary_cross_entropy", F.binary_cross_entropy, np_bce,
      many(((6,), (6,)), ((2, 3), (2, 3)), reduction=REDUCTIONS), inputs(probability, unit)),
    R("F.binary_cross_entropy (p=0, p=1)",
      lambda p, **o: F.binary_cross_entropy(p, like(p, Y_ENDS), **o),
      lambda p, **o: np_bce(p, Y_ENDS, **o), one((6,), reduction=REDUCTIONS), fixed(P_ENDS),
      hessian=False, vjp=torch_bce_vjp),
    R("F.binary_cross_entropy_with_logits", F.binary_cross_entropy_with_logits,
      np_bce_with_logits, many(((6,), (6,)), ((2, 3), (2, 3)), reduction=REDUCTIONS),
      inputs(real, unit)),
    R("F.binary_cross_entropy_with_logits (x=0)", F.binary_cross_entropy_with_logits,
      np_bce_with_logits, many(((6,), (6,)), reduction=REDUCTIONS), inputs(with_zeros(real), unit)),
]
