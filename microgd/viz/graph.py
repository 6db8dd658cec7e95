"""draw_graph: the computation graph as a Graphviz picture.

Every value (a ``Value`` or a ``Tensor``) is a box; every operation is an oval between its
inputs and its output. Boxes show what the forward pass computed (a number, or a shape and
dtype) and what the backward pass left in ``.grad``. Nodes made inside a ``Module`` call sit
in a cluster named after the module, nested like the modules are.
"""
from __future__ import annotations

import math
from typing import Any

import graphviz
import numpy as np

from ..scalar import Value
from ..tensor import Tensor

FORMATS = ("svg", "png", "pdf")
_INSTALL_HINT = (
    "Graphviz's 'dot' program is needed to render graphs but was not found on PATH: "
    "install it with 'sudo apt-get install graphviz' (Debian/Ubuntu), "
    "'brew install graphviz' (macOS) or from https://graphviz.org/download/"
)


class Graph(graphviz.Digraph):
    """A ``graphviz.Digraph`` whose rendering says how to install Graphviz when ``dot``
    is missing, instead of failing deep inside a subprocess call."""

    def render(self, *args: Any, **kwargs: Any) -> str:
        try:
            return super().render(*args, **kwargs)
        except graphviz.ExecutableNotFound:
            raise RuntimeError(_INSTALL_HINT) from None

    def pipe(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().pipe(*args, **kwargs)
        except graphviz.ExecutableNotFound:
            raise RuntimeError(_INSTALL_HINT) from None


def _walk(root: Any, max_depth: int | None) -> tuple[list, list]:
    """All nodes reachable from ``root`` (iteratively) and the (parent, child) edges,
    stopping ``max_depth`` ops away from the root when given."""
    nodes, edges, seen = [], [], {id(root)}
    stack = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        nodes.append(node)
        if max_depth is not None and depth >= max_depth:
            continue
        for parent in node._parents:
            edges.append((parent, node))
            if id(parent) not in seen:
                seen.add(id(parent))
                stack.append((parent, depth + 1))
    return nodes, edges


def _fmt(x: float) -> str:
    return f"{x:.4f}" if abs(x) < 1e4 and (x == 0 or abs(x) >= 1e-3) else f"{x:.3e}"


def _op_name(node: Any) -> str:
    if isinstance(node, Value):
        op, k = node._op, node._const  # k: a Python number folded into the op, or None
        if k is None:
            return op
        return f"{k:g} {op[1:]}" if op.startswith("r") else f"{op} {k:g}"
    return node._op.name if node._op is not None else ""


def _grad_of(node: Any) -> float | None:
    """A number for the gradient: the value for scalars, the L2 norm for tensors."""
    if isinstance(node, Value):
        return node.grad
    if node.grad is None:
        return None
    return float(np.sqrt(np.sum(np.square(node.grad, dtype=np.float64))))


def _label(node: Any, name: str, show_data: bool, show_grad: bool) -> str:
    parts = [name] if name else []
    if isinstance(node, Value):
        if show_data:
            parts.append(f"data {_fmt(node.data)}")
        if show_grad:
            parts.append(f"grad {_fmt(node.grad)}")
    else:
        if show_data:
            parts.append(f"{node.shape} {node.dtype}")
            if node.size == 1:
                parts.append(f"value {_fmt(float(node.data.reshape(-1)[0]))}")
        if show_grad and node.grad is not None:
            parts.append(f"|grad| {_fmt(_grad_of(node))}")
    return "{" + " | ".join(_escape(p) for p in parts) + "}" if parts else " "


def _escape(text: str) -> str:
    for ch in "\\{}|<>":
        text = text.replace(ch, "\\" + ch)
    return text


def _grad_colour(magnitude: float | None, lo: float, hi: float) -> str:
    """Blue (smallest, vanishing) through white to red (largest, exploding) on a log scale
    between ``10**lo`` and ``10**hi``; grey for no gradient, magenta for NaN/Inf."""
    if magnitude is None or magnitude == 0 or not math.isfinite(magnitude):
        return "#dddddd" if magnitude is None or magnitude == 0 else "#ff00ff"
    t = 0.5 if hi <= lo else (math.log10(magnitude) - lo) / (hi - lo)
    t = min(1.0, max(0.0, t))
    r = int(255 * min(1.0, 2 * t))
    b = int(255 * min(1.0, 2 * (1 - t)))
    g = int(255 * (1 - abs(2 * t - 1)) * 0.8 + 40)
    return f"#{r:02x}{g:02x}{b:02x}"


def draw_graph(
    root: Any,
    format: str = "svg",
    rankdir: str = "LR",
    show_data: bool = True,
    show_grad: bool = True,
    params: dict | None = None,
    color_by_grad: bool = False,
    max_depth: int | None = None,
    collapse: Any = (),
) -> Graph:
    """The graph that computed ``root`` (a Value or a Tensor) as a Graphviz digraph.

    - ``params``: a ``{name: tensor}`` mapping (e.g. ``dict(model.named_parameters())``)
      naming parameter nodes; registered Parameters are named automatically.
    - ``color_by_grad``: fill nodes by |gradient| on a log scale, blue (vanishing) to red
      (exploding), with a legend.
    - ``max_depth``: draw only nodes at most this many ops away from ``root``.
    - ``collapse``: module scope names (e.g. ``"MLP.layers.0"``) or classes whose inside
      is drawn as one box; ``collapse=True`` collapses every top-level submodule.

    Render with ``.render("out/graph")`` (writes out/graph.svg) or ``.pipe()``.
    """
    if not isinstance(root, (Value, Tensor)):
        raise TypeError(
            f"draw_graph: expected a Value or a Tensor (the output of a computation), got "
            f"{type(root).__name__}"
        )
    if format not in FORMATS:
        raise ValueError(f"draw_graph: format must be one of {FORMATS}, got {format!r}")
    if rankdir not in ("LR", "RL", "TB", "BT"):
        raise ValueError(f"draw_graph: rankdir must be LR, RL, TB or BT, got {rankdir!r}")
    if isinstance(root, Tensor) and root._op is not None and root._op.name == "freed":
        raise RuntimeError(
            "draw_graph: backward() already freed this graph; call backward(retain_graph=True) "
            "to draw the graph after backpropagating"
        )
    names = {id(t): n for n, t in (params or {}).items()}
    nodes, edges = _walk(root, max_depth)

    dot = Graph(format=format, graph_attr={"rankdir": rankdir, "fontname": "Helvetica"},
                node_attr={"fontname": "Helvetica", "fontsize": "11"})
    grads = [_grad_of(n) for n in nodes] if color_by_grad else []
    logs = [math.log10(abs(m)) for m in grads if m and math.isfinite(m)]
    lo, hi = (min(logs), max(logs)) if logs else (0.0, 0.0)

    from .clusters import ClusterLayout

    layout = ClusterLayout(dot, collapse)
    for i, node in enumerate(nodes):
        uid = str(id(node))
        name = (names.get(id(node)) or getattr(node, "label", "") or getattr(node, "name", "")
                or getattr(node, "qualified_name", ""))
        attrs = {"shape": "record", "label": _label(node, name, show_data, show_grad)}
        if name and not isinstance(node, Value):
            attrs["style"] = "bold"
        if color_by_grad:
            fill = _grad_colour(grads[i], lo, hi)
            attrs.update(style="filled", fillcolor=fill, fontcolor=_ink(fill))
        scope = getattr(node, "_scope", None)
        target = layout.graph_for(scope)
        op = _op_name(node)
        if layout.is_collapsed(scope):
            continue  # drawn as the module's box
        target.node(uid, **attrs)
        if op and node._parents:
            target.node(uid + "op", label=op, shape="ellipse")
            target.edge(uid + "op", uid)
    for parent, child in edges:
        src = layout.endpoint(parent, str(id(parent)))
        dst = layout.endpoint(child, str(id(child)) + "op")
        if src != dst:
            dot.edge(src, dst)
    layout.close()
    if color_by_grad:
        _legend(dot, lo, hi)
    return dot


def _ink(fill: str) -> str:
    """Black or white text, whichever reads better on ``fill``."""
    r, g, b = (int(fill[i:i + 2], 16) for i in (1, 3, 5))
    return "black" if 0.299 * r + 0.587 * g + 0.114 * b > 140 else "white"


def _legend(dot: Graph, lo: float, hi: float) -> None:
    """A key from the smallest to the largest |gradient| in the picture."""
    with dot.subgraph(name="cluster_legend") as leg:
        leg.attr(label="|gradient| (log scale)", fontsize="10", style="rounded")
        steps = 5
        prev = None
        for k in range(steps):
            e = lo + (hi - lo) * k / (steps - 1) if hi > lo else lo
            uid = f"legend{k}"
            fill = _grad_colour(10 ** e, lo, hi)
            leg.node(uid, label=f"{10 ** e:.1e}", shape="box", style="filled",
                     fillcolor=fill, fontcolor=_ink(fill), fontsize="9")
            if prev is not None:
                leg.edge(prev, uid, style="invis")
            prev = uid
        leg.node("legend_zero", label="0 / none", shape="box", style="filled",
                 fillcolor="#dddddd", fontsize="9")
        leg.node("legend_bad", label="NaN / Inf", shape="box", style="filled",
                 fillcolor="#ff00ff", fontsize="9")
