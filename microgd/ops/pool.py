"""Pooling: ``max_pool1d/2d``, ``avg_pool1d/2d``, ``adaptive_avg_pool2d``.

Max pooling is an op: the window's largest value goes through, and in backward the whole
gradient goes back to that one element (the first maximum in the window, PyTorch's tie
rule). It runs as a loop over the kernel's taps (4 for a 2x2 window), each step one
vectorised comparison of every window at once, never a loop over pixels.

Average pooling needs no op of its own: along one axis it is a fixed linear map, a matrix
P with a row per output position holding 1/divisor over that position's window. So
``avg_pool2d(x) = P_h @ x @ P_w^T``, two matmuls whose gradient (and second derivative) the
matmul already knows; the divisor, with or without the padding, factors into one per axis.
Adaptive pooling is the same with windows chosen to tile the input.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .conv import _ints, remembered
from .core import Op, ShapeError, constant, fractional, is_tensor, lift
from .linalg import matmul
from .shape import _scatter


# =========================================================================== sizes
def _out_size(n: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """PyTorch's pooling output length; with ceil_mode the last window may hang over the
    end, but must start inside the input or its left padding."""
    out = (n + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1
    return out


def _arguments(where: str, x: Any, dims: int, kernel_size: Any, stride: Any, padding: Any,
               dilation: Any, ceil_mode: bool) -> tuple:
    """Check the arguments; return kernel, stride, padding, dilation and output size."""
    return _checked(where, x.shape, dims, kernel_size, stride, padding, dilation, ceil_mode)


@remembered
def _checked(where: str, shape: tuple, dims: int, kernel_size: Any, stride: Any, padding: Any,
             dilation: Any, ceil_mode: bool) -> tuple:
    if len(shape) not in (dims + 1, dims + 2):
        names = "(C, L) or (N, C, L)" if dims == 1 else "(C, H, W) or (N, C, H, W)"
        raise ShapeError(f"{where}: expected a {dims + 1}-D or {dims + 2}-D input {names}, "
                         f"got shape {shape}")
    kernel = _ints(kernel_size, dims, "kernel_size", where, 1)
    stride = kernel if stride is None or stride == () or stride == [] else \
        _ints(stride, dims, "stride", where, 1)
    padding = _ints(padding, dims, "padding", where, 0)
    dilation = _ints(dilation, dims, "dilation", where, 1)
    if any(p > k // 2 for p, k in zip(padding, kernel)):
        raise ValueError(f"{where}: padding {padding} must be at most half the kernel size "
                         f"{kernel}")
    spatial = shape[-dims:]
    out = tuple(_out_size(n, k, s, p, d, ceil_mode)
                for n, k, s, p, d in zip(spatial, kernel, stride, padding, dilation))
    if any(o < 1 for o in out):
        raise ShapeError(f"{where}: input of shape {shape} is too small for kernel {kernel} "
                         f"(dilation {dilation}, padding {padding}): the output would be {out}")
    return kernel, stride, padding, dilation, out


# =========================================================================== max pooling
def _alloc(shape: tuple, like: np.ndarray, fill: Any, dtype: Any = None) -> np.ndarray:
    """An (N, C, H, W) array filled with ``fill`` (None: left unfilled), channels-last in
    memory if ``like`` is (a convolution's output is): then the steps around it (ReLU, the
    next convolution and their gradients) read every array in the same order, with no
    transposing copies."""
    n, c, h, w = shape
    dtype = like.dtype if dtype is None else dtype
    last = like.strides[1] < like.strides[3]
    out = np.empty((n, h, w, c) if last else shape, dtype=dtype)  # fill None: left empty
    if fill is not None:
        out.fill(fill)
    return out.transpose(0, 3, 1, 2) if last else out


def _taps(xp: np.ndarray, kernel: tuple, stride: tuple, dilation: tuple, out: tuple) -> list:
    """One strided view per kernel position (i, j): its value in every window at once."""
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = kernel, stride, dilation, out
    return [xp[:, :, i * dh:i * dh + (ho - 1) * sh + 1:sh, j * dw:j * dw + (wo - 1) * sw + 1:sw]
            for i in range(kh) for j in range(kw)]


def _padded_extent(x_shape: tuple, kernel: tuple, stride: tuple, padding: tuple,
                   dilation: tuple, out: tuple) -> tuple:
    """(rows, columns) of the padded input the windows reach."""
    return tuple(max((o - 1) * s + d * (k - 1) + 1, p + n)
                 for n, k, s, p, d, o in zip(x_shape[2:], kernel, stride, padding, dilation, out))


class MaxPool(Op):
    """The largest value in each window of (N, C, H, W). ``idx`` (saved) is each window's
    winning tap: the first one whose value beats every earlier tap's."""

    name = "max_pool2d"
    saves = True
    broadcasts = False

    @staticmethod
    def forward(x, kernel, stride, padding, dilation, size):
        pt, pl = padding
        hp, wp = _padded_extent(x.shape, kernel, stride, padding, dilation, size)
        h, w = x.shape[2:]
        if pt == 0 and pl == 0 and hp == h and wp == w:
            xp = x
        else:
            low = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
            xp = _alloc(x.shape[:2] + (hp, wp), x, low)
            xp[:, :, pt:pt + h, pl:pl + w] = x
        taps = _taps(xp, kernel, stride, dilation, size)
        best = taps[0].copy(order="K")
        idx = np.zeros_like(best, dtype=np.uint8 if len(taps) <= 256 else np.int32)
        for k, tap in enumerate(taps[1:], start=1):
            beats = tap > best   # strictly: an equal earlier maximum keeps the window
            np.maximum(best, tap, out=best)
            beats = beats.view(np.uint8) if idx.dtype == np.uint8 else beats.astype(idx.dtype)
            beats *= k
            np.maximum(idx, beats, out=idx)  # the last tap to beat all before it is the first max
        return best, {"idx": idx}

    @staticmethod
    def backward(g, out, needs, x, kernel, stride, padding, dilation, size, idx):
        if is_tensor(g):  # differentiable again: a scatter-add (whose VJP is a gather)
            index, flat = _winners(idx, x.shape, kernel, stride, padding, dilation)
            return (_scatter(g, index, flat).reshape(x.shape),)
        pt, pl = padding
        hp, wp = _padded_extent(x.shape, kernel, stride, padding, dilation, size)
        h, w = x.shape[2:]
        tiles = stride == kernel and dilation == (1, 1) and (hp, wp) == (
            size[0] * kernel[0], size[1] * kernel[1])
        gxp = _alloc(x.shape[:2] + (hp, wp), x, None if tiles else 0, g.dtype)  # x's layout
        if (g.strides[1] < g.strides[3]) != (idx.strides[1] < idx.strides[3]):
            # g is in the other memory order (a Flatten's gradient comes in C order, the
            # pooled map is channels-last): one copy into idx's order makes the masked
            # writes below run in step through memory, ~5x faster on C1's second pool
            same = _alloc(g.shape, idx, None, g.dtype)
            same[...] = g
            g = same
        for k, tap in enumerate(_taps(gxp, kernel, stride, dilation, size)):
            if tiles:  # the windows tile the input: each tap writes its own positions once
                np.multiply(g, idx == k, out=tap)
            else:
                tap += g * (idx == k)
        return (gxp[:, :, pt:pt + h, pl:pl + w],)


def _max_pool(x: Any, kernel: tuple, stride: tuple, padding: tuple, dilation: tuple,
              size: tuple) -> Any:
    return MaxPool.apply(x, kernel=kernel, stride=stride, padding=padding, dilation=dilation,
                         size=size)


def _winners(idx: np.ndarray, x_shape: tuple, kernel: tuple, stride: tuple, padding: tuple,
             dilation: tuple) -> tuple:
    """Where each window's maximum sits, as an index into x viewed as (N, C, H*W)."""
    n, c, h, w = x_shape
    ho, wo = idx.shape[2:]
    rows = np.arange(ho)[:, None] * stride[0] + (idx // kernel[1]) * dilation[0] - padding[0]
    cols = np.arange(wo) * stride[1] + (idx % kernel[1]) * dilation[1] - padding[1]
    index = (np.arange(n)[:, None, None, None], np.arange(c)[None, :, None, None],
             rows * w + cols)
    return index, (n, c, h * w)


def max_pool2d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False) -> Any:
    """The maximum over each kH x kW window of (N, C, H, W) or (C, H, W); stride defaults
    to the kernel size; padding (at most half the kernel) never wins."""
    x = lift(input, where="max_pool2d")
    kernel, stride, padding, dilation, out = _arguments(
        "max_pool2d", x, 2, kernel_size, stride, padding, dilation, ceil_mode)
    if x.ndim == 3:
        return _max_pool(x.reshape((1,) + x.shape), kernel, stride, padding, dilation,
                         out).reshape((x.shape[0],) + out)
    return _max_pool(x, kernel, stride, padding, dilation, out)


def max_pool1d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False) -> Any:
    """The maximum over each window of length k of (N, C, L) or (C, L)."""
    x = lift(input, where="max_pool1d")
    kernel, stride, padding, dilation, out = _arguments(
        "max_pool1d", x, 1, kernel_size, stride, padding, dilation, ceil_mode)
    x4 = x.reshape(x.shape[:-1] + (1, x.shape[-1]))
    if x.ndim == 2:
        x4 = x4.reshape((1,) + x4.shape)
    y = _max_pool(x4, (1,) + kernel, (1,) + stride, (0,) + padding, (1,) + dilation,
                      (1,) + out)
    return y.reshape(x.shape[:-1] + out)


# =========================================================================== average pooling
def _window_matrix(starts: np.ndarray, ends: np.ndarray, divisors: np.ndarray, n: int,
                   dtype: Any) -> np.ndarray:
    """(len(starts), n): row o holds 1/divisor on the input positions in [start, end)."""
    positions = np.arange(n)
    inside = (positions >= starts[:, None]) & (positions < ends[:, None])
    return (inside / divisors[:, None]).astype(dtype)


def _avg_matrix(n: int, k: int, s: int, p: int, out: int, count_include_pad: bool,
                dtype: Any) -> np.ndarray:
    """PyTorch's windows: start o*s - p, clipped at n + p (the padded end) for the divisor
    that counts padding, at [0, n) for the sum and the divisor that does not."""
    start = np.arange(out) * s - p
    end = np.minimum(start + k, n + p)
    lo, hi = np.maximum(start, 0), np.minimum(end, n)
    return _window_matrix(lo, hi, (end - start) if count_include_pad else (hi - lo), n, dtype)


def _pool_rows_cols(x: Any, rows: np.ndarray | None, cols: np.ndarray) -> Any:
    """rows @ x @ cols^T over the last two axes (rows None: only the last axis)."""
    y = matmul(x, constant(np.ascontiguousarray(cols.T), x))
    return y if rows is None else matmul(constant(rows, x), y)


def avg_pool2d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True) -> Any:
    """The mean over each kH x kW window of (N, C, H, W) or (C, H, W); zero padding counts
    in the mean unless ``count_include_pad=False``."""
    x = fractional(input, "avg_pool2d")
    kernel, stride, padding, _, out = _arguments(
        "avg_pool2d", x, 2, kernel_size, stride, padding, 1, ceil_mode)
    (h, w), dt = x.shape[-2:], x.dtype
    rows = _avg_matrix(h, kernel[0], stride[0], padding[0], out[0], count_include_pad, dt)
    cols = _avg_matrix(w, kernel[1], stride[1], padding[1], out[1], count_include_pad, dt)
    return _pool_rows_cols(x, rows, cols)


def avg_pool1d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True) -> Any:
    """The mean over each window of length k of (N, C, L) or (C, L)."""
    x = fractional(input, "avg_pool1d")
    kernel, stride, padding, _, out = _arguments(
        "avg_pool1d", x, 1, kernel_size, stride, padding, 1, ceil_mode)
    cols = _avg_matrix(x.shape[-1], kernel[0], stride[0], padding[0], out[0],
                       count_include_pad, x.dtype)
    return _pool_rows_cols(x, None, cols)


def _adaptive_matrix(n: int, out: int, dtype: Any) -> np.ndarray:
    o = np.arange(out)
    starts, ends = (o * n) // out, -((-(o + 1) * n) // out)  # floor and ceil of o n / out
    return _window_matrix(starts, ends, ends - starts, n, dtype)


def adaptive_avg_pool2d(input: Any, output_size: Any) -> Any:
    """Average (N, C, H, W) or (C, H, W) down to ``output_size`` (an int, a pair, None in a
    pair keeps that size): window o spans [floor(o H / out), ceil((o + 1) H / out))."""
    x = fractional(input, "adaptive_avg_pool2d")
    if x.ndim not in (3, 4):
        raise ShapeError(f"adaptive_avg_pool2d: expected a 3-D (C, H, W) or 4-D (N, C, H, W) "
                         f"input, got shape {x.shape}")
    sizes = (output_size,) * 2 if output_size is None or isinstance(
        output_size, (int, np.integer)) else tuple(output_size)
    if len(sizes) != 2:
        raise TypeError(f"adaptive_avg_pool2d: output_size must be an int or a pair, got "
                        f"{output_size!r}")
    sizes = tuple(n if s is None else s for s, n in zip(sizes, x.shape[-2:]))
    if any(not isinstance(s, (int, np.integer)) or s < 1 for s in sizes):
        raise ValueError(f"adaptive_avg_pool2d: output_size must be positive, got "
                         f"{output_size!r}")
    (h, w), dt = x.shape[-2:], x.dtype
    return _pool_rows_cols(x, _adaptive_matrix(h, sizes[0], dt), _adaptive_matrix(w, sizes[1], dt))
