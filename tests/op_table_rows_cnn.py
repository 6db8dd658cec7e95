"""The op table's rows for the image ops (issue 15): more unary math, the modern
activations, pad/split/chunk/cumsum/einsum, convolution, pooling and batch norm. Read by
tests/test_op_table.py with the rows of tests/op_table_rows.py, and checked the same way
(forward in float64 and float32, gradient with a random upstream gradient against finite
differences, Hessian-vector product).

The numpy references are written differently from microgd's code on purpose: convolution
as a sum over kernel taps of shifted slices (microgd: one im2col matrix product), pooling as
a loop over output positions (microgd: a loop over taps, or a matrix product).
"""
from __future__ import annotations

import math

import numpy as np
from op_table_rows import Row, away_from, distinct, each, fixed, inputs, many, one, positive

import microgd as mg
from microgd.nn import functional as F

R = Row
np_erf = np.vectorize(math.erf, otypes=[float])


# ------------------------------------------------------------------ numpy references
def np_gelu(a, approximate="none"):
    if approximate == "tanh":
        return 0.5 * a * (1 + np.tanh(math.sqrt(2 / math.pi) * (a + 0.044715 * a ** 3)))
    return a * 0.5 * (1 + np_erf(a / math.sqrt(2)))


def np_softplus(a, beta=1.0, threshold=20.0):
    return np.where(a * beta > threshold, a, np.logaddexp(0, a * beta) / beta)


NP_PAD_MODES = {"constant": "constant", "reflect": "reflect", "replicate": "edge",
                "circular": "wrap"}


def np_pad(a, pad, mode="constant", value=0.0):
    widths = [(0, 0)] * a.ndim
    for k in range(len(pad) // 2):
        widths[a.ndim - 1 - k] = (pad[2 * k], pad[2 * k + 1])
    grow = [(max(lo, 0), max(hi, 0)) for lo, hi in widths]
    extra = {"constant_values": value} if mode == "constant" else {}
    out = np.pad(a, grow, mode=NP_PAD_MODES[mode], **extra)
    return out[tuple(slice(-min(lo, 0), out.shape[i] + min(hi, 0))
                     for i, (lo, hi) in enumerate(widths))]


def pieces_weighted(parts, axis):
    """Pieces joined back, piece i times i + 1: a gradient sent to the wrong piece shows."""
    return [p * (i + 1) for i, p in enumerate(parts)], axis


def np_split(a, sections, axis=0):
    if isinstance(sections, int):
        sections = [sections] * (a.shape[axis] // sections) + (
            [a.shape[axis] % sections] if a.shape[axis] % sections else [])
    parts = np.split(a, np.cumsum(sections)[:-1], axis=axis)
    return np.concatenate(*pieces_weighted(parts, axis))


def mg_split(x, sections, axis=0):
    return mg.concatenate(*pieces_weighted(mg.split(x, sections, axis), axis))


def np_chunk(a, chunks, axis=0):
    return np_split(a, -(-a.shape[axis] // chunks), axis)


def mg_chunk(x, chunks, axis=0):
    return mg.concatenate(*pieces_weighted(mg.chunk(x, chunks, axis), axis))


def _two(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def np_conv2d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """Sum over kernel taps (i, j) of a shifted, strided slice of the padded input times
    that tap's (out, in) weights, group by group."""
    if x.ndim == 3:
        return np_conv2d(x[None], w, b, stride, padding, dilation, groups)[0]
    (sh, sw), (dh, dw) = _two(stride), _two(dilation)
    o, cg, kh, kw = w.shape
    if padding == "same":
        th, tw = dh * (kh - 1), dw * (kw - 1)
        pads = ((th // 2, th - th // 2), (tw // 2, tw - tw // 2))
    else:
        pads = tuple((p, p) for p in _two(0 if padding == "valid" else padding))
    xp = np.pad(x, ((0, 0), (0, 0)) + pads)
    ho = (xp.shape[2] - dh * (kh - 1) - 1) // sh + 1
    wo = (xp.shape[3] - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((x.shape[0], o, ho, wo))
    og = o // groups
    for g in range(groups):
        for i in range(kh):
            for j in range(kw):
                patch = xp[:, g * cg:(g + 1) * cg, i * dh:i * dh + (ho - 1) * sh + 1:sh,
                           j * dw:j * dw + (wo - 1) * sw + 1:sw]
                out[:, g * og:(g + 1) * og] += np.einsum("nchw,oc->nohw", patch,
                                                         w[g * og:(g + 1) * og, :, i, j])
    return out if b is None else out + b[:, None, None]


def np_conv1d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    pad = padding if isinstance(padding, str) else (0, padding)
    out = np_conv2d(x[..., None, :], w[:, :, None, :], b, (1, stride), pad, (1, dilation),
                    groups)
    return out[..., 0, :]


def _windows(n, k, s, p, d, ceil_mode):
    """PyTorch's pooling windows along one axis: (start, end, divisor-with-padding) each."""
    out = (n + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1
    return [(o * s - p, o * s - p + d * (k - 1) + 1, min(o * s - p + k, n + p) - (o * s - p))
            for o in range(out)]


def np_max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    (kh, kw) = _two(kernel_size)
    (sh, sw) = _two(kernel_size if stride is None else stride)
    (ph, pw), (dh, dw) = _two(padding), _two(dilation)
    rows = _windows(x.shape[-2], kh, sh, ph, dh, ceil_mode)
    cols = _windows(x.shape[-1], kw, sw, pw, dw, ceil_mode)
    out = np.empty(x.shape[:-2] + (len(rows), len(cols)))
    for r, (r0, _, _) in enumerate(rows):
        for c, (c0, _, _) in enumerate(cols):
            rs = [i for i in range(r0, r0 + dh * kh, dh) if 0 <= i < x.shape[-2]]
            cs = [j for j in range(c0, c0 + dw * kw, dw) if 0 <= j < x.shape[-1]]
            out[..., r, c] = x[..., rs, :][..., cs].max(axis=(-2, -1))
    return out


def np_max_pool1d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    return np_max_pool2d(x[..., None, :], (1, kernel_size),
                         (1, kernel_size if stride is None else stride), (0, padding),
                         (1, dilation), ceil_mode)[..., 0, :]


def np_avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False,
                  count_include_pad=True):
    (kh, kw) = _two(kernel_size)
    (sh, sw) = _two(kernel_size if stride is None else stride)
    (ph, pw) = _two(padding)
    rows = _windows(x.shape[-2], kh, sh, ph, 1, ceil_mode)
    cols = _windows(x.shape[-1], kw, sw, pw, 1, ceil_mode)
    out = np.empty(x.shape[:-2] + (len(rows), len(cols)))
    for r, (r0, r1, rdiv) in enumerate(rows):
        for c, (c0, c1, cdiv) in enumerate(cols):
            block = x[..., max(r0, 0):min(r1, x.shape[-2]), max(c0, 0):min(c1, x.shape[-1])]
            count = rdiv * cdiv if count_include_pad else block.shape[-2] * block.shape[-1]
            out[..., r, c] = block.sum(axis=(-2, -1)) / count
    return out


def np_avg_pool1d(x, kernel_size, stride=None, padding=0, ceil_mode=False,
                  count_include_pad=True):
    return np_avg_pool2d(x[..., None, :], (1, kernel_size),
                         (1, kernel_size if stride is None else stride), (0, padding),
                         ceil_mode, count_include_pad)[..., 0, :]


def np_adaptive_avg_pool2d(x, output_size):
    oh, ow = _two(output_size)
    h, w = x.shape[-2:]
    out = np.empty(x.shape[:-2] + (oh, ow))
    for r in range(oh):
        for c in range(ow):
            block = x[..., r * h // oh:-(-(r + 1) * h // oh), c * w // ow:-(-(c + 1) * w // ow)]
            out[..., r, c] = block.mean(axis=(-2, -1))
    return out


RUNNING_MEAN = np.array([0.3, -0.2, 0.5])
RUNNING_VAR = np.array([0.8, 1.5, 0.4])


def np_batch_norm(x, w, b, training):
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    if training:
        mean, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
    else:
        mean, var = RUNNING_MEAN.reshape(shape), RUNNING_VAR.reshape(shape)
    return (x - mean) / np.sqrt(var + 1e-5) * w.reshape(shape) + b.reshape(shape)


def mg_batch_norm(x, w, b, training):
    if training:
        return F.batch_norm(x, None, None, w, b, training=True)
    return F.batch_norm(x, RUNNING_MEAN, RUNNING_VAR, w, b)


# ------------------------------------------------------------------ rows
UNARY = one((), (5,), (2, 3))
ACTIVATIONS = one((2, 3, 4))
above_minus_one = each(lambda rng, s: rng.uniform(-0.9, 2.0, s))
PADS = ([(1, 2), (0, 1, 2, 0), (2, 1, 1, 2, 1, 0)], ["constant", "reflect", "replicate",
                                                      "circular"])
CONV2D = (many(((2, 3, 5, 6), (4, 3, 3, 2), (4,)), stride=[1, (2, 1)], padding=[0, (1, 2)])
          + many(((2, 4, 5, 5), (6, 2, 2, 3), (6,)), padding=["same"], dilation=[(2, 1)],
                 groups=[2])
          + many(((3, 6, 6), (3, 3, 3, 3), (3,)), stride=[2], padding=["valid", 1],
                 groups=[1])
          # one channel per group (a grayscale first layer; depthwise): the tap-by-tap im2col
          + many(((2, 1, 7, 6), (3, 1, 3, 2), (3,)), stride=[1, (2, 1)], padding=[1],
                 dilation=[1, (1, 2)])
          + many(((2, 3, 6, 5), (6, 1, 3, 3), (6,)), stride=[(1, 2)], padding=[1], groups=[3]))
CONV1D = (many(((2, 3, 9), (4, 3, 3), (4,)), stride=[1, 2], padding=[0, 2], dilation=[1, 2])
          + many(((4, 7), (4, 2, 4), (4,)), padding=["same"], groups=[2]))
POOL2D = (one((2, 3, 6, 7), kernel_size=[2], stride=[None, 1])
          + one((2, 3, 6, 7), kernel_size=[3, (3, 2)], stride=[2, (2, 3)], padding=[1, (1, 0)],
                ceil_mode=[False, True])
          + one((3, 5, 5), kernel_size=[2], ceil_mode=[True]))
POOL1D = (one((2, 3, 9), kernel_size=[2, 3], stride=[None, 2], padding=[0, 1],
              ceil_mode=[False, True])
          + one((3, 6), kernel_size=[4], stride=[3], padding=[2], ceil_mode=[True]))

ROWS = [
    # -------------------------------------------------------------- more unary math
    R("x.sin", lambda x: x.sin(), np.sin, UNARY, also={"mg.sin": mg.sin}),
    R("x.cos", lambda x: x.cos(), np.cos, UNARY, also={"mg.cos": mg.cos}),
    R("x.log1p", lambda x: x.log1p(), np.log1p, UNARY, above_minus_one,
      also={"mg.log1p": mg.log1p}),
    R("x.expm1", lambda x: x.expm1(), np.expm1, UNARY, also={"mg.expm1": mg.expm1}),
    R("x.erf", lambda x: x.erf(), np_erf, UNARY, also={"mg.erf": mg.erf}),
    R("x.erf (tails and tiny x)", lambda x: x.erf(), np_erf, one((8,)),
      fixed([-6.0, -2.5, -0.6, -1e-9, 1e-6, 0.3, 1.7, 5.0])),
    # -------------------------------------------------------------- activations
    R("F.gelu", F.gelu, np_gelu, ACTIVATIONS + one((5,), approximate=["none", "tanh"])),
    R("F.leaky_relu", F.leaky_relu, lambda a, negative_slope=0.01: np.where(
        a > 0, a, negative_slope * a), ACTIVATIONS + one((5,), negative_slope=[0.2]),
      away_from(0)),
    R("F.leaky_relu (x=0)", lambda x: F.leaky_relu(x, 0.2), lambda a: np.where(a > 0, a, 0.2 * a),
      one((3,)), fixed([-1.0, 0.0, 2.0]), hessian=False,
      vjp=lambda g, a: [g * np.where(a > 0, 1, 0.2)]),  # PyTorch: the slope at 0
    R("F.elu", F.elu, lambda a, alpha=1.0: np.where(a > 0, a, alpha * np.expm1(a)),
      ACTIVATIONS + one((5,), alpha=[0.5]), away_from(0)),
    R("F.elu (x=0)", lambda x: F.elu(x, 0.5), lambda a: np.where(a > 0, a, 0.5 * np.expm1(a)),
      one((3,)), fixed([-1.0, 0.0, 2.0]), hessian=False,
      vjp=lambda g, a: [g * np.where(a > 0, 1, 0.5 * np.exp(a))]),  # PyTorch: alpha at 0
    R("F.silu", F.silu, lambda a: a / (1 + np.exp(-a)), ACTIVATIONS),
    R("F.softplus", F.softplus, np_softplus,
      ACTIVATIONS + one((2, 5), beta=[2.0], threshold=[1.0]), away_from(0.5)),
    R("F.softplus (past the threshold)", lambda x: F.softplus(x, 1.0, 20.0), np_softplus,
      one((4,)), fixed([-30.0, 0.0, 19.0, 25.0])),
    # -------------------------------------------------------------- shapes
    R("mg.pad", mg.pad, np_pad, one((3, 4, 5), pad=PADS[0], mode=PADS[1]),
      also={"F.pad": F.pad}),
    R("mg.pad (value, cropping)", mg.pad, np_pad,
      one((3, 4, 5), pad=[(1, -2), (-1, 0, 2, -3)], value=[0.0, 1.5])),
    R("mg.split", mg_split, np_split,
      one((4, 5, 6), sections=[2, [1, 3, 2]], axis=[-1, 2]) + one((5, 3), sections=[2])),
    R("mg.chunk", mg_chunk, np_chunk, one((4, 5, 6), chunks=[2, 3], axis=[0, 1, -1])),
    R("x.cumsum", lambda x, axis: x.cumsum(axis), np.cumsum,
      one((3, 4, 5), axis=[0, 1, -1, -3]), also={"mg.cumsum": mg.cumsum}),
    R("mg.einsum", lambda a, b, spec: mg.einsum(spec, a, b),
      lambda a, b, spec: np.einsum(spec, a, b),
      many(((2, 3, 4), (2, 4, 5)), spec=["bij,bjk->bik", "bij,bjk", "...ij,...jk->...ik"])
      + many(((3, 4), (5,)), spec=["ij,k->ki", "ij,k->i"])
      + many(((3, 4), (4,)), spec=["ij,j->i", "...j,j->..."])),
    R("mg.einsum (one operand)", lambda a, spec: mg.einsum(spec, a),
      lambda a, spec: np.einsum(spec, a),
      one((3, 3, 4), spec=["iij->j", "ijk->kji", "iij->ij", "i...->...i"])),
    # -------------------------------------------------------------- convolution
    R("F.conv2d", F.conv2d, np_conv2d, CONV2D),
    R("F.conv2d (no bias)", lambda x, w, **o: F.conv2d(x, w, **o),
      lambda x, w, **o: np_conv2d(x, w, **o),
      many(((2, 2, 5, 5), (3, 2, 3, 3)), stride=[(1, 2)], padding=[(2, 1)], dilation=[2])),
    R("F.conv1d", F.conv1d, np_conv1d, CONV1D),
    # -------------------------------------------------------------- pooling, batch norm
    R("F.max_pool2d", F.max_pool2d, np_max_pool2d,
      POOL2D + one((2, 2, 7, 7), kernel_size=[3], stride=[2], padding=[1], dilation=[2],
                   ceil_mode=[True]), distinct),
    R("F.max_pool2d (ties)", lambda x: F.max_pool2d(x, 2), lambda a: np_max_pool2d(a, 2),
      one((1, 1, 2, 4)), fixed([[[[1.0, 3.0, 2.0, 2.0], [3.0, 0.0, 2.0, 2.0]]]]),
      hessian=False,  # the whole gradient to the FIRST maximum of each window (PyTorch)
      vjp=lambda g, a: [np.array([[[[0, g[0, 0, 0, 0], g[0, 0, 0, 1], 0],
                                    [0, 0, 0, 0]]]])]),
    R("F.max_pool1d", F.max_pool1d, np_max_pool1d,
      POOL1D + one((2, 3, 9), kernel_size=[3], stride=[2], padding=[1], dilation=[2],
                   ceil_mode=[True]), distinct),
    R("F.avg_pool2d", F.avg_pool2d, np_avg_pool2d,
      POOL2D + one((2, 3, 6, 7), kernel_size=[3], stride=[2], padding=[1], ceil_mode=[True],
                   count_include_pad=[False])),
    R("F.avg_pool1d", F.avg_pool1d, np_avg_pool1d,
      POOL1D + one((2, 3, 9), kernel_size=[3], stride=[2], padding=[1], ceil_mode=[True],
                   count_include_pad=[False])),
    R("F.adaptive_avg_pool2d", F.adaptive_avg_pool2d, np_adaptive_avg_pool2d,
      one((2, 3, 6, 7), output_size=[1, 3, (4, 5), (6, 7)]) + one((3, 5, 5), output_size=[2])),
    R("F.batch_norm", mg_batch_norm, np_batch_norm,
      many(((4, 3), (3,), (3,)), ((2, 3, 4), (3,), (3,)), ((2, 3, 2, 3), (3,), (3,)),
           training=[True, False]), inputs(distinct, positive, distinct)),
]
