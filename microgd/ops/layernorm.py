"""Layer normalisation: each example's features rescaled to mean 0 and variance 1.

    y = (x - mean(x)) / sqrt(var(x) + eps) * weight + bias

over the last ``len(normalized_shape)`` axes, with the biased variance (divided by n), as
in PyTorch. Unlike batch norm it needs no batch statistics, so it behaves the same in
training and evaluation and for a batch of one.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .core import ShapeError, fractional, is_tensor, lift
from .elementwise import sqrt
from .reduce import Sum


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
    if k == 0 or x.shape[x.ndim - k:] != shape or x.ndim < k:
        raise ShapeError(f"layer_norm: normalized_shape {shape} must match the last "
                         f"{k} dimensions of the input, got input shape {x.shape}")
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and tuple(p.shape) != shape:
            raise ShapeError(f"layer_norm: {name} of shape {tuple(p.shape)} does not match "
                             f"normalized_shape {shape}")
    if not eps >= 0:
        raise ValueError(f"layer_norm: eps must be non-negative, got {eps}")
    axes = tuple(range(x.ndim - k, x.ndim))
    n = int(np.prod(shape))
    centred = x - Sum.apply(x, axis=axes, keepdims=True) / n  # two passes: no cancellation
    var = Sum.apply(centred * centred, axis=axes, keepdims=True) / n
    y = centred / sqrt(var + eps)
    if weight is not None:
        y = y * (weight if is_tensor(weight) else lift(weight, x, "layer_norm"))
    if bias is not None:
        y = y + (bias if is_tensor(bias) else lift(bias, x, "layer_norm"))
    return y
