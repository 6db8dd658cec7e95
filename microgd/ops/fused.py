"""Fused ops: each could be composed from the primitives (and once was); each is one op
with its own backward because a measurement said so — its docstring says which.
"""
from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from .core import Op, is_tensor, ones
from .reduce import row_max, row_sum, softmax


class Linear(Op):
    """x W^T + b, PyTorch's layer layout (W is (out_features, in_features)).

    Fused because the composite (transpose, matmul, add) cost three nodes of Python
    bookkeeping per layer and left W's gradient transposed in memory, which made the
    optimizer's elementwise update on it slow (see docs/performance.md). Its gradients
    come out in the inputs' exact shapes (``broadcasts = False``), which holds because
    ``F.linear`` checks that the bias is ``(out_features,)``.
    """

    name = "linear"
    broadcasts = False

    @staticmethod
    def forward(x, w, b=None):
        if x.ndim > 2:  # one 2-D product, not numpy's batched matmul (a transformer's MLP)
            out = (x.reshape(-1, x.shape[-1]) @ w.T).reshape(x.shape[:-1] + (w.shape[0],))
        else:
            out = x @ w.T
        if b is None:
            return out
        if b.dtype == out.dtype:
            out += b  # a fresh array: add in place
            return out
        return out + b

    @staticmethod
    def backward(g, out, needs, x, w, b=None):
        # Leading axes folded into rows: one 2-D product each (numpy's batched matmul on
        # (32, 32, 64) was ~2x slower for a transformer's layers).
        g2 = g if g.ndim == 2 else g.reshape((-1, g.shape[-1]))
        gx = None
        if needs[0]:                                       # d/dx (x W^T) = G W
            gx = g2 @ w if g.ndim == 2 else (g2 @ w).reshape(x.shape)
        gw = None
        if needs[1]:
            x2 = x if x.ndim == 2 else x.reshape((-1, x.shape[-1]))
            gw = g2.T @ x2                                 # d/dW = G^T x, summed over rows
        gb = None
        if b is not None and needs[2]:                     # d/db = column sums of G, as a
            if is_tensor(g2) or g2.dtype.kind != "f":      # matrix-vector product
                gb = g2.sum(axis=0)                        # (core.ones)
            else:
                gb = ones(g2.shape[0], g2.dtype) @ g2
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
        z = x - row_max(x)                             # shift: exp never overflows
        e = np.exp(z)
        s = row_sum(e)
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
        if is_tensor(g):  # differentiable again: recompute softmax from x
            d = softmax(x, -1) - np.eye(x.shape[-1], dtype=x.dtype)[target]
            if reduction == "mean":
                return (d * (g / builtins.max(1, len(target) if x.ndim == 2 else 1)),)
            return (d * g if reduction == "sum" else d * g.reshape(g.shape + (1,)),)
        # arrays: scale the saved softmax by the upstream gradient, subtract it at the targets
        scale: Any  # a float, or one scale per sample (reduction="none")
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
            d[target] -= scale if reduction != "none" else scale[0]
        return (d,)


_EPS = 1e-12  # PyTorch's floor on p (1 - p) in the gradient of binary_cross_entropy


class BinaryCrossEntropy(Op):
    """-(y log p + (1 - y) log(1 - p)) elementwise, unreduced, with PyTorch's two guards.

    Its own op for correctness, not speed: forward clamps each log at -100 (so p = 0 gives
    a finite loss of 100), but the gradient must not be the clamp's (zero at p = 0);
    PyTorch's is (p - y) / max(p (1 - p), 1e-12), i.e. -1e12 at p = 0, y = 1, which no
    composition of clip and log gives. The target gets a gradient too: log(1-p) - log(p).
    """

    name = "binary_cross_entropy"

    @staticmethod
    def forward(p, y):
        with np.errstate(divide="ignore"):
            log_p = np.maximum(np.log(p), -100)
            log_q = np.maximum(np.log1p(-p), -100)
        return -(y * log_p + (1 - y) * log_q)

    @staticmethod
    def backward(g, out, needs, p, y):
        gp = gy = None
        if needs[0]:
            gp = g * (p - y) / (p * (1 - p)).clip(_EPS, None)
        if needs[1]:
            if is_tensor(p):  # differentiable again (p is inside (0, 1) for a finite one)
                gy = g * ((1 - p).log() - p.log())
            else:
                with np.errstate(divide="ignore"):
                    logit = np.maximum(np.log1p(-p), -100) - np.maximum(np.log(p), -100)
                gy = g * logit.astype(p.dtype, copy=False)
        return gp, gy
