"""explain_grad: a Value's gradient as a sum over paths (the chain rule, written out).

d root / d node = Σ over every path from root down to node of the product of the local
derivatives along it. Backpropagation computes that sum without listing the paths (it
adds them up where they meet); this lists them, sums them, and checks the sum against
``node.grad`` and a central finite difference. Path counts grow exponentially with
shared subexpressions, so they are counted, not listed, beyond ``MAX_LISTED``: then the
``SHOWN`` paths with the largest products are listed, plus what the rest add up to.
"""
from __future__ import annotations

import heapq
import math
from typing import Any

from ..autograd import reachable
from ..scalar import Value
from .graph import Graph, _clean, _fmt, _label, plain_label

MAX_LISTED = 12   # list every path when there are at most this many
SHOWN = 10        # otherwise the ones with the largest |product|


class Explanation(str):
    """The text, plus what it says as numbers: ``paths`` (each a list of nodes from root
    to node, its local derivatives and their product), ``n_paths`` (all paths), ``total``
    (the sum of all their products), ``grad`` (node.grad) and ``numerical`` (the central
    finite difference, or None where the graph cannot be re-evaluated)."""

    paths: list
    n_paths: int
    total: float
    grad: float
    numerical: float | None


def _local(node: Value, j: int) -> float:
    loc = node._local
    return loc if isinstance(loc, float) else loc[j]


def explain_grad(root: Value, node: Value, draw: bool = False) -> Any:
    """Explain ``node.grad`` (d root / d node) as the sum over paths from ``root`` to
    ``node`` of the products of local derivatives; ``draw=True`` returns ``(text, graph)``
    with the paths highlighted in a draw_graph-style picture."""
    for name, v in (("root", root), ("node", node)):
        if not isinstance(v, Value):
            raise TypeError(f"explain_grad: {name} must be a Value (a scalar graph; for "
                            f"Tensors see mg.viz.replay), got {type(v).__name__}")
    nodes, edges = reachable(root)
    if not any(n is node for n in nodes):
        raise ValueError("explain_grad: node is not in root's graph (root was not computed "
                         "from it), so d root / d node is 0 and there is no path to explain")
    order = _forward_order(nodes)                 # inputs before the nodes made from them
    count: dict[int, int] = {id(node): 1}         # paths from n down to node
    total: dict[int, float] = {id(node): 1.0}     # the sum of their products
    best: dict[int, list] = {id(node): [(1.0, (node, None))]}
    for n in order:
        if n is node or id(n) in count:
            continue
        c, s, cands = 0, 0.0, []
        for j, p in enumerate(n._parents):
            if id(p) in count:
                d = _local(n, j)
                c += count[id(p)]
                s += d * total[id(p)]
                cands += [(d * prod, (n, d, tail)) for prod, tail in best[id(p)]]
        if c:
            count[id(n)], total[id(n)] = c, s
            best[id(n)] = heapq.nlargest(max(SHOWN, MAX_LISTED), cands, key=lambda t: abs(t[0]))
    paths = [(_unroll(tail), prod) for prod, tail in best[id(root)]]
    n_paths, full = count[id(root)], total[id(root)]
    listed = paths if n_paths <= MAX_LISTED else paths[:SHOWN]
    numerical = _finite_difference(root, node, order, count)
    text = _text(root, node, listed, n_paths, full, numerical)
    out = Explanation(text)
    out.paths = [(ns, ds, prod) for (ns, ds), prod in listed]
    out.n_paths, out.total, out.grad, out.numerical = n_paths, full, node.grad, numerical
    if draw:
        return out, _picture(nodes, edges, count, node, root)
    return out


def _unroll(tail: Any) -> tuple[list, list]:
    nodes, locals_ = [], []
    while tail[1] is not None:
        n, d, tail = tail
        nodes.append(n)
        locals_.append(d)
    nodes.append(tail[0])
    return nodes, locals_


def _forward_order(nodes: list) -> list:
    """Kahn's order over the graph: every node after all of its parents (iterative)."""
    users: dict[int, list] = {id(n): [] for n in nodes}
    waiting = {id(n): len(n._parents) for n in nodes}
    for n in nodes:
        for p in n._parents:
            users[id(p)].append(n)
    ready = [n for n in nodes if not n._parents]
    order = []
    while ready:
        n = ready.pop()
        order.append(n)
        for u in users[id(n)]:
            waiting[id(u)] -= 1
            if waiting[id(u)] == 0:
                ready.append(u)
    return order


def _name(n: Value) -> str:
    text = _clean(n.label).replace("\n", " ") if n.label else ""
    return text or f"({n.op_label or 'leaf'})"


def _text(root: Value, node: Value, listed: list, count: int, total: float,
          numerical: float | None) -> str:
    lines = [f"d {_name(root)} / d {_name(node)} as a sum over paths: {count:,} path"
             f"{'s' if count != 1 else ''} from {_name(root)} down to {_name(node)}; along "
             "each, multiply the local derivatives d child / d parent."]
    if count > len(listed):
        lines.append(f"Too many to list: the {len(listed)} with the largest |product|:")
    for k, ((ns, ds), prod) in enumerate(listed, 1):
        steps = "".join(f" ─[{_fmt(d)}]→ {_name(n)}" for n, d in zip(ns[1:], ds))
        lines.append(f"  {k:>2}. {_name(ns[0])}{steps}   product {_fmt(prod)}")
    if count > len(listed):
        rest = total - sum(prod for _, prod in listed)
        lines.append(f"  ... and {count - len(listed):,} more paths, adding up to {_fmt(rest)}")
    width = 40
    lines.append(f"{'sum over all paths':<{width}}{_fmt(total)}")
    lines.append(f"{f'{_name(node)}.grad (backpropagation)':<{width}}{_fmt(node.grad)}"
                 + ("   (0: was root.backward() called?)" if node.grad == 0 and total else ""))
    fd = "not available" if numerical is None else _fmt(numerical)
    lines.append(f"{'central finite difference':<{width}}{fd}")
    return "\n".join(lines)


# -- a finite difference: re-evaluate the nodes that depend on `node` ------------------------
_ONE = {"+": lambda a, k: a + k, "*": lambda a, k: a * k, "-": lambda a, k: a - k,
        "r-": lambda a, k: k - a, "/": lambda a, k: a / k, "r/": lambda a, k: k / a,
        "**": lambda a, k: a ** k, "r**": lambda a, k: k ** a, "neg": lambda a, k: -a,
        "relu": lambda a, k: max(a, 0.0), "tanh": lambda a, k: math.tanh(a),
        "exp": lambda a, k: math.exp(a), "log": lambda a, k: math.log(a),
        "sigmoid": lambda a, k: 1.0 / (1.0 + math.exp(-a))}
_TWO = {"+": lambda a, b: a + b, "*": lambda a, b: a * b, "-": lambda a, b: a - b,
        "/": lambda a, b: a / b, "**": lambda a, b: a ** b}


def _forward(n: Value, xs: list) -> float:
    op = n._op
    if op == "Σ w·x + b":        # weighted_sum: pairs (w, x) of Values, or w times a number
        loc: Any = n._local
        ps, out, j = n._parents, xs[-1], 0
        while j < len(ps) - 1:
            pair = (j + 2 < len(ps) and loc[j] == ps[j + 1].data and loc[j + 1] == ps[j].data)
            out += xs[j] * (xs[j + 1] if pair else loc[j])
            j += 2 if pair else 1
        return out
    if len(xs) == 1 and op in _ONE:
        return _ONE[op](xs[0], n._const)
    if len(xs) == 2 and op in _TWO:
        return _TWO[op](*xs)
    raise KeyError(op)


def _finite_difference(root: Value, node: Value, order: list, count: dict) -> float | None:
    """(root(x + h) - root(x - h)) / 2h, re-evaluating only what depends on ``node``; None
    when an op is unknown, the perturbed point is outside an op's domain, or the stored
    values no longer agree with their graph (e.g. an optimizer changed the leaves)."""
    affected = [n for n in order if id(n) in count and n is not node]

    def run(x: float) -> float:
        vals = {id(node): x}
        for n in affected:
            vals[id(n)] = _forward(n, [vals.get(id(p), p.data) for p in n._parents])
        return vals[id(root)]

    try:
        again = run(node.data)
        if not math.isclose(again, root.data, rel_tol=1e-9, abs_tol=1e-12):
            return None
        h = 1e-5 * max(1.0, abs(node.data))
        return (run(node.data + h) - run(node.data - h)) / (2 * h)
    except (KeyError, ValueError, ZeroDivisionError, OverflowError, TypeError):
        return None


def _picture(nodes: list, edges: list, count: dict, node: Value, root: Value) -> Graph:
    """draw_graph's boxes, with the nodes and edges on root-to-node paths in orange and
    each such edge labelled with its local derivative."""
    dot = Graph(format="svg", graph_attr={"rankdir": "LR", "fontname": "Helvetica"},
                node_attr={"fontname": "Helvetica", "fontsize": "11"})
    hot = "#e8590c"
    for n in nodes:
        uid, on = str(id(n)), id(n) in count
        attrs = {"shape": "record", "label": _label(n, n.label, True, True)}
        if on:
            attrs.update(color=hot, penwidth="2.5" if n is node or n is root else "1.5")
        dot.node(uid, **attrs)
        if n.op_label and n._parents:
            dot.node(uid + "op", label=plain_label(n.op_label), shape="ellipse",
                     **({"color": hot} if on else {}))
            dot.edge(uid + "op", uid, **({"color": hot} if on else {}))
    seen: dict[tuple, int] = {}
    for p, c in edges:
        j = seen[(id(p), id(c))] = seen.get((id(p), id(c)), -1) + 1
        slots = [k for k, q in enumerate(c._parents) if q is p]
        if id(p) in count and id(c) in count:
            dot.edge(str(id(p)), str(id(c)) + "op", color=hot, penwidth="2",
                     label=plain_label(_fmt(_local(c, slots[min(j, len(slots) - 1)]))),
                     fontcolor=hot)
        else:
            dot.edge(str(id(p)), str(id(c)) + "op", color="#aaaaaa")
    return dot
