"""draw_graph: the computation graph as a Graphviz picture.

Every value (a ``Value`` or a ``Tensor``) is a box; every operation is an oval between its
inputs and its output. Boxes show what the forward pass computed (a number, or a shape and
dtype) and what the backward pass left in ``.grad``. Nodes made inside a ``Module`` call sit
in a cluster named after the module, nested like the modules are.

Gradient colours use one absolute scale (``GradScale``): a |grad| gets the same colour in
every picture drawn with the same ``grad_range``, so pictures can be compared side by side.
"""
from __future__ import annotations

import importlib.util
import math
import sys
import unicodedata
import warnings
from typing import Any

import graphviz
import numpy as np

from ..autograd import reachable
from ..scalar import Value
from ..tensor import Tensor

FORMATS = ("svg", "png", "pdf")
_INSTALL_HINT = (
    "Graphviz's 'dot' program is needed to render graphs but was not found on PATH: "
    "install it with 'sudo apt-get install graphviz' (Debian/Ubuntu), "
    "'brew install graphviz' (macOS) or from https://graphviz.org/download/; or, without "
    "Graphviz, write an interactive page that any browser opens: "
    "mg.viz.explore(root, 'graph.html')"
)
# dot's layout time grows faster than the graph: on a scalar MLP graph 1,060 boxes took 0.9 s,
# 1,796 took 3 s, and 5,779 took two minutes.
LARGE_GRAPH_NODES = 1000
# |grad| around 1 sits in the middle; below 1e-3 reads as vanishing, above 1e3 as exploding.
DEFAULT_GRAD_RANGE = (1e-3, 1e3)


class LargeGraphWarning(UserWarning):
    """draw_graph was asked for a picture so big that ``dot`` will take a long time."""


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


# -- text: user-written names reach dot, so everything dot or XML would read is escaped ----
def _clean(text: Any) -> str:
    """``text`` as printable lines: tabs become spaces, newlines stay, and other control
    characters (NUL, bell, ...) and lone surrogates are dropped — dot stops at a NUL and an
    SVG with a bell in it is not XML."""
    text = str(text).replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    return "".join(ch for ch in text if ch == "\n" or unicodedata.category(ch) not in
                   ("Cc", "Cs") and ch not in "\ufffe\uffff")


def _text(text: Any) -> str:
    """Escape for a dot label: backslashes are literal, ``&`` is written once as ``&amp;``
    (dot passes entities through, so a bare ``&amp;`` typed by the user stays visible)."""
    return _clean(text).replace("\\", "\\\\").replace("&", "&amp;").replace("\n", "\\n")


def plain_label(text: Any) -> str:
    """A label for an oval or a cluster; ``nohtml`` stops ``<...>`` being read as HTML."""
    return graphviz.nohtml(_text(text))


def _record_field(text: Any) -> str:
    """A field of a ``record`` node, where ``{ } | < >`` are structure unless escaped."""
    out = _text(text)
    for ch in "{}|<>":
        out = out.replace(ch, "\\" + ch)
    return out


def _fmt(x: float) -> str:
    return f"{x:.4f}" if abs(x) < 1e4 and (x == 0 or abs(x) >= 1e-3) else f"{x:.3e}"


def _op_name(node: Any) -> str:
    if isinstance(node, Value):
        return node.op_label
    return node._op.name if node._op is not None else ""


def _grad_of(node: Any) -> float | None:
    """A number for the gradient: |grad| for scalars, the L2 norm of .grad for tensors."""
    if isinstance(node, Value):
        return abs(node.grad)
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
        magnitude = _grad_of(node) if show_grad else None
        if magnitude is not None:
            parts.append(f"|grad| {_fmt(magnitude)}")
    return "{" + " | ".join(_record_field(p) for p in parts) + "}" if parts else " "


# -- gradient colours ------------------------------------------------------------------------
# ColorBrewer RdBu, reversed: dark blue (vanishing) through near-white to dark red (exploding).
_PALETTE = ("#053061", "#2166ac", "#4393c3", "#92c5de", "#d1e5f0", "#f7f7f7", "#fddbc7",
            "#f4a582", "#d6604d", "#b2182b", "#67001f")
NO_GRAD, BAD_GRAD = "#dddddd", "#ff00ff"


def _mix(position: float) -> str:
    """The palette read at ``position`` (0 .. len-1), interpolated in RGB."""
    i = min(int(position), len(_PALETTE) - 2)
    f = position - i
    a, b = (_PALETTE[i], _PALETTE[i + 1])
    rgb = (round(int(a[k:k + 2], 16) * (1 - f) + int(b[k:k + 2], 16) * f) for k in (1, 3, 5))
    return "#" + "".join(f"{c:02x}" for c in rgb)


def _num(x: float) -> str:
    """A bin edge for the legend: two significant digits, no exponent between 1e-3 and 1e4."""
    v = float(f"{x:.2g}")
    if 1e-3 <= v < 1e4:
        return f"{v:f}".rstrip("0").rstrip(".")
    mantissa, exponent = f"{v:.1e}".split("e")
    return f"{mantissa.removesuffix('.0')}e{int(exponent)}"


class GradScale:
    """Colour bins for |grad| between ``lo`` and ``hi`` on a log scale, one per decade when
    the range is whole decades (at most 12 bins), plus one bin below ``lo`` and one above
    ``hi``. The colour depends only on the |grad| and the range, never on the other nodes
    of the picture: that is what makes two pictures with one range comparable."""

    def __init__(self, lo: float, hi: float) -> None:
        self.lo, self.hi = lo, hi
        self.log_lo = math.log10(lo)
        decades = math.log10(hi) - self.log_lo
        self.n = max(2, min(12, math.ceil(decades - 1e-9)))
        self.step = decades / self.n
        self.edges = [lo] + [10 ** (self.log_lo + self.step * k) for k in range(1, self.n)] + [hi]

    def bin(self, magnitude: float | None) -> int | str:
        """-1 below the range, 0 .. n-1 inside (each bin holds its lower edge), n above it;
        "none" for a zero or missing gradient, "bad" for NaN or Inf."""
        if magnitude is None or magnitude == 0:
            return "none"
        if not math.isfinite(magnitude):
            return "bad"
        if magnitude < self.lo:
            return -1
        if magnitude > self.hi:
            return self.n
        k = math.floor((math.log10(magnitude) - self.log_lo) / self.step + 1e-9)
        return min(k, self.n - 1)

    def colour_of_bin(self, k: int | str) -> str:
        if isinstance(k, str):
            return NO_GRAD if k == "none" else BAD_GRAD
        if k == -1:
            return _PALETTE[0]
        if k == self.n:
            return _PALETTE[-1]
        return _mix(1 + (len(_PALETTE) - 3) * (k + 0.5) / self.n)

    def colour(self, magnitude: float | None) -> str:
        return self.colour_of_bin(self.bin(magnitude))

    def bins(self) -> list[tuple[str, str]]:
        """(colour, text) for every bin, smallest first: what the legend lists."""
        rows = [(self.colour_of_bin(-1), f"< {_num(self.lo)}")]
        rows += [(self.colour_of_bin(k), f"{_num(self.edges[k])} – {_num(self.edges[k + 1])}")
                 for k in range(self.n)]
        rows += [(self.colour_of_bin(self.n), f"> {_num(self.hi)}"),
                 (NO_GRAD, "0 / none"), (BAD_GRAD, "NaN / Inf")]
        return rows

    def legend(self) -> str:
        """The key as one Graphviz HTML-table node label (one node, so it is never split)."""
        rows = "".join(
            f'<tr><td bgcolor="{c}" width="28"></td><td align="left">'
            f'{t.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")}</td></tr>'
            for c, t in self.bins())
        return ('<<table border="0" cellborder="1" cellspacing="0" cellpadding="3">'
                '<tr><td colspan="2"><b>|grad|</b> colour</td></tr>'
                '<tr><td colspan="2">(tensors: L2 norm)</td></tr>' + rows + "</table>>")


def _check_range(grad_range: Any, where: str) -> tuple[float, float]:
    try:
        if isinstance(grad_range, (str, bytes)):
            raise TypeError  # "12" would otherwise read as (1.0, 2.0)
        lo, hi = (float(v) for v in grad_range)
    except (TypeError, ValueError):
        lo = hi = math.nan
    if not (0 < lo < hi < math.inf):
        raise ValueError(f"{where}: grad_range must be (lo, hi) with 0 < lo < hi, both finite "
                         "(the gradient sizes at the ends of the colour scale), "
                         f"got {grad_range!r}")
    return lo, hi


def _check_root(root: Any, where: str) -> None:
    if not isinstance(root, (Value, Tensor)):
        raise TypeError(
            f"{where}: expected a Value or a Tensor (the output of a computation), got "
            f"{type(root).__name__}"
        )


def grad_range(*roots: Any) -> tuple[float, float]:
    """One ``(lo, hi)`` that covers every nonzero finite |grad| in the graphs of ``roots``,
    widened to whole decades; pass it as ``draw_graph(..., grad_range=...)`` to every
    picture of a run so that one colour means one size of gradient in all of them."""
    if not roots:
        raise TypeError("grad_range: expected at least one Value or Tensor, got none")
    found = []
    for root in roots:
        _check_root(root, "grad_range")
        found += [g for g in map(_grad_of, reachable(root)[0]) if g and math.isfinite(g)]
    if not found:
        graphs = "the graph" if len(roots) == 1 else f"the graphs of {len(roots)} roots"
        raise ValueError(f"grad_range: no nonzero finite gradient in {graphs}; call "
                         "backward() first")
    lo = math.floor(math.log10(min(found)))
    hi = max(math.ceil(math.log10(max(found))), lo + 1)
    return 10.0 ** lo, 10.0 ** hi


def retain_grads(root: Any) -> Any:
    """Keep every node's gradient at the next ``backward()`` (``retain_grad()`` on each
    non-leaf Tensor of ``root``'s graph), so ``color_by_grad`` colours the inside of a
    network, not just its parameters. Value graphs keep every gradient already. Returns
    ``root``: ``mg.viz.retain_grads(loss).backward()``."""
    _check_root(root, "retain_grads")
    for node in reachable(root)[0]:
        if isinstance(node, Tensor) and node.requires_grad and node._op is not None:
            node.retain_grad()
    return root


# -- the picture -----------------------------------------------------------------------------
def draw_graph(
    root: Any,
    format: str = "svg",
    rankdir: str = "LR",
    show_data: bool = True,
    show_grad: bool = True,
    params: dict | None = None,
    color_by_grad: bool | None = None,
    max_depth: int | None = None,
    collapse: Any = (),
    grad_range: tuple[float, float] | None = None,
) -> Graph:
    """The graph that computed ``root`` (a Value or a Tensor) as a Graphviz digraph.

    - ``params``: a ``{name: tensor}`` mapping (e.g. ``dict(model.named_parameters())``)
      naming parameter nodes; registered Parameters are named automatically.
    - ``color_by_grad``: fill nodes by |grad| (the L2 norm of a tensor's ``.grad``), dark
      blue (vanishing) to dark red (exploding), on one absolute log scale with a legend
      that lists each colour's |grad| range.
    - ``grad_range``: ``(lo, hi)``, the |grad| span of that scale (default
      ``DEFAULT_GRAD_RANGE``, 1e-3 to 1e3); implies ``color_by_grad``. Give every picture
      of one run the same range, e.g. ``mg.viz.grad_range(loss_a, loss_b)``, to compare them.
    - ``max_depth``: draw only nodes at most this many ops away from ``root``.
    - ``collapse``: module scope names (e.g. ``"MLP.layers.0"``) or classes whose inside
      is drawn as one box; ``collapse=True`` collapses every top-level submodule.

    Names and labels may hold any text: it is escaped for dot, and control characters are
    dropped. A picture of more than ``LARGE_GRAPH_NODES`` boxes warns (``LargeGraphWarning``):
    dot may take minutes on it. Render with ``.render("out/graph")`` (writes out/graph.svg)
    or ``.pipe()``.
    """
    _check_root(root, "draw_graph")
    if format not in FORMATS:
        raise ValueError(f"draw_graph: format must be one of {FORMATS}, got {format!r}")
    if rankdir not in ("LR", "RL", "TB", "BT"):
        raise ValueError(f"draw_graph: rankdir must be LR, RL, TB or BT, got {rankdir!r}")
    if grad_range is not None:
        if color_by_grad is False:
            raise ValueError("draw_graph: grad_range sets the colour scale of color_by_grad; "
                             "drop color_by_grad=False or grad_range")
        color_by_grad = True
    scale = GradScale(*_check_range(grad_range or DEFAULT_GRAD_RANGE, "draw_graph"))
    names: dict[int, str] = {id(t): n for n, t in (params or {}).items()}
    nodes, edges = reachable(root, max_depth)

    dot = Graph(format=format, graph_attr={"rankdir": rankdir, "fontname": "Helvetica"},
                node_attr={"fontname": "Helvetica", "fontsize": "11"})
    from .clusters import ClusterLayout

    layout = ClusterLayout(dot, collapse)
    drawn = 0
    for node in nodes:
        scope = getattr(node, "_scope", None)
        if layout.is_collapsed(scope):
            continue  # drawn as the module's box
        uid = str(id(node))
        name = str(names.get(id(node)) or getattr(node, "label", "")
                   or getattr(node, "name", "") or getattr(node, "qualified_name", "") or "")
        attrs = {"shape": "record", "label": _label(node, name, show_data, show_grad)}
        if name and not isinstance(node, Value):
            attrs["style"] = "bold"
        if color_by_grad:
            fill = scale.colour(_grad_of(node))
            attrs.update(style="filled", fillcolor=fill, fontcolor=_ink(fill))
        target = layout.graph_for(scope)
        target.node(uid, **attrs)
        drawn += 1
        op = _op_name(node)
        if op and node._parents:
            target.node(uid + "op", label=plain_label(op), shape="ellipse")
            target.edge(uid + "op", uid)
    for parent, child in edges:
        src = layout.endpoint(parent, str(id(parent)))
        dst = layout.endpoint(child, str(id(child)) + "op")
        if src != dst:
            dot.edge(src, dst)
    layout.close()
    if color_by_grad:
        dot.node("legend", label=scale.legend(), shape="plaintext", fontsize="10")
    if drawn > LARGE_GRAPH_NODES:
        _warn_large(drawn)
    return dot


def _warn_large(count: int) -> None:
    """Say so before dot runs; point to the interactive explorer once the package has one."""
    viz = sys.modules[__package__]
    explore = (getattr(viz, "explore", None) is not None
               or importlib.util.find_spec(__package__ + ".explore") is not None)
    warnings.warn(
        f"draw_graph: this picture has {count:,} values (more than {LARGE_GRAPH_NODES:,}); "
        "Graphviz's dot may take minutes to lay it out. Draw less with collapse=True (one "
        "box per top-level module), collapse=[mg.nn.Linear, ...] or max_depth=N"
        + (", or browse it with mg.viz.explore" if explore else ""),
        LargeGraphWarning, stacklevel=3)


def _ink(fill: str) -> str:
    """Black or white text, whichever reads better on ``fill``."""
    r, g, b = (int(fill[i:i + 2], 16) for i in (1, 3, 5))
    return "black" if 0.299 * r + 0.587 * g + 0.114 * b > 140 else "white"
