"""RMSprop: divide the step by a running root-mean-square of recent gradients, so steep
directions take small steps and flat ones large (PyTorch's ``torch.optim.RMSprop``)."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from .optimizer import Optimizer, l2_gradient


class RMSprop(Optimizer):
    def __init__(self, params: Iterable[Any], lr: float = 0.01, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0, momentum: float = 0,
                 centered: bool = False) -> None:
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered))

    def _check(self, group: dict[str, Any], where: str) -> None:
        super()._check(group, where)
        for key in ("alpha", "eps", "momentum"):
            self._require_non_negative(group, key, where)

    def update(self, p, grad, state, group):
        if not state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(p.data)
            if group["momentum"] > 0:
                state["momentum_buffer"] = np.zeros_like(p.data)
            if group["centered"]:
                state["grad_avg"] = np.zeros_like(p.data)
        state["step"] += 1
        theta, s = p.data, self.scratch(p.data)  # s: work array, overwritten at will
        g = l2_gradient(grad, theta, group["weight_decay"])   # g ← ∇J + λθ
        alpha = group["alpha"]
        sq = state["square_avg"]
        sq *= alpha
        np.multiply(g, 1 - alpha, out=s)
        sq += np.multiply(s, g, out=s)                 # E[g²] ← α E[g²] + (1 − α) g²
        if group["centered"]:
            ga = state["grad_avg"]
            np.subtract(g, ga, out=s)
            ga += np.multiply(s, 1 - alpha, out=s)     # E[g] ← α E[g] + (1 − α) g
            np.multiply(ga, ga, out=s)
            np.subtract(sq, s, out=s)
            np.sqrt(s, out=s)                          # √(E[g²] − E[g]²)
        else:
            np.sqrt(sq, out=s)                         # √E[g²]
        s += group["eps"]
        np.divide(g, s, out=s)                         # d ← g / (√… + ε)
        if group["momentum"] > 0:
            buf = state["momentum_buffer"]
            buf *= group["momentum"]
            buf += s                                   # b ← μb + d
            np.multiply(buf, group["lr"], out=s)       # (d ← b)
        else:
            s *= group["lr"]
        theta -= s                                     # θ ← θ − lr·d
