"""Stochastic gradient descent, with momentum and Nesterov (PyTorch's ``torch.optim.SGD``)."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .optimizer import Optimizer


class SGD(Optimizer):
    """θ ← θ − lr·d with d = ∇J (plain), or a momentum buffer b ← μ·b + (1 − dampening)·∇J
    (d = b, or ∇J + μ·b with Nesterov's look-ahead). Weight decay adds λ·θ to ∇J."""

    def __init__(self, params: Iterable[Any], lr: float, momentum: float = 0,
                 dampening: float = 0, nesterov: bool = False, weight_decay: float = 0) -> None:
        if momentum < 0:
            raise ValueError(f"SGD: momentum must be non-negative, got {momentum}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: Nesterov momentum needs momentum > 0 and dampening = 0")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      nesterov=nesterov, weight_decay=weight_decay))

    def update(self, p, grad, state, group):
        d = grad
        if group["weight_decay"]:
            d = d + group["weight_decay"] * p.data
        mu = group["momentum"]
        if mu:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = d.copy()
            else:
                buf *= mu
                buf += (1 - group["dampening"]) * d
            d = d + mu * buf if group["nesterov"] else buf
        p.data -= group["lr"] * d
