"""gradcheck: compare backprop's gradients with central finite differences.

The derivative is the limit of (f(x + eps) - f(x - eps)) / 2 eps; in float64 with a small
eps this matches the analytic gradient to many digits, so it is the oracle every op's
backward rule is tested against.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .autograd import grad
from .tensor import Tensor


class GradcheckError(AssertionError):
    """Analytic and numerical gradients disagree."""


def _scalar_output(fn: Callable, inputs: Sequence[Tensor], weights: list) -> Tensor:
    """fn(*inputs) reduced to one number: a fixed random projection for non-scalar outputs
    (checks v^T J, which differs from the truth for a wrong J with probability 1)."""
    out = fn(*inputs)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(out).__name__}")
    if out.size == 1:
        return out.sum()
    if not weights:
        weights.append(np.random.default_rng(0).standard_normal(out.shape))
    return (out * weights[0]).sum()


def numerical_grad(fn: Callable[[], float], x: np.ndarray, eps: float) -> np.ndarray:
    """Central differences of the number ``fn()`` with respect to every entry of ``x``
    (``x`` is perturbed in place and restored)."""
    g = np.zeros(x.shape, dtype=np.float64)
    flat = x.reshape(-1)  # a view: writing to it perturbs x
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        up = fn()
        flat[i] = old - eps
        down = fn()
        flat[i] = old
        g.reshape(-1)[i] = (up - down) / (2 * eps)
    return g


def gradcheck(fn: Callable[..., Tensor], inputs: Sequence[Any], eps: float = 1e-6,
              atol: float = 1e-5, rtol: float = 1e-3) -> bool:
    """Check d fn(*inputs) / d inputs against central finite differences in float64.

    Inputs that require grad are checked; they must be float64 Tensors (float32 has too
    few digits for finite differences). Returns True, or raises GradcheckError naming the
    worst entry.
    """
    inputs = list(inputs)
    checked = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input has requires_grad=True; nothing to check")
    for i in checked:
        if inputs[i].dtype != np.float64:
            raise TypeError(
                f"gradcheck: input {i} has dtype {inputs[i].dtype}; finite differences need "
                "float64 inputs (create them with dtype=np.float64)"
            )
    weights: list = []
    out = _scalar_output(fn, inputs, weights)
    if out.requires_grad:
        analytic = grad(out, [inputs[i] for i in checked], allow_unused=True)
    else:  # the output does not depend on any input: every derivative is zero
        analytic = [None] * len(checked)

    def f() -> float:  # recording stays on: fn may itself call mg.grad (second derivatives)
        return float(_scalar_output(fn, inputs, weights).data)

    for i, a in zip(checked, analytic):
        x = inputs[i]
        a = np.zeros(x.shape) if a is None else a.data
        n = numerical_grad(f, x.data, eps)
        err = np.abs(a - n)
        bound = atol + rtol * np.abs(n)
        if not np.all(err <= bound):
            k = np.unravel_index(np.argmax(err - bound), x.shape) if x.ndim else ()
            raise GradcheckError(
                f"gradcheck: input {i} (shape {x.shape}) at index {tuple(int(j) for j in k)}: "
                f"analytic {float(a[k]):.8g} vs numerical {float(n[k]):.8g} "
                f"(|difference| {float(err[k]):.3g} > atol {atol} + rtol {rtol} * |numerical|)"
            )
    return True
