"""RMSprop: divide the step by a running root-mean-square of recent gradients, so steep
directions take small steps and flat ones large (PyTorch's ``torch.optim.RMSprop``)."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from .optimizer import Optimizer


class RMSprop(Optimizer):
    def __init__(self, params: Iterable[Any], lr: float = 0.01, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0, momentum: float = 0,
                 centered: bool = False) -> None:
        if not 0.0 <= alpha:
            raise ValueError(f"RMSprop: alpha must be non-negative, got {alpha}")
        if eps < 0 or momentum < 0:
            raise ValueError(f"RMSprop: eps and momentum must be non-negative, got eps={eps}, "
                             f"momentum={momentum}")
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered))

    def update(self, p, grad, state, group):
        if not state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(p.data)
            if group["momentum"] > 0:
                state["momentum_buffer"] = np.zeros_like(p.data)
            if group["centered"]:
                state["grad_avg"] = np.zeros_like(p.data)
        state["step"] += 1
        g = grad + group["weight_decay"] * p.data if group["weight_decay"] else grad
        alpha = group["alpha"]
        sq = state["square_avg"]
        sq *= alpha
        sq += (1 - alpha) * g * g                      # E[g²] ← α E[g²] + (1 − α) g²
        if group["centered"]:
            ga = state["grad_avg"]
            ga += (1 - alpha) * (g - ga)               # E[g] ← α E[g] + (1 − α) g
            avg = np.sqrt(sq - ga * ga) + group["eps"]
        else:
            avg = np.sqrt(sq) + group["eps"]
        if group["momentum"] > 0:
            buf = state["momentum_buffer"]
            buf *= group["momentum"]
            buf += g / avg
            p.data -= group["lr"] * buf
        else:
            p.data -= group["lr"] * g / avg
