"""Layer normalisation: each example's features rescaled to mean 0 and variance 1.

    y = (x - mean(x)) / sqrt(var(x) + eps) * weight + bias

over the last ``len(normalized_shape)`` axes, with the biased variance (divided by n), as
in PyTorch. Unlike batch norm it needs no batch statistics, so it behaves the same in
training and evaluation and for a batch of one.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from .core import (
    Op,
    ShapeError,
    fractional,
    is_tensor,
    keepdims_shape,
    lift,
    ones,
    owned,
    work_array,
)
from .elementwise import sqrt
from .reduce import Sum


def normalise(x: Any, axes: tuple, eps: float) -> tuple[Any, Any]:
    """(x̂, 1/σ): x centred and scaled over ``axes``, composed from differentiable ops
    (Tensors) or numpy (arrays). Two passes (centre, then square), so inputs of
    magnitude 1e4 lose nothing to cancellation."""
    n = _features(x, axes)
    if is_tensor(x):
        centred = x - Sum.apply(x, axis=axes, keepdims=True) / n
        rstd = 1 / sqrt(Sum.apply(centred * centred, axis=axes, keepdims=True) / n + eps)
        return centred * rstd, rstd
    # one row per example (the normalised axes are the last ones); the row means as
    # products with a ones vector: 6 µs where .mean(axis=-1) takes 38 on G1's (1024, 64);
    # the per-row vectors worked on in place (each new 1024-vector costs ~1 µs)
    rows = x.reshape(_examples(x, axes), n)
    unit, dt = ones(n, x.dtype), x.dtype.type
    inv_n = dt(1 / max(n, 1))  # no features (an empty axis): an empty result, no error
    mean = rows @ unit
    mean *= inv_n
    centred = rows - mean[:, None]
    rstd = np.square(centred, out=work_array(centred.shape, centred.dtype)) @ unit
    rstd *= inv_n
    rstd += dt(eps)
    np.reciprocal(np.sqrt(rstd, out=rstd), out=rstd)
    centred *= rstd[:, None]  # now x̂, in the buffer this function made
    return centred.reshape(x.shape), rstd.reshape(keepdims_shape(x.shape, axes))


class LayerNorm(Op):
    """x̂ * weight + bias, x̂ = (x - mean) / sqrt(var + eps), as one op.

    Fused because the composite (sum, div, sub, mul, sum, div, add, sqrt, div, mul, add)
    was eleven nodes per call, three calls per block (docs/performance.md, G1). Its VJP
    with x̂ and 1/σ kept from the forward pass, ĝ = g * weight:

        dx = (ĝ - mean(ĝ) - x̂ mean(ĝ x̂)) / σ,   dweight = Σ g x̂,   dbias = Σ g

    the means over the normalised axes, the sums over the others. Differentiated again
    (Tensors in), the same lines run on x̂ and 1/σ recomputed from x by ``normalise``.
    On arrays, every mean and sum is a product with a ones vector, on (examples, features)
    rows: numpy's reductions over a short last axis (or over the leading ones) are slower.
    """

    name = "layer_norm"
    saves = True
    broadcasts = False  # every gradient comes out in its input's shape

    @staticmethod
    def forward(x, *affine, axes, eps, has_weight):
        xhat, rstd = normalise(x, axes, eps)
        if has_weight:
            y = xhat * affine[0]
            if len(affine) > 1:
                y += affine[1]  # in y, this op's own array
        else:
            y = xhat + affine[0] if affine else xhat
        return y, {"xhat": xhat, "rstd": rstd}

    @staticmethod
    def backward(g, out, needs, x, *affine, axes, eps, has_weight, xhat, rstd):
        if is_tensor(g):
            return _backward_graph(g, needs, x, affine, axes, eps, has_weight)
        n = _features(x, axes)
        m = _examples(x, axes)
        g2, xhat2 = g.reshape(m, n), xhat.reshape(m, n)
        shape = x.shape[x.ndim - len(axes):]
        examples = ones(g2.shape[0], g.dtype)  # Σ over the examples = ones @ rows
        # g x̂ in the thread's work buffer; g itself is ours to overwrite with dx (see
        # autograd.backpropagate), so the only new arrays are the gradients
        own = owned(g, xhat.dtype)
        gxhat = np.multiply(g2, xhat2, out=work_array((m, n), g.dtype)) if own else g2 * xhat2
        grads: list = [None]
        if has_weight:
            grads.append((examples @ gxhat).reshape(shape) if needs[1] else None)
        if len(affine) > has_weight:
            grads.append((examples @ g2).reshape(shape) if needs[-1] else None)
        if needs[0]:  # mean(ĝ) = g·w / n and mean(ĝ x̂) = (g x̂)·w / n: matrix-vector
            w = affine[0].reshape(-1) if has_weight else ones(n, g.dtype)
            k = max(n, 1)  # (no features: an empty result, no warning)
            mean_g, mean_gxhat = (g2 @ w) / k, (gxhat @ w) / k
            if own:  # ĝ, then dx, in g's buffer; x̂ mean(ĝ x̂) in gxhat's
                gx = np.multiply(g2, w, out=g2) if has_weight else g2
                second = np.multiply(xhat2, mean_gxhat[:, None], out=gxhat)
            else:
                gx = g2 * w if has_weight else g2.copy()
                second = xhat2 * mean_gxhat[:, None]
            gx -= mean_g[:, None]
            gx -= second
            gx *= rstd.reshape(m, 1)
            grads[0] = gx.reshape(x.shape)
        return grads


def _examples(x: Any, axes: tuple) -> int:
    """How many examples (rows) x holds: the product of the axes not normalised.
    (math.prod: np.prod takes ~5 µs on a short tuple, this op's whole budget is ~100.)"""
    return math.prod(x.shape[:x.ndim - len(axes)])


def _features(x: Any, axes: tuple) -> int:
    """How many features each example has: the product of the normalised axes."""
    return math.prod(x.shape[a] for a in axes)


def _backward_graph(g: Any, needs: Any, x: Any, affine: tuple, axes: tuple, eps: float,
                    has_weight: bool) -> list:
    """LayerNorm's VJP on Tensors (``create_graph=True``), recorded so that it can be
    differentiated again: the docstring's lines, on x̂ and 1/σ recomputed from x."""
    xhat, rstd = normalise(x, axes, eps)
    lead = tuple(range(x.ndim - len(axes)))  # the axes a weight is shared across
    n = _features(x, axes)
    ghat = g * affine[0] if has_weight else g
    gx = None
    if needs[0]:
        mean_g = ghat.sum(axis=axes, keepdims=True) / n
        mean_gx = (ghat * xhat).sum(axis=axes, keepdims=True) / n
        gx = (ghat - mean_g - xhat * mean_gx) * rstd
    grads = [gx]
    if has_weight:
        grads.append((g * xhat).sum(axis=lead) if needs[1] else None)
    if len(affine) > has_weight:
        grads.append(g.sum(axis=lead) if needs[-1] else None)
    return grads


def _shape(normalized_shape: Any) -> tuple:
    if isinstance(normalized_shape, (int, np.integer)):
        return (int(normalized_shape),)
    return tuple(int(n) for n in normalized_shape)


def layer_norm(input: Any, normalized_shape: Any, weight: Any = None, bias: Any = None,
               eps: float = 1e-5) -> Any:
    """Normalise ``input`` over its last axes, which must have ``normalized_shape``; then
    scale by ``weight`` and shift by ``bias`` (both of that shape) when given."""
    x = fractional(input, "layer_norm")
    shape = _shape(normalized_shape)
    k = len(shape)
    if k == 0 or x.ndim < k or x.shape[x.ndim - k:] != shape:
        raise ShapeError(f"layer_norm: normalized_shape {shape} must match the last "
                         f"{k} dimensions of the input, got input shape {x.shape}")
    affine = []
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None:
            p = p if is_tensor(p) else lift(p, x, "layer_norm")
            if p.shape != shape:
                raise ShapeError(f"layer_norm: {name} of shape {p.shape} does not match "
                                 f"normalized_shape {shape}")
            affine.append(p if p.dtype == x.dtype else p.astype(x.dtype))
    if not eps >= 0:
        raise ValueError(f"layer_norm: eps must be non-negative, got {eps}")
    axes = tuple(range(x.ndim - k, x.ndim))
    return LayerNorm.apply(x, *affine, axes=axes, eps=float(eps), has_weight=weight is not None)
