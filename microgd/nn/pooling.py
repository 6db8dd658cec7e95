"""Pooling layers: ``MaxPool1d/2d``, ``AvgPool1d/2d``, ``AdaptiveAvgPool2d``.

Pooling shrinks an image by summarising each small window (its maximum, or its mean):
fewer numbers for the next layer, and a little indifference to exactly where in the
window a feature was found. No weights.
"""
from __future__ import annotations

from typing import Any

from ..ops import pool
from ..tensor import Tensor, as_tensor
from .module import Module


class _MaxPoolNd(Module):
    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 dilation: Any = 1, return_indices: bool = False,
                 ceil_mode: bool = False) -> None:
        super().__init__()
        if return_indices:
            raise ValueError(f"{type(self).__name__}: return_indices=True is not supported")
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride  # PyTorch's default
        self.padding, self.dilation, self.ceil_mode = padding, dilation, ceil_mode

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool2d(_MaxPoolNd):
    """The maximum of each kernel_size window of (N, C, H, W) or (C, H, W)."""

    def forward(self, input: Tensor) -> Tensor:
        return pool.max_pool2d(_tensor(input), self.kernel_size, self.stride, self.padding,
                               self.dilation, self.ceil_mode)


class MaxPool1d(_MaxPoolNd):
    """The maximum of each window of (N, C, L) or (C, L)."""

    def forward(self, input: Tensor) -> Tensor:
        return pool.max_pool1d(_tensor(input), self.kernel_size, self.stride, self.padding,
                               self.dilation, self.ceil_mode)


class _AvgPoolNd(Module):
    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad = count_include_pad

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(_AvgPoolNd):
    """The mean of each kernel_size window of (N, C, H, W) or (C, H, W)."""

    def forward(self, input: Tensor) -> Tensor:
        return pool.avg_pool2d(_tensor(input), self.kernel_size, self.stride, self.padding,
                               self.ceil_mode, self.count_include_pad)


class AvgPool1d(_AvgPoolNd):
    """The mean of each window of (N, C, L) or (C, L)."""

    def forward(self, input: Tensor) -> Tensor:
        return pool.avg_pool1d(_tensor(input), self.kernel_size, self.stride, self.padding,
                               self.ceil_mode, self.count_include_pad)


class AdaptiveAvgPool2d(Module):
    """Averages down to ``output_size`` whatever the input size (windows tile the input)."""

    def __init__(self, output_size: Any) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, input: Tensor) -> Tensor:
        return pool.adaptive_avg_pool2d(_tensor(input), self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


def _tensor(x: Any) -> Tensor:
    """Layers take numpy arrays too (a batch straight from a dataset)."""
    return x if isinstance(x, Tensor) else as_tensor(x)
