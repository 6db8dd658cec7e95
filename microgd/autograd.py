"""THE backprop walk, shared by both engines, and ``grad()``.

Reverse-mode differentiation is one idea: visit the graph from the output back to the
inputs, each node after every node that used it, and hand each node's gradient to its
parents through the node's vector-Jacobian product (VJP). This file is that idea, once.

It knows a node only through the ``Node`` protocol below (``Value`` in scalar.py and
``Tensor`` in tensor.py both speak it), so it imports neither engine. The walk is
iterative (a heap of waiting nodes, no recursion), so a chain of a million nodes
backpropagates without ``RecursionError``; its order comes from when each node was made.
"""
from __future__ import annotations

import gc
import heapq
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

import numpy as np

from .hooks import HOOKS
from .state import REBASED, set_grad_enabled


class Node(Protocol):
    """What the walk needs of a graph node."""

    _parents: tuple               # the nodes it was computed from (empty for a leaf)
    _op: Any                      # the op that made it: falsy for a leaf (cheaper to test
                                  # than _parents, which a Value builds when asked)
    _seq: int                     # when it was made (state.next_seq): after its parents
    requires_grad: bool           # whether gradients should flow into it at all

    def _vjp(self, g: Any, create_graph: bool) -> Sequence[Any]:
        """The gradients for ``_parents`` given this node's gradient ``g`` (``None``
        where a parent needs none); Tensors in and out when ``create_graph``."""

    def _accumulate(self, g: Any) -> None:
        """Store a finished gradient in ``.grad`` (leaves; others ignore it)."""

    def _release(self) -> None:
        """Free what only another backward would need (the structure stays)."""

    def _run_hooks(self, g: Any) -> Any:
        """Call its ``HOOKS`` with the finished gradient; return the gradient to pass on."""


# --------------------------------------------------------------------------- the walk
def inputs_of(node: Any) -> tuple:
    """``node._parents`` as they were when ``node`` was made, so always made before it.

    An in-place op turns a Tensor into a later node (after ``x.mul_(2)``, ``x`` is the
    product, and its earlier self is kept in ``_before``); a node made from ``x`` before the
    write used the earlier ``x``, as in PyTorch. (A view of ``x`` moves with the write: it
    becomes a new node on the new ``x``, and its readers from before keep its earlier self;
    see ops/inplace.py.)"""
    parents = node._parents
    if not REBASED[0]:
        return parents
    seq = node._seq
    return tuple(_version(p, seq) if p._seq > seq else p for p in parents)


def _version(node: Any, at: float) -> Any:
    """``node`` as it was at creation number ``at``: before each later in-place write, its
    earlier self (nodes with no earlier self, like replay's stand-ins, are as they are)."""
    while node._seq > at:
        before = getattr(node, "_before", None)
        if before is None:
            break
        node = before
    return node


def restore_node(node: Any, state: Any) -> None:
    """``__setstate__`` of both engines' nodes (pickle and ``copy.deepcopy``): the slots as
    saved, the creation number moved 2**62 lower. The numbers of a graph from another
    process (or of the original, for a copy) keep their order among themselves, in-place
    writes included, and every node made from the restored ones afterwards is numbered
    after them. (``copy.copy`` keeps the number: its parents are the original's.)"""
    slots = state[1] if isinstance(state, tuple) else state
    for name, value in (slots or {}).items():
        setattr(node, name, value)
    node._seq -= _RESTORED


_RESTORED = 2 ** 62


def copy_node(node: Any) -> Any:
    """``__copy__`` of both engines' nodes: the same slots (parents, number) in a new object."""
    twin = object.__new__(type(node))
    for cls in type(node).__mro__:
        for name in getattr(cls, "__slots__", ()):
            if name != "__weakref__" and hasattr(node, name):
                setattr(twin, name, getattr(node, name))
    return twin


def count_users(roots: Iterable[Any]) -> dict:
    """For every node reachable from ``roots`` (through parents that require grad): how
    many edges lead out of it to nodes that used it. Iterative, so depth is unlimited."""
    users: dict = {}
    stack = []
    for root in roots:
        if root not in users:
            users[root] = 0
            stack.append(root)
    while stack:
        node = stack.pop()
        for parent in inputs_of(node):
            if parent.requires_grad:
                if parent in users:
                    users[parent] += 1
                else:
                    users[parent] = 1
                    stack.append(parent)
    return users


def reachable(root: Any, max_depth: int | None = None) -> tuple[list, list]:
    """Every node reachable from ``root`` through ``_parents`` (iteratively, each once) and
    the (parent, child) edges, stopping ``max_depth`` ops away from the root when given.
    The pictures draw this; unlike the walk below it follows every parent, gradient or not."""
    nodes, edges, seen = [], [], {id(root)}
    stack = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        nodes.append(node)
        if max_depth is not None and depth >= max_depth:
            continue
        for parent in inputs_of(node):
            edges.append((parent, node))
            if id(parent) not in seen:
                seen.add(id(parent))
                stack.append((parent, depth + 1))
    return nodes, edges


def topological_order(roots: Iterable[Any]) -> list:
    """Nodes reachable from ``roots``, each listed only after every node that used it:
    the order in which backprop finishes them (the roots come first)."""
    roots = list(dict.fromkeys(roots))
    users = count_users(roots)
    ready = [r for r in roots if users[r] == 0]
    order = []
    while ready:
        node = ready.pop()
        order.append(node)
        for parent in inputs_of(node):
            if parent.requires_grad:
                users[parent] -= 1
                if users[parent] == 0:
                    ready.append(parent)
    return order


def backpropagate(
    roots: Sequence[Any],
    seeds: Sequence[Any],
    *,
    retain_graph: bool = False,
    create_graph: bool = False,
    inputs: Sequence[Any] | None = None,
) -> dict:
    """Push ``seeds`` (d root / d root) from ``roots`` back through the graph.

    A node is finished once every node that used it has handed back its share of the
    gradient (the chain rule sums over uses); then its own VJP passes the total on to its
    parents. Every node was made after its inputs and numbered then (``_seq``), so its
    users all have higher numbers: taking the waiting node with the highest number next
    (a heap) finishes each node after all its users, with no recursion and no pass to count
    them first. Leaves wait until the end, when their totals are complete.

    With ``inputs=None`` every finished gradient goes to ``node._accumulate`` (this is
    ``.backward()``); otherwise the gradients of ``inputs`` are returned, keyed by node,
    and nothing is accumulated (this is ``mg.grad``). ``create_graph=True`` hands the
    VJPs Tensors instead of arrays, so the backward pass is itself recorded and can be
    differentiated again.

    The gradient array a node's VJP receives belongs to that node alone (sums are fresh
    arrays, a gradient passed on whole goes to one parent only, and ``mg.grad`` keeps
    copies), so a rule may overwrite it in place when it is writeable — ReLU does, which
    saves an allocation the size of its input on every step.
    """
    pending: dict = {}  # node -> gradient summed over the users that have handed theirs
    heap: list = []     # (-_seq, id, node) for the nodes in pending: the latest made first
    leaves: dict = {}   # leaf -> gradient summed so far
    wanted = None if inputs is None else set(inputs)
    useful = None if wanted is None else _leading_to(roots, wanted)
    for root, seed in zip(roots, seeds):
        if useful is not None and root not in useful:
            continue
        waiting = pending if root._parents else leaves
        if root in waiting:
            waiting[root] = waiting[root] + seed
        else:
            waiting[root] = seed
            if root._parents:
                heap.append((-root._seq, id(root), root))
    heapq.heapify(heap)
    found: dict = {}
    # The walk makes no reference cycles, so Python's cycle collector has nothing to find
    # here; on a big graph its passes over millions of live nodes would cost ~15 % of it.
    pause_gc = gc.isenabled()
    if pause_gc:
        gc.disable()
    try:
        _walk(heap, pending, leaves, wanted, useful, found, retain_graph, create_graph)
        for leaf, g in leaves.items():
            if HOOKS and id(leaf) in HOOKS:
                g = leaf._run_hooks(g)
            if wanted is None:
                leaf._accumulate(g)
            elif leaf in wanted:
                found[leaf] = g.copy() if type(g) is np.ndarray else g
    finally:
        if pause_gc:
            gc.enable()
    return found


def _walk(heap: list, pending: dict, leaves: dict, wanted: set | None, useful: set | None,
          found: dict, retain_graph: bool, create_graph: bool) -> None:
    """The loop of ``backpropagate``: finish the latest-made waiting node, until none waits
    (with ``useful``, only nodes that lead to a wanted one)."""
    pop, get, heappop, heappush = pending.pop, pending.get, heapq.heappop, heapq.heappush
    hooks = HOOKS
    rebased = REBASED[0]
    # When a node hands its gradient to a single new waiting node while nothing else waits
    # (a chain: most steps of most graphs), that node is the next anyway: it is kept in
    # ``after`` instead of going through the heap (~0.15 µs a node).
    after = None
    while True:
        if after is not None:
            node, after = after, None
        elif heap:
            node = heappop(heap)[2]
        else:
            break
        g = pop(node)                             # every user of node is done: g is total
        if hooks and id(node) in hooks:
            g = node._run_hooks(g)                # observe, or replace, the gradient
        if wanted is None:
            node._accumulate(g)                   # a released node raises here
        elif node in wanted:  # a copy: the node's VJP may overwrite g in place
            found[node] = g.copy() if type(g) is np.ndarray else g
        parents = inputs_of(node) if rebased else node._parents
        if useful is not None and not any(p in useful for p in parents):
            continue                              # a wanted node with nothing wanted above
        grads = node._vjp(g, create_graph)        # a released node raises here
        # An index, not zip(): this loop starts once per node, and building zip's iterators
        # each time cost a fifth of the whole walk on a long chain.
        i = 0
        for parent in parents:
            pg = grads[i]
            i += 1
            if pg is None or not parent.requires_grad or (
                    useful is not None and parent not in useful):
                continue                          # nothing flows back along this edge
            if parent._op:                        # an op's result: it waits its turn
                previous = get(parent)
                if previous is None:
                    pending[parent] = pg
                    if after is None and not heap:
                        after = parent
                    else:
                        if after is not None:     # two wait now: both in the heap
                            heappush(heap, (-after._seq, id(after), after))
                            after = None
                        heappush(heap, (-parent._seq, id(parent), parent))
                else:
                    pending[parent] = previous + pg
            else:                                 # a leaf: summed now, stored at the end
                previous = leaves.get(parent)
                leaves[parent] = pg if previous is None else previous + pg
        if not retain_graph:
            node._release()


def _leading_to(roots: Sequence[Any], wanted: set) -> set:
    """The nodes from which a node in ``wanted`` can be reached through parents (the wanted
    ones included): the only ones whose VJPs ``mg.grad`` needs, so the walk skips the rest
    (as PyTorch's autograd.grad does; a node off every path may even have had its saved
    values changed in place since). Iterative, children finished after their parents."""
    useful: set = set()
    seen: set = set()
    stack = [(root, False) for root in roots]
    while stack:
        node, parents_done = stack.pop()
        if parents_done:
            if node in wanted or any(p in useful for p in inputs_of(node)):
                useful.add(node)
        elif node not in seen:
            seen.add(node)
            stack.append((node, True))
            stack.extend((p, False) for p in inputs_of(node)
                         if p.requires_grad and p not in seen)
    return useful


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
    outputs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
    inputs = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    for i, t in enumerate(outputs + inputs):
        if not _is_node(t):
            hint = ("; a Value graph gives its gradients by y.backward() into each .grad"
                    if hasattr(t, "_vjp") else "")
            raise TypeError(f"grad: expected Tensors, got {type(t).__name__} at position "
                            f"{i}{hint}")
        if t._view is not None:
            t._refresh()  # a view: on its tensor's latest self (ops/inplace.refresh)
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
    seeds = [t._grad_seed(g, "grad", as_tensor=create_graph)  # the caller makes the seed
             for t, g in zip(outputs, grad_outputs)]
    with set_grad_enabled(create_graph):  # record the backward pass only when asked to
        found = backpropagate(outputs, seeds, retain_graph=retain_graph,
                              create_graph=create_graph, inputs=inputs)
    results: list[Any] = []  # Tensors, or None for an unused input when allow_unused
    for i, t in enumerate(inputs):
        g = found.get(t)
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    f"grad: input {i} (shape {t.shape}) is not used to compute the outputs; "
                    "pass allow_unused=True to get None for it"
                )
            results.append(None)
        else:
            results.append(g if _is_node(g) else t._make(np.asarray(g), (), None, None, False))
    return results


def _is_node(x: Any) -> bool:
    return hasattr(x, "_vjp") and hasattr(x, "_grad_seed")
