"""Module, Parameter and the containers: how a network keeps track of its weights.

Assigning a ``Parameter`` or a ``Module`` as an attribute registers it, so
``model.parameters()`` finds every weight to hand to an optimizer, and
``named_parameters()`` names them by their attribute path (``layers.0.weight``).
"""
from __future__ import annotations

import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import numpy as np

from ..hooks import RemovableHandle
from ..state import STATE, Scope
from ..tensor import Tensor, _to_array


class Parameter(Tensor):
    """A Tensor that is a learnable weight: ``requires_grad=True``, and registered when
    assigned to a Module attribute (which also gives it a name for graph pictures)."""

    __slots__ = ("_owner",)

    def __init__(self, data: Any, requires_grad: bool = True) -> None:
        arr = _to_array(data, copy=False)
        if arr.dtype.kind != "f":
            raise TypeError(f"Parameter: weights must be floating point, got dtype {arr.dtype}")
        super().__init__(arr, requires_grad=requires_grad)
        # (weakref to the module, attribute name), set on registration
        self._owner: tuple[weakref.ReferenceType[Module], str] | None = None

    @property
    def qualified_name(self) -> str:
        """``MLP.layers.0.weight``-style name from the module that registered it."""
        if self.name:
            return self.name
        owner = self._owner
        module = owner[0]() if owner else None
        return f"{module._path()}.{owner[1]}" if owner and module is not None else ""

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


_PATH_VERSION = [0]  # bumped whenever a module is registered: invalidates cached paths
_HOOKED = [0]  # forward hooks ever registered: until one is, __call__ skips the lookup


class LoadResult(NamedTuple):
    missing_keys: list
    unexpected_keys: list


class Module:
    """Base class of every layer and network: override ``forward``; call the module."""

    # Set in __init__ through object.__setattr__ (our __setattr__ needs them to exist);
    # declared here for the type checker only, so they are not class attributes.
    _parameters: OrderedDict[str, Parameter]  # __setattr__ stores only Parameters here,
    _modules: OrderedDict[str, Module]        # only Modules here (None unregisters),
    _buffers: OrderedDict[str, Tensor | None]  # but a buffer may be None
    _non_persistent: set[str]
    _owner: tuple[weakref.ReferenceType[Module], str] | None
    _forward_hooks: list[Callable[..., Any]]
    _forward_pre_hooks: list[Callable[..., Any]]
    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_owner", None)  # (weakref to parent, name in parent)
        object.__setattr__(self, "_forward_hooks", [])
        object.__setattr__(self, "_forward_pre_hooks", [])
        object.__setattr__(self, "training", True)

    # ------------------------------------------------------------------ registration
    def __setattr__(self, name: str, value: Any) -> None:
        params = self.__dict__.get("_parameters")
        if params is None:
            raise AttributeError(
                f"{type(self).__name__}: call super().__init__() at the start of __init__ "
                "before assigning attributes"
            )
        modules = self.__dict__["_modules"]
        buffers = self.__dict__["_buffers"]
        if name in buffers:  # assigning to a buffer replaces its array (PyTorch's rule)
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"{type(self).__name__}: buffer {name!r} must be a Tensor or "
                                f"None, got {type(value).__name__}")
            buffers[name] = value
            object.__setattr__(self, name, value)
            return
        params.pop(name, None)
        modules.pop(name, None)
        if isinstance(value, Parameter):
            params[name] = value
            value._owner = (weakref.ref(self), name)
        elif isinstance(value, Module):
            modules[name] = value
            object.__setattr__(value, "_owner", (weakref.ref(self), name))
            _PATH_VERSION[0] += 1  # cached names below here may be stale now
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        self._buffers.pop(name, None)
        object.__delattr__(self, name)

    def register_buffer(self, name: str, tensor: Any, persistent: bool = True) -> None:
        """A tensor the module keeps that is not learned (BatchNorm's running mean): saved
        in ``state_dict()`` (unless ``persistent=False``), never handed to an optimizer."""
        if not isinstance(name, str) or not name or "." in name:
            raise KeyError(f"register_buffer: a buffer name must be a non-empty string "
                           f"without '.', got {name!r}")
        if name in self._parameters or name in self._modules:
            raise KeyError(f"register_buffer: attribute {name!r} already exists")
        if tensor is not None and not isinstance(tensor, Tensor):
            tensor = Tensor(np.asarray(tensor))
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent.discard(name)
        else:
            self._non_persistent.add(name)
        object.__setattr__(self, name, tensor)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        setattr(self, name, param)

    def add_module(self, name: str, module: Module | None) -> None:
        setattr(self, name, module)

    # ------------------------------------------------------------------ calling
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run ``forward`` inside a named scope, so every node made here knows its module
        (draw_graph clusters by it; anomaly errors name it), with the forward hooks around it."""
        state = STATE
        previous = state.scope
        cached = self.__dict__.get("_scope_cache")
        if cached is None or cached[0] is not previous or cached[1] != _PATH_VERSION[0]:
            cached = self._new_scope(previous)
        state.scope = cached[2]
        try:
            if not _HOOKED[0] or not (self._forward_pre_hooks or self._forward_hooks):
                return self.forward(*args, **kwargs)
            for hook in list(self._forward_pre_hooks):
                result = hook(self, args)
                if result is not None:  # a new input replaces the old
                    args = result if isinstance(result, tuple) else (result,)
            out = self.forward(*args, **kwargs)
            for hook in list(self._forward_hooks):
                result = hook(self, args, out)
                if result is not None:  # a new output replaces the old
                    out = result
            return out
        finally:
            state.scope = previous

    def register_forward_pre_hook(self, hook: Callable[..., Any]) -> RemovableHandle:
        """``hook(module, args)`` before each ``forward``; a returned value replaces args."""
        self._forward_pre_hooks.append(hook)
        _HOOKED[0] += 1
        return RemovableHandle(self._forward_pre_hooks, hook)

    def register_forward_hook(self, hook: Callable[..., Any]) -> RemovableHandle:
        """``hook(module, args, output)`` after each ``forward``; a returned value replaces
        the output. Handy for watching activations without changing the model."""
        self._forward_hooks.append(hook)
        _HOOKED[0] += 1
        return RemovableHandle(self._forward_hooks, hook)

    def _new_scope(self, parent: Scope | None) -> tuple:
        """This module's Scope when called from ``parent``, cached on the module: a training
        loop makes the same calls every step, so the same Scope object serves them all."""
        cached = (parent, _PATH_VERSION[0], Scope(self._path(), type(self).__name__, parent))
        object.__setattr__(self, "_scope_cache", cached)
        return cached

    def _path(self) -> str:
        """Dotted name from the outermost owning module, e.g. ``MLP.layers.2``."""
        cached = self.__dict__.get("_path_cache")
        if cached is None or cached[0] != _PATH_VERSION[0]:
            cached = (_PATH_VERSION[0], self._compute_path())
            object.__setattr__(self, "_path_cache", cached)
        return cached[1]

    def _compute_path(self) -> str:
        parts: list[str] = []
        module = self
        while True:
            owner = module._owner
            parent = owner[0]() if owner is not None else None
            if owner is None or parent is None:
                parts.append(type(module).__name__)
                break
            parts.append(owner[1])
            module = parent
        return ".".join(reversed(parts))

    # ------------------------------------------------------------------ traversal
    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        seen: set[int] = set()
        stack = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = list(module._modules.items())
            for child_name, child in reversed(children):
                if child is not None:
                    stack.append((f"{name}.{child_name}" if name else child_name, child))

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        for name, m in self._modules.items():
            if m is not None:
                yield name, m

    def children(self) -> Iterator[Module]:
        for _, m in self.named_children():
            yield m

    def named_parameters(self, prefix: str = "", recurse: bool = True
                         ) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter) pairs; a parameter shared by two modules appears once."""
        seen: set[int] = set()
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mod_name, module in modules:
            for name, p in module._parameters.items():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{mod_name}.{name}" if mod_name else name), p

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True
                      ) -> Iterator[tuple[str, Tensor]]:
        """(dotted name, buffer) pairs, e.g. ``bn.running_mean``."""
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mod_name, module in modules:
            for name, b in module._buffers.items():
                if b is not None:
                    yield (f"{mod_name}.{name}" if mod_name else name), b

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def _state_items(self) -> Iterator[tuple[str, Tensor]]:
        """What ``state_dict`` holds: parameters, then persistent buffers, module by module
        (PyTorch's order and keys)."""
        seen: set[int] = set()
        for mod_name, module in self.named_modules():
            for name, t in list(module._parameters.items()) + [
                    (n, b) for n, b in module._buffers.items()
                    if n not in module._non_persistent]:
                if t is None or id(t) in seen:
                    continue
                seen.add(id(t))
                yield (f"{mod_name}.{name}" if mod_name else name), t

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None

    def train(self, mode: bool = True) -> Module:
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self) -> Module:
        return self.train(False)

    # ------------------------------------------------------------------ state
    def state_dict(self) -> OrderedDict:
        """Name -> copy of each parameter and persistent buffer array, in registration order.

        Copies make it a snapshot: training on does not change a saved "best" state (in
        PyTorch the tensors share storage, and one needs ``copy.deepcopy`` for that)."""
        return OrderedDict((name, t.data.copy()) for name, t in self._state_items())

    def load_state_dict(self, state_dict: dict, strict: bool = True) -> LoadResult:
        """Copy arrays into the parameters of the same names, all or nothing.

        Every entry is checked before any is copied, so a bad checkpoint cannot leave the
        model half old, half new. With ``strict=True`` a missing or unexpected key is an
        error; a value that is not an array or Tensor, has a non-numeric dtype (strings,
        objects, complex) or the wrong shape always is. The RuntimeError (as in PyTorch)
        lists every problem and says that nothing was loaded.
        """
        if not hasattr(state_dict, "keys") or not hasattr(state_dict, "__getitem__"):
            raise TypeError(f"load_state_dict for {type(self).__name__}: expected a dict of "
                            f"name -> array, got {type(state_dict).__name__}")

        def base(arr: np.ndarray) -> np.ndarray:  # the array owning the memory arr views
            while isinstance(arr.base, np.ndarray):
                arr = arr.base
            return arr

        own = dict(self._state_items())
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict.keys() if k not in own]
        # buffers of our own parameters: a value that is one of them is copied first, so
        # loading {"a": b.data, "b": a.data} swaps instead of reading a half-written a
        bases = {id(base(p.data)) for p in own.values()}
        arrays, not_arrays, wrong_dtype, wrong_shape = {}, [], [], []
        for k, p in own.items():
            if k not in state_dict:
                continue
            value = state_dict[k]
            arr = value.data if isinstance(value, Tensor) else value
            if not isinstance(arr, (np.ndarray, np.generic)):
                not_arrays.append(f"{k}: got a {type(value).__name__} (expected a numpy array "
                                  "or Tensor)")
                continue
            arr = np.asarray(arr)
            if arr.dtype.kind not in "biuf":
                wrong_dtype.append(f"{k}: checkpoint has dtype {arr.dtype}, model has "
                                   f"{p.dtype}")
            if arr.shape != p.shape:
                wrong_shape.append(f"{k}: checkpoint has shape {arr.shape}, model has {p.shape}")
            arrays[k] = arr.copy() if id(base(arr)) in bases else arr
        problems = []
        if strict and missing:
            problems.append("missing keys: " + ", ".join(map(str, missing)))
        if strict and unexpected:
            problems.append("unexpected keys: " + ", ".join(map(str, unexpected)))
        if not_arrays:
            problems.append("not arrays: " + "; ".join(not_arrays))
        if wrong_dtype:
            problems.append("dtypes that are not numbers: " + "; ".join(wrong_dtype))
        if wrong_shape:
            problems.append("shape mismatches: " + "; ".join(wrong_shape))
        if problems:
            raise RuntimeError(f"load_state_dict for {type(self).__name__}: " + " | ".join(problems)
                               + " (nothing was loaded)")
        for k, arr in arrays.items():
            own[k].data[...] = arr  # in place: optimizers keep pointing at the same arrays
        return LoadResult(missing, unexpected)

    # ------------------------------------------------------------------ printing
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        for name, m in self._modules.items():
            child = repr(m).replace("\n", "\n  ")
            lines.append(f"  ({name}): {child}")
        return lines[0] + ")" if len(lines) == 1 else "\n".join(lines) + "\n)"
