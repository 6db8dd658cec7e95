"""Adagrad: divide by the root of the *sum* of all past squared gradients, so frequently
large directions slow down for good (PyTorch's ``torch.optim.Adagrad``)."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from .optimizer import Optimizer


class Adagrad(Optimizer):
    def __init__(self, params: Iterable[Any], lr: float = 0.01, lr_decay: float = 0,
                 weight_decay: float = 0, initial_accumulator_value: float = 0,
                 eps: float = 1e-10) -> None:
        if lr_decay < 0 or initial_accumulator_value < 0 or eps < 0:
            raise ValueError("Adagrad: lr_decay, initial_accumulator_value and eps must be "
                             "non-negative")
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value,
                                      eps=eps))

    def update(self, p, grad, state, group):
        if not state:
            state["step"] = 0
            state["sum"] = np.full_like(p.data, group["initial_accumulator_value"])
        state["step"] += 1
        g = grad + group["weight_decay"] * p.data if group["weight_decay"] else grad
        clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        state["sum"] += g * g
        p.data -= clr * g / (np.sqrt(state["sum"]) + group["eps"])
