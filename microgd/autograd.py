"""THE backprop walk, shared by both engines.

Reverse-mode differentiation is one idea: visit the graph from the output back to the
inputs, each node after every node that used it, and hand each node's gradient to its
parents through the node's vector-Jacobian product (VJP). This file is that idea, once.

A node speaks a tiny protocol (``Value`` and ``Tensor`` both implement it):

- ``node._parents``           the nodes it was computed from (empty for a leaf);
- ``node.requires_grad``       whether gradients should flow into it at all;
- ``node._vjp(g, create_graph)``  the gradients for ``_parents`` given this node's
  gradient ``g`` (``None`` where a parent needs none);
- ``node._accumulate(g)``      store a finished gradient in ``.grad``;
- ``node._release()``          free what only backward needed (the graph behind it).

The walk is iterative (an explicit stack, no recursion), so a chain of a million
nodes backpropagates without ``RecursionError``.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from typing import Any


class _State:
    """Global switches, read once per op: recording on/off, anomaly mode, module scope."""

    __slots__ = ("grad_enabled", "detect_anomaly", "scope")

    def __init__(self) -> None:
        self.grad_enabled = True
        self.detect_anomaly = False
        self.scope: Any = None  # the innermost Scope entered by Module.__call__


STATE = _State()


# --------------------------------------------------------------------------- recording switch
@contextmanager
def no_grad():
    """Inside this block ops compute values but record no graph (e.g. optimizer updates)."""
    previous = STATE.grad_enabled
    STATE.grad_enabled = False
    try:
        yield
    finally:
        STATE.grad_enabled = previous


@contextmanager
def enable_grad():
    """Turn recording back on inside a ``no_grad`` block."""
    previous = STATE.grad_enabled
    STATE.grad_enabled = True
    try:
        yield
    finally:
        STATE.grad_enabled = previous


def is_grad_enabled() -> bool:
    return STATE.grad_enabled


# --------------------------------------------------------------------------- the walk
def topological_order(roots: Iterable[Any]) -> list:
    """Nodes reachable from ``roots`` through parents that require grad, each listed
    before all of its parents (so the roots come first): the order backprop visits them.

    Iterative depth-first search: a node is emitted only after all its parents are,
    then the list is reversed.
    """
    order: list = []
    visited: set[int] = set()
    for root in roots:
        if id(root) in visited:
            continue
        stack = [(root, False)]
        while stack:
            node, parents_done = stack.pop()
            if parents_done:
                order.append(node)
                continue
            if id(node) in visited:
                continue
            visited.add(id(node))
            stack.append((node, True))
            for parent in node._parents:
                if parent.requires_grad and id(parent) not in visited:
                    stack.append((parent, False))
    order.reverse()
    return order


def backpropagate(
    roots: Sequence[Any],
    seeds: Sequence[Any],
    *,
    retain_graph: bool = False,
    create_graph: bool = False,
    inputs: Sequence[Any] | None = None,
) -> dict[int, Any]:
    """Push ``seeds`` (d root / d root) from ``roots`` back through the graph.

    With ``inputs=None`` every node's finished gradient goes to ``node._accumulate``
    (this is ``.backward()``); otherwise the gradients of ``inputs`` are returned,
    keyed by ``id(node)``, and nothing is accumulated (this is ``mg.grad``).
    ``create_graph=True`` hands the VJPs Tensors instead of arrays, so the backward
    pass is itself recorded and can be differentiated again.
    """
    pending: dict[int, Any] = {}
    for root, seed in zip(roots, seeds):
        key = id(root)
        pending[key] = seed if key not in pending else pending[key] + seed
    wanted = None if inputs is None else {id(node) for node in inputs}
    found: dict[int, Any] = {}

    for node in topological_order(roots):
        g = pending.pop(id(node), None)
        if g is None:  # nothing flows here (e.g. only reached through unused branches)
            continue
        if wanted is None:
            node._accumulate(g)
        elif id(node) in wanted:
            found[id(node)] = g
        parents = node._parents
        if not parents:
            node._vjp(g, create_graph)  # a leaf; a released node raises here
            continue
        for parent, pg in zip(parents, node._vjp(g, create_graph)):
            if pg is None or not parent.requires_grad:
                continue
            key = id(parent)
            previous = pending.get(key)
            pending[key] = pg if previous is None else previous + pg  # chain rule: sum over uses
        if not retain_graph:
            node._release()
    return found


# --------------------------------------------------------------------------- mg.grad
def grad(
    outputs: Any,
    inputs: Any,
    grad_outputs: Any = None,
    create_graph: bool = False,
    retain_graph: bool | None = None,
    allow_unused: bool = False,
) -> list:
    """d(outputs)/d(inputs) as a list of Tensors, like ``torch.autograd.grad``.

    Nothing is added to ``.grad``. With ``create_graph=True`` the returned gradients
    are themselves differentiable, so ``grad`` nests: Hessians, Hessian-vector products.
    """
    from .tensor import Tensor, _as_grad_seed

    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    for i, t in enumerate(list(outputs) + list(inputs)):
        if not isinstance(t, Tensor):
            raise TypeError(f"grad: expected Tensors, got {type(t).__name__} at position {i}")
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif not isinstance(grad_outputs, (list, tuple)):  # one array, Tensor or number
        grad_outputs = [grad_outputs]
    else:
        grad_outputs = list(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise ValueError(
            f"grad: {len(outputs)} outputs but {len(grad_outputs)} grad_outputs were given"
        )
    for t in outputs:
        if not t.requires_grad:
            raise RuntimeError(
                "grad: an output does not require grad (it was computed without any "
                "input that has requires_grad=True, or inside no_grad())"
            )
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError(f"grad: input {i} (shape {t.shape}) does not require grad")
    if retain_graph is None:
        retain_graph = create_graph
    seeds = [_as_grad_seed(t, g, "grad", as_tensor=create_graph)
             for t, g in zip(outputs, grad_outputs)]

    previous = STATE.grad_enabled
    STATE.grad_enabled = create_graph  # record the backward pass only when asked to
    try:
        found = backpropagate(outputs, seeds, retain_graph=retain_graph,
                              create_graph=create_graph, inputs=inputs)
    finally:
        STATE.grad_enabled = previous

    results = []
    for i, t in enumerate(inputs):
        g = found.get(id(t))
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    f"grad: input {i} (shape {t.shape}) is not used to compute the outputs; "
                    "pass allow_unused=True to get None for it"
                )
            results.append(None)
        else:
            results.append(g if isinstance(g, Tensor) else Tensor(g))
    return results


# --------------------------------------------------------------------------- module scopes
class Scope:
    """Where an op ran: the module call it happened in (``Module.__call__`` enters one).

    Rendering clusters nodes by it; error messages name it, e.g. ``MLP.layers.2 (Linear)``.
    """

    __slots__ = ("name", "kind", "parent")

    def __init__(self, name: str, kind: str, parent: Scope | None) -> None:
        self.name = name      # dotted path from the outermost module, e.g. "MLP.layers.2"
        self.kind = kind      # the module's class name, e.g. "Linear"
        self.parent = parent

    def chain(self) -> list[Scope]:
        """Outermost first."""
        out, s = [], self
        while s is not None:
            out.append(s)
            s = s.parent
        return out[::-1]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"

    __repr__ = __str__


@contextmanager
def scope(name: str, kind: str):
    """Record ops made inside the block as belonging to the module ``name``."""
    previous = STATE.scope
    STATE.scope = Scope(name, kind, previous)
    try:
        yield STATE.scope
    finally:
        STATE.scope = previous
