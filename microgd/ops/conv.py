"""Convolution: ``conv1d`` and ``conv2d`` with stride, padding, dilation and groups.

Forward (im2col). Each output pixel is the dot product of the kernel with one window of
the (zero-padded) input. ``as_strided`` gives every window as a view, without copying;
one reshape copies them into a matrix ``cols`` with a row per output pixel and a
column per (kernel row, kernel column, channel); then the whole convolution is ONE matrix
product, ``cols @ W``, with W the kernel flattened the same way. The input is read
channels-last (N, H, W, C), so each window row copies runs of C neighbouring floats, and
the product comes out channels-last too: the result is returned as an (N, C, H, W) *view*
of it, and the next layer (ReLU, pooling, the next convolution) reads it in that order.

Backward. The three arrays of a convolution, input x, kernel w and output y, meet in one
number, T(x, w, y) = sum(conv(x, w) * y), linear in each. The gradients are its partial
derivatives with the upstream gradient g in y's place:

- d/dw = the weight gradient ``cols^T @ g`` (``ConvWeightGrad``): the same windows, now
  weighted by g;
- d/dx = ``g @ W^T`` put back where each window came from (col2im, ``ConvInputGrad``):
  a transposed convolution, done as one matrix product and one add per kernel tap.

Under ``create_graph`` those two are ops themselves, and each one's backward is again one
of the three partials of T (swap which argument is the gradient): gradients of gradients
never leave this file, to any order.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .core import Op, ShapeError, common_dtype, constant, is_tensor, lift, ones


# =========================================================================== array helpers
def _channels_last(x: np.ndarray, padding: tuple) -> np.ndarray:
    """x (N, C, H, W) as (N, H', W', C), zero-padded (top, bottom, left, right)."""
    top, bottom, left, right = padding
    xl = x.transpose(0, 2, 3, 1)
    if not (top or bottom or left or right):
        return xl
    n, h, w, c = xl.shape
    xp = np.zeros((n, h + top + bottom, w + left + right, c), dtype=x.dtype)
    xp[:, top:top + h, left:left + w] = xl
    return xp


def _columns(x: np.ndarray, kernel: tuple, stride: tuple, padding: tuple, dilation: tuple,
             groups: int) -> np.ndarray:
    """im2col: (groups, N*Ho*Wo, kh*kw*C/groups), one row per window of ``x``."""
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    xp = _channels_last(x, padding)
    n, hp, wp, c = xp.shape
    ho, wo, cg = (hp - (kh - 1) * dh - 1) // sh + 1, (wp - (kw - 1) * dw - 1) // sw + 1, c // groups
    if cg == 1:  # one channel per group (a grayscale image): see _tap_columns
        return _tap_columns(xp, kernel, stride, dilation, groups, (ho, wo))
    s0, s1, s2, s3 = xp.strides
    # win[g, n, i, j, a, b, k] = xp[n, i*sh + a*dh, j*sw + b*dw, g*cg + k]: every window,
    # already in the column order, as a view (the shapes were checked: nothing reads past xp)
    shape = (groups, n, ho, wo, kh, kw, cg)
    strides = (cg * s3, s0, sh * s1, sw * s2, dh * s1, dw * s2, s3)
    if xp.flags.c_contiguous:  # a view straight on xp's buffer: 1 µs where as_strided takes 5
        win = np.ndarray(shape, xp.dtype, xp, 0, strides)
    else:
        win = as_strided(xp, shape, strides, writeable=False)
    return win.reshape(groups, n * ho * wo, kh * kw * cg)  # the copy


def _tap_columns(xp: np.ndarray, kernel: tuple, stride: tuple, dilation: tuple, groups: int,
                 out: tuple) -> np.ndarray:
    """im2col for one channel per group, copied tap by tap: the same matrix as ``_columns``
    stored transposed, (groups, kh*kw, N*Ho*Wo), so each of the kh*kw copies writes one
    contiguous block (the window copy moves single floats: 1.7x slower on C1's first layer).
    Matrix products take the transposed view as it is."""
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = kernel, stride, dilation, out
    n, hp, wp, _ = xp.shape
    buf = np.empty((groups, kh, kw, n, ho, wo), xp.dtype)
    xc = xp.transpose(3, 0, 1, 2)  # (groups, N, H', W'): a view
    for i in range(kh):
        for j in range(kw):
            buf[:, i, j] = xc[:, :, i * dh:i * dh + (ho - 1) * sh + 1:sh,
                              j * dw:j * dw + (wo - 1) * sw + 1:sw]
    return buf.reshape(groups, kh * kw, n * ho * wo).transpose(0, 2, 1)


def _kernel_matrix(w: np.ndarray, groups: int) -> np.ndarray:
    """w (O, C/groups, kh, kw) as (groups, kh*kw*C/groups, O/groups): im2col's order."""
    o, cg, kh, kw = w.shape
    return w.reshape(groups, o // groups, cg, kh, kw).transpose(0, 3, 4, 2, 1).reshape(
        groups, kh * kw * cg, o // groups)


def _rows(g: np.ndarray, groups: int) -> np.ndarray:
    """An output-shaped g (N, O, Ho, Wo) as (groups, N*Ho*Wo, O/groups)."""
    n, o, ho, wo = g.shape
    return g.transpose(0, 2, 3, 1).reshape(n * ho * wo, groups, o // groups).transpose(1, 0, 2)


def _conv(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride: tuple, padding: tuple,
          dilation: tuple, groups: int) -> tuple[np.ndarray, np.ndarray]:
    """conv(x, w) + b as (output, cols)."""
    n, _, h, wd = x.shape
    (kh, kw), (sh, sw), (dh, dw) = w.shape[2:], stride, dilation
    ho = (h + padding[0] + padding[1] - (kh - 1) * dh - 1) // sh + 1
    wo = (wd + padding[2] + padding[3] - (kw - 1) * dw - 1) // sw + 1
    cols = _columns(x, (kh, kw), stride, padding, dilation, groups)
    out = np.matmul(cols, _kernel_matrix(w, groups))             # (groups, N*Ho*Wo, O/groups)
    o = w.shape[0]
    out = out[0] if groups == 1 else out.transpose(1, 0, 2).reshape(n * ho * wo, o)
    if b is not None:
        out += b
    return out.reshape(n, ho, wo, o).transpose(0, 3, 1, 2), cols


def _weight_grad(cols: np.ndarray, rows: np.ndarray, w_shape: tuple, groups: int
                 ) -> np.ndarray:
    """d sum(conv(x, w) * g) / dw = cols^T @ g (g as ``_rows``), back in w's layout."""
    o, cg, kh, kw = w_shape
    gw = np.matmul(cols.transpose(0, 2, 1), rows)                # (groups, kh*kw*cg, o/groups)
    return gw.reshape(groups, kh, kw, cg, o // groups).transpose(0, 4, 3, 1, 2).reshape(w_shape)


def _input_grad(g: np.ndarray, w: np.ndarray, x_shape: tuple, stride: tuple, padding: tuple,
                dilation: tuple, groups: int) -> np.ndarray:
    """d sum(conv(x, w) * g) / dx: each window's share g @ W^T, added back where the window
    came from (col2im): one add per kernel tap, each over all windows at once.

    With stride 1 this is itself a convolution, "full" where the forward one was "valid":
    g padded by the kernel's span less the forward padding, convolved with the kernel
    flipped in space and with in and out channels swapped. That is one im2col and one
    matrix product, cheaper than the taps' scattered adds (C1: ~1.5x)."""
    kh, kw = w.shape[2:]
    spans = ((kh - 1) * dilation[0], (kw - 1) * dilation[1])
    full = (spans[0] - padding[0], spans[0] - padding[1], spans[1] - padding[2],
            spans[1] - padding[3])
    if stride == (1, 1) and min(full) >= 0:
        o, cg = w.shape[:2]
        flipped = w.reshape(groups, o // groups, cg, kh, kw)[..., ::-1, ::-1]
        flipped = flipped.transpose(0, 2, 1, 3, 4).reshape(groups * cg, o // groups, kh, kw)
        return _conv(g, flipped, None, (1, 1), full, dilation, groups)[0]
    n, c, h, wd = x_shape
    (sh, sw), (dh, dw), (top, bottom, left, right) = stride, dilation, padding
    kh, kw = w.shape[2:]
    ho, wo = g.shape[2:]
    gcols = np.matmul(_rows(g, groups), _kernel_matrix(w, groups).transpose(0, 2, 1))
    gcols = gcols.reshape(groups, n, ho, wo, kh, kw, c // groups).transpose(1, 2, 3, 4, 5, 0, 6)
    gxp = np.zeros((n, h + top + bottom, wd + left + right, groups, c // groups), dtype=g.dtype)
    for i in range(kh):
        for j in range(kw):
            gxp[:, i * dh:i * dh + (ho - 1) * sh + 1:sh, j * dw:j * dw + (wo - 1) * sw + 1:sw] \
                += gcols[:, :, :, i, j]
    gx = gxp[:, top:top + h, left:left + wd].reshape(n, h, wd, c)
    return gx.transpose(0, 3, 1, 2)


# =========================================================================== the ops
class Conv(Op):
    """y = conv(x, w) + b on (N, C, H, W); ``cols`` (the im2col matrix) is kept for the
    weight gradient. Fused with the bias: one node per layer."""

    name = "conv2d"
    saves = True
    broadcasts = False  # gradients come out in the inputs' exact shapes

    @staticmethod
    def forward(x, w, b=None, *, stride, padding, dilation, groups):
        out, cols = _conv(x, w, b, stride, padding, dilation, groups)
        return out, {"cols": cols}

    @staticmethod
    def backward(g, out, needs, x, w, b=None, *, stride, padding, dilation, groups, cols):
        geo = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
        gx = gw = gb = None
        if is_tensor(g):  # create_graph: record the gradients as ops of their own
            if needs[0]:
                gx = ConvInputGrad.apply(g, w, x_shape=x.shape, **geo)
            if needs[1]:
                gw = ConvWeightGrad.apply(x, g, w_shape=w.shape, **geo)
        else:
            rows = _rows(g, groups)  # a view when g is channels-last, as ours are
            if needs[0]:
                gx = _input_grad(g, w, x.shape, **geo)
            if needs[1]:
                gw = _weight_grad(cols, rows, w.shape, groups)
            if b is not None and needs[2]:  # column sums as a matrix-vector product: numpy's
                # sum over axes (0, 2, 3) of a channels-last g is ~30x slower
                gb = np.matmul(ones(rows.shape[1], g.dtype), rows).reshape(w.shape[0])
        if b is None:
            return gx, gw
        if needs[2] and gb is None:
            gb = g.sum(axis=(0, 2, 3))
        return gx, gw, gb


class ConvInputGrad(Op):
    """g -> d sum(conv(x, w) * g) / dx, a transposed convolution; linear in g and in w.
    Its own backward, for an upstream u shaped like x: d/dg = conv(u, w), d/dw = the
    weight gradient of conv(u, .) against g."""

    name = "conv2d_input_grad"
    broadcasts = False

    @staticmethod
    def forward(g, w, *, x_shape, stride, padding, dilation, groups):
        return _input_grad(g, w, x_shape, stride, padding, dilation, groups)

    @staticmethod
    def backward(u, out, needs, g, w, *, x_shape, **geo):
        dg = _partial(Conv, u, w, **geo) if needs[0] else None
        dw = _partial(ConvWeightGrad, u, g, w_shape=w.shape, **geo) if needs[1] else None
        return dg, dw


class ConvWeightGrad(Op):
    """(x, g) -> d sum(conv(x, w) * g) / dw; linear in x and in g. Its backward, for an
    upstream v shaped like w: d/dx = the input gradient of conv(., v) against g,
    d/dg = conv(x, v)."""

    name = "conv2d_weight_grad"
    broadcasts = False

    @staticmethod
    def forward(x, g, *, w_shape, stride, padding, dilation, groups):
        cols = _columns(x, w_shape[2:], stride, padding, dilation, groups)
        return _weight_grad(cols, _rows(g, groups), w_shape, groups)

    @staticmethod
    def backward(v, out, needs, x, g, *, w_shape, **geo):
        dx = _partial(ConvInputGrad, g, v, x_shape=x.shape, **geo) if needs[0] else None
        dg = _partial(Conv, x, v, **geo) if needs[1] else None
        return dx, dg


def _partial(op: type[Op], a: Any, b: Any, **ctx: Any) -> Any:
    """Apply one of the three ops to Tensors (recorded) or arrays (computed)."""
    if is_tensor(a) or is_tensor(b):
        like = a if is_tensor(a) else b
        return op.apply(lift(a, like), lift(b, like), **ctx)
    out = op.forward(a, b, **ctx)
    return out[0] if op.saves else out


# =========================================================================== checks
def _ints(value: Any, n: int, what: str, where: str, minimum: int) -> tuple:
    """An int or a tuple of n ints, each >= minimum, as a tuple of n ints."""
    values = (value,) * n if isinstance(value, (int, np.integer)) else tuple(value)
    if len(values) != n or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                   for v in values):
        raise TypeError(f"{where}: {what} must be an int or a tuple of {n} ints, got {value!r}")
    if any(v < minimum for v in values):
        kind = "positive" if minimum == 1 else "non-negative"
        raise ValueError(f"{where}: {what} must be {kind}, got {value!r}")
    return tuple(int(v) for v in values)


def remembered(check: Any) -> Any:
    """Remember ``check``'s answers: a training loop asks the same question every step, and
    the checks cost more Python time than a small layer's arithmetic. Arguments that are
    not hashable (a list for a stride) are checked afresh."""
    answers: dict = {}

    def cached(*args: Any) -> Any:
        try:
            return answers[args]
        except KeyError:
            pass
        except TypeError:
            return check(*args)
        if len(answers) > 512:
            answers.clear()
        answers[args] = answer = check(*args)
        return answer
    cached.__doc__ = check.__doc__
    return cached


@remembered
def geometry(where: str, x_shape: tuple, w_shape: tuple, stride: Any, padding: Any,
             dilation: Any, groups: Any) -> tuple:
    """Check a convolution's arguments against the shapes (N, C, *spatial) and (O, C/groups,
    *kernel); return them as the ops' options (stride, padding, dilation, groups), padding
    as (top, bottom, left, right) for 2-D and (left, right) for 1-D."""
    dims = len(w_shape) - 2
    stride = _ints(stride, dims, "stride", where, 1)
    dilation = _ints(dilation, dims, "dilation", where, 1)
    if not isinstance(groups, (int, np.integer)) or isinstance(groups, bool) or groups < 1:
        raise ValueError(f"{where}: groups must be a positive int, got {groups!r}")
    channels, (out_channels, per_group), kernel = x_shape[1], w_shape[:2], w_shape[2:]
    if out_channels % groups or channels % groups:
        raise ValueError(f"{where}: groups={groups} must divide both the input's {channels} "
                         f"channels and the weight's {out_channels} output channels "
                         f"(input {x_shape}, weight {w_shape})")
    if per_group * groups != channels:
        raise ShapeError(f"{where}: weight {w_shape} with groups={groups} expects "
                         f"{per_group * groups} input channels, got {channels} (input shape "
                         f"{x_shape})")
    if isinstance(padding, str):
        if padding == "valid":
            pads = ((0, 0),) * dims
        elif padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{where}: padding='same' needs stride 1 (the output keeps "
                                 f"the input's size only then), got stride {stride}")
            total = [d * (k - 1) for d, k in zip(dilation, kernel)]
            pads = tuple((t // 2, t - t // 2) for t in total)  # any odd one out on the right
        else:
            raise ValueError(f"{where}: padding must be an int, a tuple of {dims} ints, "
                             f"'same' or 'valid', got {padding!r}")
    else:
        pads = tuple((p, p) for p in _ints(padding, dims, "padding", where, 0))
    spatial = x_shape[2:]
    padded = tuple(n + lo + hi for n, (lo, hi) in zip(spatial, pads))
    span = tuple(d * (k - 1) + 1 for d, k in zip(dilation, kernel))
    if any(s > p for s, p in zip(span, padded)):
        raise ShapeError(f"{where}: the kernel {tuple(kernel)} (spanning {span} with dilation "
                         f"{dilation}) is larger than the padded input {padded} (input shape "
                         f"{x_shape}, padding {tuple(p for p, _ in pads)})")
    return stride, tuple(p for lohi in pads for p in lohi), dilation, int(groups)


def operands(where: str, input: Any, weight: Any, bias: Any) -> tuple:
    """input, weight, bias as Tensors of one float dtype (integers become the weight's)."""
    like = next((t for t in (input, weight, bias) if is_tensor(t)), None)
    if like is None:
        raise TypeError(f"{where}: expected Tensors, got {type(input).__name__} and "
                        f"{type(weight).__name__}; wrap one with mg.tensor(...)")
    ts = [lift(t, like, where) for t in (input, weight) + ((bias,) if bias is not None else ())]
    dtype = common_dtype(*[t.dtype for t in ts])
    if dtype.kind != "f":
        dtype = np.dtype(np.float32) if like.dtype.kind != "f" else like.dtype
    ts = [t if t.dtype == dtype else (t.astype(dtype) if t.requires_grad
                                      else constant(t.data.astype(dtype), t)) for t in ts]
    return ts[0], ts[1], (ts[2] if bias is not None else None)


def _check_ranks(where: str, x: Any, w: Any, b: Any, dims: int) -> None:
    names = {1: "(C, L) or (N, C, L)", 2: "(C, H, W) or (N, C, H, W)"}[dims]
    if x.ndim not in (dims + 1, dims + 2):
        raise ShapeError(f"{where}: expected a {dims + 1}-D or {dims + 2}-D input {names}, got "
                         f"shape {x.shape}")
    if w.ndim != dims + 2:
        raise ShapeError(f"{where}: expected a {dims + 2}-D weight (out_channels, "
                         f"in_channels/groups, {'kH, kW' if dims == 2 else 'kL'}), got shape "
                         f"{w.shape}")
    if b is not None and b.shape != (w.shape[0],):
        raise ShapeError(f"{where}: bias of shape {b.shape} does not match the weight "
                         f"{w.shape}: expected shape ({w.shape[0]},)")


# =========================================================================== public functions
_OPTIONS = ("stride", "padding", "dilation", "groups")


def conv2d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
           dilation: Any = 1, groups: int = 1) -> Any:
    """2-D convolution (cross-correlation, as in PyTorch) of (N, C, H, W) or (C, H, W) with a
    weight (O, C/groups, kH, kW); stride, padding, dilation an int or a pair, padding also
    'same' (stride 1) or 'valid'. Each of the ``groups`` channel groups has its own kernels."""
    x, w, b = operands("conv2d", input, weight, bias)
    _check_ranks("conv2d", x, w, b, 2)
    unbatched = x.ndim == 3
    if unbatched:
        x = x.reshape((1,) + x.shape)
    geo = dict(zip(_OPTIONS, geometry("conv2d", x.shape, w.shape, stride, padding, dilation,
                                      groups)))
    out = Conv.apply(x, w, b, **geo) if b is not None else Conv.apply(x, w, **geo)
    return out.reshape(out.shape[1:]) if unbatched else out


def conv1d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
           dilation: Any = 1, groups: int = 1) -> Any:
    """1-D convolution of (N, C, L) or (C, L) with a weight (O, C/groups, kL): conv2d on
    images of height 1."""
    x, w, b = operands("conv1d", input, weight, bias)
    _check_ranks("conv1d", x, w, b, 1)
    unbatched = x.ndim == 2
    if unbatched:
        x = x.reshape((1,) + x.shape)
    stride, padding, dilation, groups = geometry("conv1d", x.shape, w.shape, stride, padding,
                                                 dilation, groups)
    geo = dict(stride=(1,) + stride, padding=(0, 0) + padding, dilation=(1,) + dilation,
               groups=groups)
    n, c, length = x.shape
    x4 = x.reshape((n, c, 1, length))
    w4 = w.reshape(w.shape[:2] + (1, w.shape[2]))
    out = Conv.apply(x4, w4, b, **geo) if b is not None else Conv.apply(x4, w4, **geo)
    out = out.reshape((n, out.shape[1], out.shape[3]))
    return out.reshape(out.shape[1:]) if unbatched else out
