"""Layer normalisation: each example's features rescaled to mean 0 and variance 1.

    y = (x - mean(x)) / sqrt(var(x) + eps) * weight + bias

over the last ``len(normalized_shape)`` axes, with the biased variance (divided by n), as
in PyTorch. Unlike batch norm it needs no batch statistics, so it behaves the same in
training and evaluation and for a batch of one.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .core import Op, ShapeError, fractional, is_tensor, lift
from .elementwise import sqrt
from .reduce import Sum


def normalise(x: Any, axes: tuple, eps: float) -> tuple[Any, Any]:
    """(x̂, 1/σ): x centred and scaled over ``axes``, composed from differentiable ops
    (Tensors) or numpy (arrays). Two passes (centre, then square), so inputs of
    magnitude 1e4 lose nothing to cancellation."""
    n = int(np.prod([x.shape[a] for a in axes]))
    if is_tensor(x):
        centred = x - Sum.apply(x, axis=axes, keepdims=True) / n
        rstd = 1 / sqrt(Sum.apply(centred * centred, axis=axes, keepdims=True) / n + eps)
    else:
        centred = x - x.mean(axis=axes, keepdims=True)
        rstd = 1 / np.sqrt((centred * centred).mean(axis=axes, keepdims=True) + eps)
    return centred * rstd, rstd


class LayerNorm(Op):
    """x̂ * weight + bias, x̂ = (x - mean) / sqrt(var + eps), as one op.

    Fused because the composite (sum, div, sub, mul, sum, div, add, sqrt, div, mul, add)
    was eleven nodes per call, three calls per block (docs/performance.md, G1). Its VJP
    with x̂ and 1/σ kept from the forward pass, ĝ = g * weight:

        dx = (ĝ - mean(ĝ) - x̂ mean(ĝ x̂)) / σ,   dweight = Σ g x̂,   dbias = Σ g

    the means over the normalised axes, the sums over the others. Differentiated again
    (Tensors in), the same lines run on x̂ and 1/σ recomputed from x by ``normalise``.
    """

    name = "layer_norm"
    saves = True
    broadcasts = False  # every gradient comes out in its input's shape

    @staticmethod
    def forward(x, *affine, axes, eps, has_weight):
        xhat, rstd = normalise(x, axes, eps)
        y = xhat
        if has_weight:
            y = y * affine[0]
        if len(affine) > has_weight:
            y = y + affine[-1]
        return y, {"xhat": xhat, "rstd": rstd}

    @staticmethod
    def backward(g, out, needs, x, *affine, axes, eps, has_weight, xhat, rstd):
        if is_tensor(g):
            xhat, rstd = normalise(x, axes, eps)
        lead = tuple(range(x.ndim - len(axes)))  # the axes a weight is shared across
        n = int(np.prod([x.shape[a] for a in axes]))
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
