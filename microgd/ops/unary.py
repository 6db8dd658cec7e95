"""More unary functions: ``sin``, ``cos``, ``log1p``, ``expm1``, ``erf``.

Each is one op whose backward is its derivative times the upstream gradient, written with
functions that take arrays and Tensors alike, so it can be differentiated again.
``log1p``/``expm1`` exist for accuracy near 0 (``log(1 + 1e-10)`` loses six digits);
``erf`` is the Gaussian's integral behind the exact GELU.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from .core import Op, fractional, is_tensor, work_array
from .elementwise import exp


class Sin(Op):
    name = "sin"
    reads_output = False
    forward = staticmethod(np.sin)

    @staticmethod
    def backward(g, out, needs, a):
        return (g * _cos(a),)  # d sin = cos


class Cos(Op):
    name = "cos"
    reads_output = False
    forward = staticmethod(np.cos)

    @staticmethod
    def backward(g, out, needs, a):
        return (-g * _sin(a),)  # d cos = -sin


class Log1p(Op):
    name = "log1p"
    reads_output = False
    forward = staticmethod(np.log1p)

    @staticmethod
    def backward(g, out, needs, a):
        return (g / (a + 1),)


class Expm1(Op):
    name = "expm1"
    forward = staticmethod(np.expm1)

    @staticmethod
    def backward(g, out, needs, a):
        return (g * (out + 1),)  # d(e^x - 1) = e^x = out + 1


_TWO_OVER_SQRT_PI = 2 / math.sqrt(math.pi)
_SQRT_HALF = 1 / math.sqrt(2)


class Erf(Op):
    """erf(x) = 2/sqrt(pi) * integral of exp(-t^2) from 0 to x; numpy has none, so
    ``erf_array`` below computes it (to float64 rounding, or float32's)."""

    name = "erf"
    reads_output = False

    @staticmethod
    def forward(a):
        return erf_array(a)

    @staticmethod
    def backward(g, out, needs, a):
        return (g * _exp(-(a * a)) * _TWO_OVER_SQRT_PI,)


def sin(x: Any) -> Any:
    return Sin.apply(fractional(x, "sin"))


def cos(x: Any) -> Any:
    return Cos.apply(fractional(x, "cos"))


def log1p(x: Any) -> Any:
    """log(1 + x), accurate for tiny x."""
    return Log1p.apply(fractional(x, "log1p"))


def expm1(x: Any) -> Any:
    """exp(x) - 1, accurate for tiny x."""
    return Expm1.apply(fractional(x, "expm1"))


def erf(x: Any) -> Any:
    """The error function."""
    return Erf.apply(fractional(x, "erf"))


def _sin(x: Any) -> Any:
    return sin(x) if is_tensor(x) else np.sin(x)


def _cos(x: Any) -> Any:
    return cos(x) if is_tensor(x) else np.cos(x)


def _exp(x: Any) -> Any:
    return exp(x) if is_tensor(x) else np.exp(x)


# =========================================================================== erf on arrays
# float64: a Taylor series near 0 (where 1 - erfc(x) would lose relative accuracy) and
# Numerical Recipes' Chebyshev fit of erfc beyond (Press et al., 3rd ed., section 6.2.2);
# both agree with math.erf to ~3e-16. float32: Eigen's rational x P(x^2) / Q(x^2) on
# [-4, 4] (erf is 1 to float32 precision beyond), within 4 float32 ulps and 5x cheaper.
_ERFC_COF = (
    -1.3026537197817094, 6.4196979235649026e-1, 1.9476473204185836e-2, -9.561514786808631e-3,
    -9.46595344482036e-4, 3.66839497852761e-4, 4.2523324806907e-5, -2.0278578112534e-5,
    -1.624290004647e-6, 1.303655835580e-6, 1.5626441722e-8, -8.5238095915e-8,
    6.529054439e-9, 5.059343495e-9, -9.91364156e-10, -2.27365122e-10, 9.6467911e-11,
    2.394038e-12, -6.886027e-12, 8.94487e-13, 3.13092e-13, -1.12708e-13, 3.81e-16,
    7.106e-15, -1.523e-15, -9.4e-17, 1.21e-16, -2.8e-17,
)
_ERF32_P = (-1.60960333262415e-02, -2.95459980854025e-03, -7.34990630326855e-04,
            -5.69250639462346e-05, -2.10102402082508e-06, 2.77068142495902e-08,
            -2.72614225801306e-10)
_ERF32_Q = (-1.42647390514189e-02, -7.37332916720468e-03, -1.68282697438203e-03,
            -2.13374055278905e-04, -1.45660718464996e-05)


# Phi(a) = 0.5 + 0.5 erf(a / sqrt 2) for float32 straight from a: Eigen's x P(x^2) / Q(x^2)
# at x = a / sqrt 2 is a P~(a^2) / Q~(a^2) with the k-th coefficients divided by 2^k (exact),
# P~ times 0.5 / sqrt 2, and both divided by Q~'s leading coefficient. So no pass to scale
# a, and a monic Q (its Horner starts with t + q3): Phi in 24 passes where there were 26.
def _phi32_coefficients() -> tuple[tuple, tuple]:
    p = [c / 2 ** k for k, c in enumerate(_ERF32_P)]
    q = [c / 2 ** k for k, c in enumerate(_ERF32_Q)]
    lead = q[-1]
    return (tuple(c * 0.5 * _SQRT_HALF / lead for c in p), tuple(c / lead for c in q))


_PHI32_P, _PHI32_Q = _phi32_coefficients()
# beyond 5.5 Phi is within 2e-8 of 0 or 1, and there the rational gives exactly 0 and 1
# (at 4 sqrt 2, erf's own bound, the rescaled one gives -6e-8 and 1 + 1e-7)
_PHI32_CLIP = np.float32(5.5)


def _poly(x: np.ndarray, coefficients: tuple) -> np.ndarray:
    """c0 + c1 x + c2 x^2 + ... by Horner's rule, in x's dtype, in one new array (its first
    step, x c_n + c_(n-1), makes it: no array filled with c_n first)."""
    dt = x.dtype.type
    out = x * dt(coefficients[-1])
    out += dt(coefficients[-2])
    for c in coefficients[-3::-1]:
        out *= x
        out += dt(c)
    return out


def _odd_rational(x: np.ndarray, p: tuple, q: tuple) -> np.ndarray:
    """x P(x^2) / Q(x^2), computed in place in P's array: every pass over a float32 array
    of GELU's size costs ~15-30 µs, so the count of passes is the cost."""
    x2 = np.square(x)
    out = _poly(x2, p)
    out *= x
    out /= _poly(x2, q)
    return out


def normal_cdf_array(a: np.ndarray, spare: np.ndarray | None = None) -> np.ndarray:
    """Phi(a) = 0.5 + 0.5 erf(a / sqrt 2), the standard normal CDF, in a's dtype.
    ``spare``, an array of a's shape and dtype, may be overwritten on the way (GELU lends
    its output's buffer): the float32 path then makes one new array, the result."""
    if a.dtype != np.float32:
        return 0.5 + 0.5 * erf_array(a * a.dtype.type(_SQRT_HALF))
    c = np.clip(a, -_PHI32_CLIP, _PHI32_CLIP, out=work_array(a.shape, a.dtype))
    t = np.square(c, out=np.empty_like(c) if spare is None else spare)
    cdf = _poly(t, _PHI32_P)
    cdf *= c
    q = np.add(t, np.float32(_PHI32_Q[-2]), out=c)  # c is free again: Q~ in its buffer
    for coefficient in _PHI32_Q[-3::-1]:
        q *= t
        q += np.float32(coefficient)
    cdf /= q
    cdf += np.float32(0.5)
    return cdf


def erf_array(a: np.ndarray) -> np.ndarray:
    """erf elementwise on a float array, in its dtype."""
    a = np.asarray(a)
    if a.dtype == np.float32:
        return _odd_rational(np.clip(a, -4, 4), _ERF32_P, _ERF32_Q)
    if a.dtype == np.float16:
        x = np.clip(a.astype(np.float32), -4, 4)
        return _odd_rational(x, _ERF32_P, _ERF32_Q).astype(np.float16)
    x = a.astype(np.float64, copy=False)
    z = np.abs(x)
    # erfc(z) for z >= 0 from the Chebyshev series in ty = 4t - 2, t = 2 / (2 + z)
    t = 2 / (2 + z)
    ty = 4 * t - 2
    d = np.zeros_like(z)
    dd = np.zeros_like(z)
    for c in _ERFC_COF[:0:-1]:
        d, dd = ty * d - dd + c, d
    erfc = t * np.exp(-z * z + 0.5 * (_ERFC_COF[0] + ty * d) - dd)
    out = np.copysign(1 - erfc, x)
    small = z < 0.5
    if small.any():  # x sum_n (-x^2)^n / (n! (2n + 1)), 2/sqrt(pi) times
        xs = x[small]
        x2 = xs * xs
        term, total = xs.copy(), xs.copy()
        for n in range(1, 14):
            term *= -x2 / n
            total += term / (2 * n + 1)
        out[small] = total * _TWO_OVER_SQRT_PI
    return out
