"""Gradient hooks: ``Tensor.register_hook``, ``retain_grad`` and the module hooks' handle.

They live in one table beside the graph rather than on every node: the walk
(autograd.py) looks only while some node has one, so hooks cost nothing otherwise.
"""
from __future__ import annotations

import weakref
from typing import Any

import numpy as np

# id(node) -> its hooks, in order; an entry is removed when its node dies (``add_hook``).
HOOKS: dict[int, list] = {}


def add_hook(node: Any, hook: Any) -> list:
    """Register ``hook`` for ``node``'s gradient; returns the node's list of hooks."""
    key = id(node)
    if key not in HOOKS:
        HOOKS[key] = []
        weakref.finalize(node, HOOKS.pop, key, None)
    HOOKS[key].append(hook)
    return HOOKS[key]


def retain(grad: Any) -> None:
    """The marker ``retain_grad()`` puts among a tensor's hooks (``Tensor._run_hooks``
    stores the gradient in ``.grad`` when it meets it)."""


def hand_hooks_down(node: Any, earlier: Any) -> None:
    """``node`` is about to become a later node (an in-place write): the hooks registered
    on it so far belong to the value they were registered on, as in PyTorch, so they move
    to ``earlier``, its earlier self; ``retain_grad``'s marker stays with the latest."""
    hooks = HOOKS.pop(id(node), None)
    if not hooks:
        return
    if retain in hooks:
        hooks.remove(retain)
        HOOKS[id(node)] = [retain]  # (the node's finalizer already drops its entry)
    if hooks:  # the same list, so handles from register_hook still remove from it
        HOOKS[id(earlier)] = hooks
        weakref.finalize(earlier, HOOKS.pop, id(earlier), None)


class RemovableHandle:
    """What ``register_hook`` and the module hooks return: ``.remove()`` takes the hook out."""

    __slots__ = ("_hooks", "_hook")

    def __init__(self, hooks: list, hook: Any) -> None:
        self._hooks, self._hook = hooks, hook

    def remove(self) -> None:
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


def run_hooks(node: Any, g: Any, tensor: type) -> Any:
    """Call ``node``'s hooks in turn with its finished gradient (as a ``tensor``); each may
    return a replacement. A hook may keep what it is given, so the walk goes on with a
    copy: the VJPs that overwrite the gradient they receive (ReLU, GELU, LayerNorm) never
    touch it. ``retain_grad`` keeps what the other hooks leave, as in PyTorch, wherever it
    was registered among them."""
    seen = retained = False
    for hook in list(HOOKS.get(id(node), ())):
        if hook is retain:
            retained = True
            continue
        given = g if isinstance(g, tensor) else tensor._make(g, (), None, None, False)
        result = hook(given)
        seen = True
        if result is not None:
            result = result if isinstance(result, tensor) else tensor(np.asarray(result))
            if result.shape != node.shape:
                raise ValueError(f"register_hook: the hook returned a gradient of shape "
                                 f"{result.shape} for a tensor of shape {node.shape}")
            g = result if isinstance(g, tensor) else result.data
    if retained:
        node._keep_grad(g)
    return g.copy() if seen and type(g) is np.ndarray else g
