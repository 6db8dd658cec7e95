"""The optimizer layer: everything every update rule shares.

Gradient descent is θ ← θ − α·d, where d is built from ∇J(θ). The base class owns the
bookkeeping — parameter groups with their own options (``lr``, ...), per-parameter state
(momentum buffers, running averages), ``zero_grad``, ``state_dict`` — so a rule is one
small subclass that defines ``update(p, grad, state, group)`` for a single parameter and
changes ``p.data`` in place.

The step runs on every training iteration, so the rules write into existing arrays
(``out=``, ``+=``) and share one work array per parameter shape (``self.scratch``) instead
of allocating a temporary per term; each keeps its textbook line as the comment beside it.
The base class also checks what PyTorch checks: hyperparameters when a group is added (a
NaN learning rate would silently destroy every weight), each parameter once, leaves only,
and at ``step()`` that every gradient has its parameter's shape (in-place numpy would
otherwise broadcast a wrong one without a word).
"""
from __future__ import annotations

import copy
import math
import numbers
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..ops.core import ShapeError
from ..ops.inplace import STEPPED, mark_step, register_step
from ..state import enable_grad, no_grad
from ..tensor import Tensor


def _where(i: int, g: int, p: Any) -> str:
    """'parameter 2 of group 0 (shape (3, 4))': how messages point at one parameter."""
    shape = f" (shape {p.shape})" if isinstance(p, Tensor) else ""
    return f"parameter {i} of group {g}{shape}"


def _plain(value: Any) -> Any:
    """A loaded option as the constructor takes it: lists as tuples, 0-d arrays as numbers."""
    if isinstance(value, list):
        return tuple(value)
    return value.item() if isinstance(value, np.ndarray) and value.ndim == 0 else value


def l2_gradient(grad: np.ndarray, theta: np.ndarray, weight_decay: float) -> np.ndarray:
    """∇J + λθ (L2 regularisation) as a new array, as PyTorch's ``grad.add(param, alpha=λ)``:
    the rules that read it after their scratch array is busy need it in an array of its own,
    and ``.grad`` belongs to the caller. Without weight decay, the gradient itself."""
    if not weight_decay:
        return grad
    g = theta * weight_decay
    g += grad
    return g


class Optimizer:
    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        name = type(self).__name__
        self._check(defaults, "")
        self.defaults = dict(defaults)
        self.state: dict[Tensor, dict[str, Any]] = {}
        self.param_groups: list[dict[str, Any]] = []
        self._scratch: dict[tuple, np.ndarray] = {}
        # [edit count, name] of this optimizer's last step, shared by its parameters'
        # buffers (ops/inplace.py): a graph that used them before it cannot be backpropagated
        self._step_record: list = [0, f"{type(self).__name__}.step()"]
        if isinstance(params, (set, frozenset)):
            raise TypeError(f"{name}: params must be an ordered iterable (a list), not a set: "
                            "the order of a set changes between runs, and state_dict "
                            "refers to parameters by position")
        params = list(params) if not isinstance(params, Tensor) else [params]
        if not params:
            raise ValueError(f"{name}: got an empty parameter list (did you pass "
                             "model.parameters() of a model without parameters?)")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group: dict[str, Any]) -> None:
        """Add parameters with their own options; unset options take the defaults."""
        name, gi = type(self).__name__, len(self.param_groups)
        if not isinstance(group, dict) or "params" not in group:
            raise TypeError(f"{name}: param group {gi} must be a dict with a 'params' key, "
                            f"got {type(group).__name__}")
        params = group["params"]
        if isinstance(params, (set, frozenset)):
            raise TypeError(f"{name}: params of group {gi} must be a list, not a set (its "
                            "order changes between runs)")
        params = [params] if isinstance(params, Tensor) else list(params)
        seen = {id(p): (j, h) for h, g in enumerate(self.param_groups)
                for j, p in enumerate(g["params"])}
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: {_where(i, gi, p)} is a {type(p).__name__}, not a "
                                "Tensor")
            if not p.is_leaf:
                raise ValueError(f"{name}: can't optimize a non-leaf Tensor: {_where(i, gi, p)} "
                                 f"was computed by {p.grad_fn}; pass the leaf tensors it was "
                                 "computed from (changing a result would not change them)")
            if not p.requires_grad:
                raise ValueError(f"{name}: {_where(i, gi, p)} does not require grad")
            if id(p) in seen:
                j, h = seen[id(p)]
                where = "in more than one group" if h != gi else "twice in one group"
                raise ValueError(f"{name}: a parameter appears {where}: {_where(i, gi, p)} is "
                                 f"parameter {j} of group {h} (it would be updated twice per "
                                 "step)")
            seen[id(p)] = (i, gi)
        options = {k: (tuple(v) if isinstance(v, list) else v)  # betas=[0.9, 0.99]
                   for k, v in group.items() if k != "params"}
        full = {**self.defaults, **options, "params": params}
        if options:
            self._check(full, f" (param group {gi})")
        self.param_groups.append(full)

    # ------------------------------------------------------------------ validation
    def _check(self, group: dict[str, Any], where: str) -> None:
        """Validate a group's hyperparameters as torch.optim does; subclasses add theirs.
        ``where`` ends each message (empty for the constructor's own arguments)."""
        self._require_non_negative(group, "lr", where, label="learning rate")
        self._require_non_negative(group, "weight_decay", where)

    @staticmethod
    def _is_number(value: Any) -> bool:
        return isinstance(value, numbers.Real)

    def _require(self, group: dict[str, Any], key: str, ok: bool, expected: str, where: str,
                 label: str | None = None) -> None:
        """Raise, naming the optimizer, the argument and its value, unless ``ok``."""
        if ok:
            return
        value, name, label = group[key], type(self).__name__, label or key
        if not self._is_number(value):
            raise TypeError(f"{name}: {label} must be a number, got {type(value).__name__} "
                            f"{value!r}{where}")
        if math.isinf(value):
            expected = "finite"
        raise ValueError(f"{name}: {label} must be {expected}, got {value}{where}")

    def _require_non_negative(self, group: dict[str, Any], key: str, where: str,
                              label: str | None = None) -> None:
        v = group.get(key, 0)
        ok = self._is_number(v) and 0 <= v < math.inf  # NaN fails both comparisons
        self._require(group, key, ok, "a non-negative number", where, label)

    def _require_finite(self, group: dict[str, Any], key: str, where: str) -> None:
        v = group[key]
        self._require(group, key, self._is_number(v) and math.isfinite(v), "finite", where)

    # ------------------------------------------------------------------ the step
    def zero_grad(self, set_to_none: bool = True) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad[...] = 0

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient (all gradients are checked
        first, so a bad one changes nothing)."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        todo = []
        record = self._step_record
        for group in self.param_groups:
            for p in group["params"]:
                grad = p.grad
                if grad is None:
                    continue
                theta = p.data
                if (type(grad) is not np.ndarray or grad.shape != theta.shape
                        or grad.dtype != theta.dtype):
                    grad = self._checked_grad(p, grad)
                todo.append((p, grad, group))
                if STEPPED.get(id(theta)) is not record:  # first step, or p.data replaced
                    register_step(theta, record)
        with no_grad():  # an update is not part of any graph
            for p, grad, group in todo:
                state = self.state.get(p)
                if state is None:
                    state = self.state[p] = {}
                self.update(p, grad, state, group)
        if todo:  # a graph that used the old values can no longer be backpropagated
            mark_step(record)
        return loss

    def _checked_grad(self, p: Tensor, grad: Any) -> np.ndarray:
        """The gradient as an array of p's dtype, or an error naming the parameter."""
        gi, i = next((gi, i) for gi, g in enumerate(self.param_groups)
                     for i, q in enumerate(g["params"]) if q is p)
        name, where = type(self).__name__, _where(i, gi, p)
        if isinstance(grad, np.generic):  # what numpy arithmetic on 0-d arrays returns
            grad = np.asarray(grad)
        if not isinstance(grad, np.ndarray):
            hint = " (assign its .data)" if isinstance(grad, Tensor) else ""
            raise TypeError(f"{name}.step: {where} has a .grad of type {type(grad).__name__}"
                            f"{hint}; expected a numpy array of shape {p.shape}; nothing was "
                            "updated")
        if grad.shape != p.shape:
            raise ShapeError(f"{name}.step: {where} has a .grad of shape {grad.shape}; a "
                                "gradient must have its parameter's shape (a broadcastable "
                                "one would be applied silently); nothing was updated")
        if not np.can_cast(grad.dtype, p.dtype, "safe"):
            raise TypeError(f"{name}.step: {where} is {p.dtype} but its .grad is {grad.dtype}, "
                            f"which does not cast safely to {p.dtype}; nothing was updated")
        return grad if grad.dtype == p.dtype else grad.astype(p.dtype)

    def scratch(self, like: np.ndarray) -> np.ndarray:
        """A work array shaped like ``like``, shared by all parameters of that shape and
        dtype and overwritten by every update: never state, never saved."""
        key = (like.shape, like.dtype)
        buf = self._scratch.get(key)
        if buf is None:
            buf = self._scratch[key] = np.empty(like.shape, like.dtype)
        return buf

    def update(self, p: Tensor, grad: np.ndarray, state: dict[str, Any],
               group: dict[str, Any]) -> None:
        """Apply the rule to one parameter, in place on ``p.data`` (intermediate terms go
        into ``self.scratch(p.data)``; ``grad`` belongs to the caller and is only read)."""
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
        """Check everything, then assign: a bad state dict changes nothing."""
        name = type(self).__name__
        groups = state_dict.get("param_groups")
        if not isinstance(groups, list) or len(groups) != len(self.param_groups):
            got = len(groups) if isinstance(groups, list) else groups
            raise ValueError(f"{name}.load_state_dict: expected {len(self.param_groups)} "
                             f"param groups, got {got}")
        params = [p for g in self.param_groups for p in g["params"]]
        new_groups = []
        for i, (mine, theirs) in enumerate(zip(self.param_groups, groups)):
            if len(mine["params"]) != len(theirs["params"]):
                raise ValueError(f"{name}.load_state_dict: group {i} has {len(mine['params'])} "
                                 f"parameters, the state dict {len(theirs['params'])}")
            new = {**mine, **{k: _plain(v) for k, v in theirs.items() if k != "params"}}
            self._check(new, f" (param group {i} of the loaded state dict)")
            new_groups.append(new)
        new_state = {}
        for key, s in state_dict.get("state", {}).items():
            k = int(key)
            if not 0 <= k < len(params):
                raise ValueError(f"{name}.load_state_dict: state for parameter {k}, but there "
                                 f"are only {len(params)}")
            p = params[k]
            s = copy.deepcopy(dict(s))
            for field, v in s.items():
                if isinstance(v, np.ndarray) and v.ndim == 0:
                    s[field] = v.item()
                elif isinstance(v, np.ndarray) and (
                        v.shape != p.shape or not np.can_cast(v.dtype, p.dtype, "same_kind")):
                    raise ValueError(f"{name}.load_state_dict: state {field!r} of parameter "
                                     f"{k} is a {v.dtype} array of shape {v.shape}, the "
                                     f"parameter {p.dtype} of shape {p.shape}; nothing was "
                                     "loaded")
                elif isinstance(v, np.ndarray) and v.dtype != p.dtype:
                    s[field] = v.astype(p.dtype)
            new_state[p] = s
        for mine, new in zip(self.param_groups, new_groups):
            mine.update(new)
        self.state = new_state

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params"]
        return "\n".join(lines) + "\n)"
