"""Adagrad: divide by the root of the *sum* of all past squared gradients, so frequently
large directions slow down for good (PyTorch's ``torch.optim.Adagrad``)."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from .optimizer import Optimizer, l2_gradient


class Adagrad(Optimizer):
    def __init__(self, params: Iterable[Any], lr: float = 0.01, lr_decay: float = 0,
                 weight_decay: float = 0, initial_accumulator_value: float = 0,
                 eps: float = 1e-10) -> None:
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value,
                                      eps=eps))

    def _check(self, group: dict[str, Any], where: str) -> None:
        super()._check(group, where)
        for key in ("lr_decay", "initial_accumulator_value", "eps"):
            self._require_non_negative(group, key, where)

    def update(self, p, grad, state, group):
        if not state:
            state["step"] = 0
            state["sum"] = np.full_like(p.data, group["initial_accumulator_value"])
        state["step"] += 1
        theta, s = p.data, self.scratch(p.data)  # s: work array, overwritten at will
        g = l2_gradient(grad, theta, group["weight_decay"])   # g ← ∇J + λθ
        clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        G = state["sum"]
        G += np.multiply(g, g, out=s)                  # G ← G + g²
        np.sqrt(G, out=s)
        s += group["eps"]
        np.divide(g, s, out=s)                         # d ← g / (√G + ε)
        s *= clr
        theta -= s                                     # θ ← θ − lr_t·d
