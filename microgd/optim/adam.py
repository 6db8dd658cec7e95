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

from .optimizer import Optimizer


class Adam(Optimizer):
    decoupled_weight_decay = False

    def __init__(self, params: Iterable[Any], lr: float = 0.001,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False) -> None:
        if not (0.0 <= betas[0] < 1.0 and 0.0 <= betas[1] < 1.0):
            raise ValueError(f"{type(self).__name__}: betas must be in [0, 1), got {betas}")
        if eps < 0:
            raise ValueError(f"{type(self).__name__}: eps must be non-negative, got {eps}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, amsgrad=amsgrad))

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
        g = grad
        if wd and self.decoupled_weight_decay:
            p.data *= 1 - lr * wd                      # AdamW: shrink θ directly
        elif wd:
            g = g + wd * p.data                        # Adam: L2 term in the gradient
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m += (1 - beta1) * (g - m)                     # m ← β1 m + (1 − β1) g
        v *= beta2
        v += (1 - beta2) * g * g                       # v ← β2 v + (1 − β2) g²
        if group["amsgrad"]:
            np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
            v = state["max_exp_avg_sq"]
        step_size = lr / (1 - beta1 ** t)
        denom = np.sqrt(v) / math.sqrt(1 - beta2 ** t) + group["eps"]
        p.data -= step_size * m / denom                # θ ← θ − lr m̂ / (√v̂ + ε)


class AdamW(Adam):
    decoupled_weight_decay = True

    def __init__(self, params: Iterable[Any], lr: float = 0.001,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.01, amsgrad: bool = False) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)
