"""Stochastic gradient descent, with momentum and Nesterov (PyTorch's ``torch.optim.SGD``)."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from .optimizer import Optimizer

# From 4 MB, numpy asks the kernel for huge pages, and unless the process's allocator has
# grown its thresholds, a temporary that big comes fresh from the kernel, zeroed, on every
# step: T3 (16 MB and 8 MB layers) alone in a process took 122.8 ms a step with lr·∇J as a
# temporary, 105.1 ms with it in the optimizer's scratch array (docs/performance.md).
_HUGE = 1 << 22


class SGD(Optimizer):
    """θ ← θ − lr·d with d = ∇J (plain), or a momentum buffer b ← μ·b + (1 − dampening)·∇J
    (d = b, or ∇J + μ·b with Nesterov's look-ahead). Weight decay adds λ·θ to ∇J."""

    def __init__(self, params: Iterable[Any], lr: float, momentum: float = 0,
                 dampening: float = 0, nesterov: bool = False, weight_decay: float = 0) -> None:
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      nesterov=nesterov, weight_decay=weight_decay))

    def _check(self, group: dict[str, Any], where: str) -> None:
        super()._check(group, where)
        self._require_non_negative(group, "momentum", where)
        self._require_finite(group, "dampening", where)
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(f"{type(self).__name__}: Nesterov momentum needs momentum > 0 "
                             f"and dampening = 0{where}")

    def update(self, p, grad, state, group):
        theta = p.data
        lr, wd, mu = group["lr"], group["weight_decay"], group["momentum"]
        if not (wd or mu) and theta.nbytes < _HUGE:
            theta -= lr * grad  # θ ← θ − lr·∇J (numpy recycles a small temporary)
            return
        s = self.scratch(theta)  # s: a work array, overwritten at will
        d = grad                                           # d ← ∇J
        if wd:
            np.multiply(theta, wd, out=s)
            d = np.add(grad, s, out=s)                     # d ← ∇J + λθ (kept in s)
        if mu:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = d.copy()  # b ← d on the first step
            elif group["dampening"]:  # never with Nesterov, so d may be overwritten
                buf *= mu
                buf += np.multiply(d, 1 - group["dampening"], out=s)  # b ← μb + (1 − τ)d
            else:
                buf *= mu
                buf += d                                   # b ← μb + d
            if not group["nesterov"]:
                d = buf                                    # d ← b
            elif d is s:  # s already holds d, so μb takes a temporary of its own
                s += mu * buf                              # d ← d + μb
            else:
                np.multiply(buf, mu, out=s)
                d = np.add(s, grad, out=s)                 # d ← ∇J + μb
        np.multiply(d, lr, out=s)
        theta -= s                                         # θ ← θ − lr·d
