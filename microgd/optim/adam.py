"""Adam and AdamW: momentum (a running mean of gradients, m) divided by a running RMS of
gradients (√v), both bias-corrected for their zero start (PyTorch's formulas).

Adam's ``weight_decay`` is L2 regularisation (λθ added to the gradient, then rescaled with
it); AdamW decays the weights directly, θ ← θ − lr·λ·θ, independent of the gradient scale.
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from .optimizer import Optimizer, l2_gradient


class Adam(Optimizer):
    decoupled_weight_decay = False

    def __init__(self, params: Iterable[Any], lr: float = 0.001,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False) -> None:
        if isinstance(betas, list):
            betas = tuple(betas)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps,
                                      weight_decay=weight_decay, amsgrad=amsgrad))

    def _check(self, group: dict[str, Any], where: str) -> None:
        super()._check(group, where)
        betas = group["betas"]
        if not (isinstance(betas, tuple) and len(betas) == 2
                and all(self._is_number(b) and 0 <= b < 1 for b in betas)):
            raise ValueError(f"{type(self).__name__}: betas must be in [0, 1), got {betas}"
                             f"{where}")
        self._require_non_negative(group, "eps", where)

    def update(self, p, grad, state, group):
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(p.data)
            state["exp_avg_sq"] = np.zeros_like(p.data)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(p.data)
        state["step"] += 1
        t = state["step"]
        lr, wd = group["lr"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        theta, s = p.data, self.scratch(p.data)  # s: work array, overwritten at will
        g = grad
        if wd and self.decoupled_weight_decay:
            theta *= 1 - lr * wd                       # AdamW: θ ← θ − lr·λ·θ
        elif wd:
            g = l2_gradient(grad, theta, wd)           # Adam: g ← ∇J + λθ
        m, v = state["exp_avg"], state["exp_avg_sq"]
        np.subtract(g, m, out=s)
        m += np.multiply(s, 1 - beta1, out=s)          # m ← β1 m + (1 − β1) g
        v *= beta2
        np.multiply(g, 1 - beta2, out=s)
        v += np.multiply(s, g, out=s)                  # v ← β2 v + (1 − β2) g²
        if group["amsgrad"]:
            v = np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
        # d = lr·m̂ / (√v̂ + ε), with m̂ = m / (1 − β1ᵗ) and √v̂ = √v / √(1 − β2ᵗ), computed
        # as m / ((√v̂ + ε) / step_size): the scalars folded into one product and one sum,
        # so the whole d costs four passes (sqrt, ×, +, ÷) instead of five. (√v̂ / step_size
        # is about |∇J| / lr: float16 overflows there, so it takes the five passes.)
        step_size = lr / (1 - beta1 ** t)              # lr / (1 − β1ᵗ)
        if not step_size:
            return                                     # lr = 0: the moments move, θ stays
        fold = step_size if s.dtype.itemsize >= 4 else 1.0
        np.sqrt(v, out=s)
        s *= 1 / (math.sqrt(1 - beta2 ** t) * fold)
        s += group["eps"] / fold                       # (√v̂ + ε) / fold
        np.divide(m, s, out=s)
        if fold != step_size:
            s *= step_size                             # d
        theta -= s                                     # θ ← θ − lr m̂ / (√v̂ + ε)


class AdamW(Adam):
    decoupled_weight_decay = True

    def __init__(self, params: Iterable[Any], lr: float = 0.001,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.01, amsgrad: bool = False) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)
