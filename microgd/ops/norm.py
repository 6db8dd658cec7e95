"""Batch normalisation: each channel standardised to mean 0 and variance 1, then scaled
and shifted by learned per-channel weights (Ioffe & Szegedy, 2015).

In training the statistics are the batch's own (so the gradient flows through them too:
a composition of mean, subtraction and division, no backward of its own needed), and
running averages of them are kept for evaluation, where they are constants.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .core import ShapeError, count, data, fractional, lift
from .elementwise import sqrt


def batch_norm(input: Any, running_mean: Any, running_var: Any, weight: Any = None,
               bias: Any = None, training: bool = False, momentum: float = 0.1,
               eps: float = 1e-5) -> Any:
    """Normalise (N, C, ...) per channel C over the batch and every further axis.

    ``training=True``: use the batch mean and (biased) variance, and update the running
    statistics in place, if given: r <- (1 - momentum) r + momentum * s, with the unbiased
    variance (n / (n - 1) times the biased one), as PyTorch does. ``training=False``: use
    the running statistics.
    """
    x = fractional(input, "batch_norm")
    if x.ndim < 2:
        raise ShapeError(f"batch_norm: expected an input (N, C, ...) with at least 2 "
                         f"dimensions, got shape {x.shape}")
    channels = x.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is not None and np.shape(data(t)) != (channels,):
            raise ShapeError(f"batch_norm: {name} of shape {np.shape(data(t))} does not match "
                             f"the {channels} channels of the input {x.shape}: expected "
                             f"({channels},)")
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, channels) + (1,) * (x.ndim - 2)
    if training:
        n = count(x.shape, axes)
        if n <= 1:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when "
                             f"training, got input of shape {x.shape}")
        mean = x.mean(axis=axes, keepdims=True)
        centred = x - mean
        var = (centred * centred).mean(axis=axes, keepdims=True)
        _update(running_mean, mean.data.reshape(channels), momentum)
        _update(running_var, var.data.reshape(channels) * (n / (n - 1)), momentum)
        y = centred / sqrt(var + eps)
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: running_mean and running_var are needed when "
                             "training=False (they are the statistics it normalises with)")
        rm = np.asarray(data(running_mean), dtype=x.dtype).reshape(shape)
        scale = (1 / np.sqrt(np.asarray(data(running_var), dtype=x.dtype) + eps)).reshape(shape)
        y = (x - rm) * scale.astype(x.dtype, copy=False)
    if weight is not None:
        y = y * lift(weight, x, "batch_norm").reshape(shape)
    if bias is not None:
        y = y + lift(bias, x, "batch_norm").reshape(shape)
    return y


def _update(running: Any, stat: np.ndarray, momentum: float) -> None:
    """r <- (1 - momentum) r + momentum stat, in place (a buffer: outside any graph)."""
    if running is None:
        return
    r = data(running)
    r *= 1 - momentum
    r += (momentum * stat).astype(r.dtype, copy=False)
