"""Convolution layers: ``Conv1d`` and ``Conv2d``, PyTorch's arguments, shapes and init.

A convolution slides a small kernel over the input, so one set of weights looks for the
same pattern everywhere in an image: far fewer weights than a Linear layer over all
pixels, and a pattern learned in one corner is recognised in every other.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..ops import ShapeError
from ..ops.conv import _ints, conv1d, conv2d
from ..ops.padding import pad
from ..tensor import Tensor, as_tensor, get_default_dtype
from . import init
from .module import Module, Parameter

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    """What Conv1d and Conv2d share: checks, the weight (out_channels, in_channels/groups,
    *kernel_size), the init, and padding modes other than zeros (an ``F.pad`` first)."""

    dims = 2
    conv = staticmethod(conv2d)  # the function each subclass applies

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any,
                 padding: Any, dilation: Any, groups: int, bias: bool,
                 padding_mode: str) -> None:
        super().__init__()
        name, dims = type(self).__name__, self.dims
        if in_channels < 1 or out_channels < 1:
            raise ValueError(f"{name}: channel counts must be positive, got in_channels="
                             f"{in_channels}, out_channels={out_channels}")
        if not isinstance(groups, int) or groups < 1 or in_channels % groups \
                or out_channels % groups:
            raise ValueError(f"{name}: groups={groups!r} must be a positive int dividing both "
                             f"in_channels={in_channels} and out_channels={out_channels}")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"{name}: padding_mode must be one of {_PADDING_MODES}, got "
                             f"{padding_mode!r}")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = _ints(kernel_size, dims, "kernel_size", name, 1)
        self.stride = _ints(stride, dims, "stride", name, 1)
        self.dilation = _ints(dilation, dims, "dilation", name, 1)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"{name}: padding must be an int, a tuple, 'same' or 'valid', "
                                 f"got {padding!r}")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError(f"{name}: padding='same' needs stride 1, got stride "
                                 f"{self.stride}")
            self.padding: str | tuple[int, ...] = padding
            totals = [0] * dims if padding == "valid" else \
                [d * (k - 1) for d, k in zip(self.dilation, self.kernel_size)]
            sides = [(t // 2, t - t // 2) for t in totals]
        else:
            self.padding = _ints(padding, dims, "padding", name, 0)
            sides = [(p, p) for p in self.padding]
        self.padding_mode = padding_mode
        # F.pad's tuple: last axis first
        self._pad_widths = tuple(p for lohi in reversed(sides) for p in lohi)
        dtype = get_default_dtype()
        shape = (out_channels, in_channels // groups) + self.kernel_size
        self.weight = Parameter(np.empty(shape, dtype=dtype))
        self.bias = Parameter(np.empty(out_channels, dtype=dtype)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's: W uniform in +-1/sqrt(fan_in) (what kaiming_uniform_ with a=sqrt(5)
        works out to), b too; fan_in = in_channels/groups * kernel area."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1] * math.prod(self.kernel_size)
            bound = 1 / math.sqrt(fan_in)
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input: Any) -> Tensor:
        x, padding = self._conv_input(self._check_input(input))
        return self.conv(x, self.weight, self.bias, self.stride, padding, self.dilation,
                         self.groups)

    def _check_input(self, input: Any) -> Tensor:
        x = input if isinstance(input, Tensor) else as_tensor(input)
        dims, name = self.dims, type(self).__name__
        if x.ndim in (dims + 1, dims + 2) and x.shape[-dims - 1] != self.in_channels:
            where = self._path()
            label = name if where == name else f"{name} at {where}"
            raise ShapeError(f"{label}: expected {self.in_channels} input channels, got "
                             f"{x.shape[-dims - 1]} (input shape {x.shape}; the channels are "
                             f"axis {-dims - 1})")
        return x

    def _conv_input(self, x: Tensor) -> tuple[Tensor, Any]:
        """The input and padding to convolve with: padding modes other than zeros pad
        first (reflect, replicate, circular), then convolve without padding."""
        if self.padding_mode == "zeros" or not any(self._pad_widths):
            return x, self.padding
        return pad(x, self._pad_widths, mode=self.padding_mode), 0

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0,) * self.dims:
            s += f", padding={self.padding!r}"
        if self.dilation != (1,) * self.dims:
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode!r}"
        return s


class Conv2d(_ConvNd):
    """2-D convolution over (N, C, H, W) or (C, H, W): weight (out_channels,
    in_channels/groups, kH, kW), bias (out_channels,)."""

    dims = 2

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, dilation: Any = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros") -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode)



class Conv1d(_ConvNd):
    """1-D convolution over (N, C, L) or (C, L): weight (out_channels, in_channels/groups,
    kernel_size), bias (out_channels,)."""

    dims = 1
    conv = staticmethod(conv1d)

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, dilation: Any = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros") -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode)

