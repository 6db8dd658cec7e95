"""The activations of today's networks: ``relu``, ``gelu`` (exact and tanh), ``leaky_relu``,
``elu``, ``silu``, ``softplus`` with ``beta`` and ``threshold``.

Each is one op (one node per layer, not five) whose backward is written with functions
that take arrays and Tensors alike, so it can be differentiated again. At a kink the
gradient is PyTorch's choice, said beside it.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from .core import Op, fractional, is_tensor, lift, owned, work_array
from .elementwise import Sigmoid, Softplus, exp, sigmoid, tanh, where
from .unary import erf, erf_array, normal_cdf_array

_SQRT_HALF = 1 / math.sqrt(2)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
_LOG2_E = 1 / math.log(2)
_TANH_K = math.sqrt(2 / math.pi)  # the tanh approximation's constants (Hendrycks & Gimpel)
_TANH_C = 0.044715


class Gelu(Op):
    """x Phi(x), Phi the standard normal CDF: the input, weighted by how likely a standard
    normal is below it. d/dx = Phi(x) + x phi(x). Phi(x) is kept from forward: erf is the
    costly part, and recomputing it made GELU the slowest layer of a small transformer."""

    name = "gelu"
    reads_output = False
    saves = True

    @staticmethod
    def forward(a):
        out = np.empty_like(a)  # lent to Phi as scratch, then filled with a Phi(a)
        cdf = normal_cdf_array(a, out)
        return np.multiply(a, cdf, out=out), {"cdf": cdf}

    @staticmethod
    def backward(g, out, needs, a, cdf):
        if is_tensor(a):  # differentiable again: Phi(x) as a function of x
            cdf = _erf(a * _SQRT_HALF) * 0.5 + 0.5
            pdf = _exp(a * a * -0.5) * _INV_SQRT_2PI
            return (g * (cdf + a * pdf),)
        # the same lines on arrays, in the thread's work buffer (7 passes, no new array),
        # then into g, which is ours to overwrite (see autograd.backpropagate)
        dt = a.dtype.type
        slope = np.square(a, out=work_array(a.shape, a.dtype))
        slope *= dt(-0.5 * _LOG2_E)  # e^(-x²/2) as 2^(-x² log2(e) / 2): numpy's exp2 is
        np.exp2(slope, out=slope)     # ~2x faster than its exp (57 vs 123 µs on G1's GELU)
        slope *= dt(_INV_SQRT_2PI)  # phi(x)
        slope *= a
        slope += cdf
        if owned(g, slope.dtype):
            return (np.multiply(g, slope, out=g),)
        return (g * slope,)


class GeluTanh(Op):
    """0.5 x (1 + tanh(k (x + c x^3))): GPT-2's approximation of GELU."""

    name = "gelu_tanh"
    reads_output = False

    @staticmethod
    def forward(a):
        dt = a.dtype.type
        return dt(0.5) * a * (1 + np.tanh(dt(_TANH_K) * (a + dt(_TANH_C) * a * a * a)))

    @staticmethod
    def backward(g, out, needs, a):
        a2 = a * a
        t = _tanh((a + a * a2 * _TANH_C) * _TANH_K)
        slope = (t + 1) * 0.5 + a * (1 - t * t) * (a2 * (3 * _TANH_C) + 1) * (0.5 * _TANH_K)
        return (g * slope,)


class Relu(Op):
    name = "relu"

    @staticmethod
    def forward(a):
        return np.maximum(a, 0)

    @staticmethod
    def backward(g, out, needs, a):
        if owned(g):  # the mask from the output, as PyTorch (out > 0 exactly where a > 0)
            np.multiply(g, out > 0, out=g)
            return (g,)
        return (g * (out > 0),)

    @staticmethod
    def reads(needs):
        return True, False


class LeakyRelu(Op):
    """x where x > 0, else slope x. At 0 the gradient is the slope (PyTorch's)."""

    name = "leaky_relu"
    reads_output = False

    @staticmethod
    def forward(a, slope):
        return np.where(a > 0, a, a * a.dtype.type(slope))

    @staticmethod
    def backward(g, out, needs, a, slope):
        factor = np.where(_data(a) > 0, 1, slope).astype(g.dtype)  # a constant: no 2nd term
        return (g * factor,)


class Elu(Op):
    """x where x > 0, else alpha (e^x - 1). Below 0 the slope is alpha e^x = out + alpha;
    at 0 it is alpha (PyTorch's)."""

    name = "elu"

    @staticmethod
    def forward(a, alpha):
        return np.where(a > 0, a, np.expm1(np.minimum(a, 0)) * a.dtype.type(alpha))

    @staticmethod
    def backward(g, out, needs, a, alpha):
        positive = _data(a) > 0  # below 0 the slope alpha e^x is written out + alpha: it
        return (_where(positive, g, g * (out + alpha)),)  # never overflows where unused


class Silu(Op):
    """x sigmoid(x) (also called swish). d/dx = s (1 + x (1 - s)), s = sigmoid(x)."""

    name = "silu"
    reads_output = False

    @staticmethod
    def forward(a):
        return a * Sigmoid.forward(a)

    @staticmethod
    def backward(g, out, needs, a):
        s = sigmoid(a) if is_tensor(a) else Sigmoid.forward(a)
        return (g * s * (a * (1 - s) + 1),)


def gelu(x: Any, approximate: str = "none") -> Any:
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    x = fractional(x, "gelu")
    return Gelu.apply(x) if approximate == "none" else GeluTanh.apply(x)


def relu(x: Any) -> Any:
    return Relu.apply(lift(x, where="relu"))


def leaky_relu(x: Any, negative_slope: float = 0.01) -> Any:
    return LeakyRelu.apply(fractional(x, "leaky_relu"), slope=float(negative_slope))


def elu(x: Any, alpha: float = 1.0) -> Any:
    return Elu.apply(fractional(x, "elu"), alpha=float(alpha))


def silu(x: Any) -> Any:
    return Silu.apply(fractional(x, "silu"))


def softplus(x: Any, beta: float = 1.0, threshold: float = 20.0) -> Any:
    """log(1 + e^(beta x)) / beta, and x itself where beta x > threshold (PyTorch's cut:
    there the two agree to float precision, and the gradient there is exactly 1)."""
    x = fractional(x, "softplus")
    if beta == 0:
        raise ValueError("softplus: beta must not be 0 (it divides)")
    z = x if beta == 1 else x * float(beta)
    soft = Softplus.apply(z)
    if beta != 1:
        soft = soft / float(beta)
    over = z.data > threshold
    return where(over, x, soft) if over.any() else soft


# arrays or Tensors: the numpy function or the op
def _data(x: Any) -> Any:
    return x.data if is_tensor(x) else x


def _erf(x: Any) -> Any:
    return erf(x) if is_tensor(x) else erf_array(x)


def _exp(x: Any) -> Any:
    return exp(x) if is_tensor(x) else np.exp(x)


def _tanh(x: Any) -> Any:
    return tanh(x) if is_tensor(x) else np.tanh(x)


def _where(cond: np.ndarray, a: Any, b: Any) -> Any:
    return where(cond, a, b) if is_tensor(a) or is_tensor(b) else np.where(cond, a, b)
