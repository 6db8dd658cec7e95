"""Normalisation layers: ``BatchNorm1d`` and ``BatchNorm2d``.

Batch norm standardises each channel with the statistics of the current batch while
training, which keeps every layer's inputs on a steady scale however the weights before
it move (so larger learning rates work). A prediction must not depend on the rest of its
batch, so the layer also keeps running averages of those statistics (buffers, saved in
the state dict, never trained) and uses them in ``eval()``.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..ops import ShapeError
from ..ops.norm import batch_norm
from ..tensor import Tensor, as_tensor, get_default_dtype
from .module import Module, Parameter


class _BatchNorm(Module):
    """PyTorch's BatchNorm: ``weight`` (ones) and ``bias`` (zeros) when ``affine``; buffers
    ``running_mean`` (zeros), ``running_var`` (ones), ``num_batches_tracked`` (0, int64)
    when ``track_running_stats``. ``momentum=None`` makes the running statistics plain
    averages over all batches seen."""

    ranks: tuple = ()
    shapes = ""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True) -> None:
        super().__init__()
        if num_features < 1:
            raise ValueError(f"{type(self).__name__}: num_features must be positive, got "
                             f"{num_features}")
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        dtype = get_default_dtype()
        self.weight = Parameter(np.ones(num_features, dtype)) if affine else None
        self.bias = Parameter(np.zeros(num_features, dtype)) if affine else None
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(num_features, dtype)))
            self.register_buffer("running_var", Tensor(np.ones(num_features, dtype)))
            self.register_buffer("num_batches_tracked", Tensor(np.array(0, dtype=np.int64)))
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)

    running_mean: Tensor | None   # buffers (register_buffer): None without running stats
    running_var: Tensor | None
    num_batches_tracked: Tensor | None
    weight: Parameter | None      # None unless affine
    bias: Parameter | None

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            assert self.running_mean is not None and self.running_var is not None
            assert self.num_batches_tracked is not None
            self.running_mean.data[...] = 0
            self.running_var.data[...] = 1
            self.num_batches_tracked.data[...] = 0

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.affine:
            assert self.weight is not None and self.bias is not None
            self.weight.data[...] = 1
            self.bias.data[...] = 0

    def forward(self, input: Any) -> Tensor:
        x = input if isinstance(input, Tensor) else as_tensor(input)
        name = type(self).__name__
        where = self._path()
        label = name if where == name else f"{name} at {where}"
        if x.ndim not in self.ranks:
            raise ShapeError(f"{label}: expected input of shape {self.shapes}, got {x.shape}")
        if x.shape[1] != self.num_features:
            raise ShapeError(f"{label}: expected {self.num_features} channels (axis 1), got "
                             f"{x.shape[1]} (input shape {x.shape})")
        factor = 0.0 if self.momentum is None else self.momentum
        count = self.num_batches_tracked
        if self.training and count is not None:  # tracking running statistics
            count.data += 1
            if self.momentum is None:  # cumulative average: the k-th batch weighs 1/k
                factor = 1.0 / float(count.data)
        # batch statistics in training, and also in eval when no running ones are kept
        use_batch = self.training or self.running_mean is None
        tracked = not self.training or self.track_running_stats
        return batch_norm(x, self.running_mean if tracked else None,
                          self.running_var if tracked else None, self.weight, self.bias,
                          use_batch, factor, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch norm over (N, C) or (N, C, L): statistics per channel C."""

    ranks = (2, 3)
    shapes = "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch norm over (N, C, H, W): statistics per channel C, over the batch and pixels."""

    ranks = (4,)
    shapes = "(N, C, H, W)"
