"""The optimizer layer: everything every update rule shares.

Gradient descent is θ ← θ − α·d, where d is built from ∇J(θ). The base class owns the
bookkeeping — parameter groups with their own options (``lr``, ...), per-parameter state
(momentum buffers, running averages), ``zero_grad``, ``state_dict`` — so a rule is one
small subclass that defines ``update(p, grad, state, group)`` for a single parameter and
changes ``p.data`` in place.
"""
from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..autograd import STATE, enable_grad
from ..tensor import Tensor


class Optimizer:
    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        name = type(self).__name__
        lr = defaults.get("lr")
        if lr is None or lr < 0:
            raise ValueError(f"{name}: learning rate must be a non-negative number, got {lr}")
        self.defaults = dict(defaults)
        self.state: dict[Tensor, dict[str, Any]] = {}
        self.param_groups: list[dict[str, Any]] = []
        params = list(params) if not isinstance(params, Tensor) else [params]
        if not params:
            raise ValueError(f"{name}: got an empty parameter list (did you pass "
                             "model.parameters() of a model without parameters?)")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group: dict[str, Any]) -> None:
        name = type(self).__name__
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: parameter {i} is a {type(p).__name__}, not a Tensor")
            if not p.requires_grad:
                raise ValueError(f"{name}: parameter {i} (shape {p.shape}) does not require grad")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError(f"{name}: a parameter appears in more than one group")
        full = {**self.defaults, **group, "params": params}
        self._check(full)
        self.param_groups.append(full)

    def _check(self, group: dict[str, Any]) -> None:
        """Validate a group's options (subclasses add their own)."""
        name = type(self).__name__
        if group["lr"] < 0:
            raise ValueError(f"{name}: learning rate must be non-negative, got {group['lr']}")
        if group.get("weight_decay", 0) < 0:
            raise ValueError(f"{name}: weight_decay must be non-negative, got "
                             f"{group['weight_decay']}")

    def zero_grad(self, set_to_none: bool = True) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad[...] = 0

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        previous = STATE.grad_enabled
        STATE.grad_enabled = False  # an update is not part of any graph (as no_grad())
        try:
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        state = self.state.get(p)
                        if state is None:
                            state = self.state[p] = {}
                        self.update(p, p.grad, state, group)
        finally:
            STATE.grad_enabled = previous
        return loss

    def update(self, p: Tensor, grad: np.ndarray, state: dict[str, Any],
               group: dict[str, Any]) -> None:
        """Apply the rule to one parameter, in place on ``p.data``."""
        raise NotImplementedError

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        """Parameters are referred to by their position across groups, as in PyTorch."""
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            ids = []
            for p in group["params"]:
                index.setdefault(id(p), len(index))
                ids.append(index[id(p)])
            groups.append({**{k: v for k, v in group.items() if k != "params"}, "params": ids})
        state = {index[id(p)]: copy.deepcopy(s) for p, s in self.state.items() if id(p) in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        name = type(self).__name__
        groups = state_dict.get("param_groups")
        if not isinstance(groups, list) or len(groups) != len(self.param_groups):
            got = len(groups) if isinstance(groups, list) else groups
            raise ValueError(f"{name}.load_state_dict: expected {len(self.param_groups)} "
                             f"param groups, got {got}")
        params = [p for g in self.param_groups for p in g["params"]]
        for i, (mine, theirs) in enumerate(zip(self.param_groups, groups)):
            if len(mine["params"]) != len(theirs["params"]):
                raise ValueError(f"{name}.load_state_dict: group {i} has {len(mine['params'])} "
                                 f"parameters, the state dict {len(theirs['params'])}")
        new_state = {}
        for key, s in state_dict.get("state", {}).items():
            k = int(key)
            if not 0 <= k < len(params):
                raise ValueError(f"{name}.load_state_dict: state for parameter {k}, but there "
                                 f"are only {len(params)}")
            p = params[k]
            s = copy.deepcopy(dict(s))
            for field, v in s.items():
                if isinstance(v, np.ndarray) and v.shape == p.shape and v.dtype != p.dtype:
                    s[field] = v.astype(p.dtype)
                elif isinstance(v, np.ndarray) and v.ndim == 0:
                    s[field] = v.item()
            new_state[p] = s
        for mine, theirs in zip(self.param_groups, groups):
            mine.update({k: (tuple(v) if isinstance(v, list) else v)
                         for k, v in theirs.items() if k != "params"})
        self.state = new_state

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params"]
        return "\n".join(lines) + "\n)"
