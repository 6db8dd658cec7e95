"""What explore and replay share: a graph as JSON for the page, and one self-contained HTML
file around it (the vendored layout library, the page's script and style inlined).

Text from the user (node names, labels, module names) reaches the page only as JSON inside
``<script type="application/json">``, with ``<``, ``>`` and ``&`` written as ``\\u003c``-style
escapes (so no ``</script>`` or ``<!--`` can end or change the element) and every
non-ASCII character escaped (so U+2028/U+2029 too); the page's script reads it with
``JSON.parse`` and puts it on screen with ``textContent`` only. No markup is ever built
from it.
"""
from __future__ import annotations

import html
import json
import math
import os
from importlib import resources
from typing import Any

import numpy as np

from ..autograd import reachable
from ..scalar import Value
from .graph import DEFAULT_GRAD_RANGE, GradScale, _check_root, _clean, _grad_of, _op_name

HIST_BINS = 12
# The drawing area both pages share (fixed markup: the script fills the three groups).
CANVAS = ('<svg id="canvas" tabindex="0"><defs><marker id="arrow" viewBox="0 0 8 8" refX="8" '
          'refY="4" markerWidth="8" markerHeight="8" markerUnits="userSpaceOnUse" '
          'orient="auto-start-reverse"><path d="M0,0L8,4L0,8z" fill="#777"/></marker></defs>'
          '<g id="viewport"><g id="clusters"></g><g id="edges"></g><g id="nodes"></g></g></svg>')


# -- text and numbers that JSON can carry --------------------------------------------------
def number(x: float) -> float | str:
    """A float for JSON: NaN and the infinities as strings (JSON has no literal for them;
    the page's ``fmt`` shows the string as it is)."""
    x = float(x)
    if math.isfinite(x):
        return x
    return "NaN" if math.isnan(x) else ("Infinity" if x > 0 else "-Infinity")


def stats(arr: Any) -> dict:
    """min / max / mean / L2 norm of an array in float64, and a histogram of its finite
    entries (``HIST_BINS`` counts between ``lo`` and ``hi``); ``nonfinite`` counts the rest."""
    a = np.asarray(arr, dtype=np.float64).reshape(-1)
    finite = a[np.isfinite(a)]
    out: dict = {"size": int(a.size), "nonfinite": int(a.size - finite.size)}
    if finite.size:
        counts, edges = np.histogram(finite, bins=HIST_BINS)
        out.update(min=number(finite.min()), max=number(finite.max()),
                   mean=number(finite.mean()), norm=number(np.sqrt(np.sum(finite * finite))),
                   hist=[int(c) for c in counts], lo=number(edges[0]), hi=number(edges[-1]))
    return out


def json_script(data: Any, element_id: str) -> str:
    """``data`` as a ``<script type="application/json">`` element that no string inside it
    can break out of (see the module docstring)."""
    text = json.dumps(data, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f'<script type="application/json" id="{element_id}">{text}</script>'


# -- the graph as data ---------------------------------------------------------------------
def node_name(node: Any, names: dict) -> str:
    """What draw_graph writes as a node's name: a ``params`` name, a Value's label, a
    Tensor's ``.name``, or a registered Parameter's qualified name."""
    return _clean(names.get(id(node)) or getattr(node, "label", "") or getattr(node, "name", "")
                  or getattr(node, "qualified_name", ""))


def graph_data(root: Any, params: dict | None = None) -> tuple[dict, list]:
    """The graph of ``root`` as plain data for the page, and the nodes in the same order.

    ``nodes[i]``: name, op, kind, shape, dtype, module scope index, value and gradient (a
    number for a Value, ``stats`` for a Tensor), fill colour by |grad| (draw_graph's scale).
    ``edges``: ``[parent, child]`` index pairs, one per use (``x * x`` gives two).
    ``scopes``: name, kind (the module class) and parent index, outermost first.
    """
    names = {id(t): n for n, t in (params or {}).items()}
    nodes, edges = reachable(root)
    index = {id(n): i for i, n in enumerate(nodes)}
    scopes: dict[int, int] = {}
    scope_list: list[dict] = []

    def scope_index(scope: Any) -> int:
        if scope is None:
            return -1
        k = scopes.get(id(scope))
        if k is None:
            parent = scope_index(scope.parent)  # ancestors first: their indices are smaller
            k = scopes[id(scope)] = len(scope_list)
            scope_list.append({"name": _clean(scope.name), "kind": _clean(scope.kind),
                               "parent": parent})
        return k

    for node in nodes:
        for s in (getattr(node, "_scope", None) or _NoScope).chain():
            scope_index(s)
    by_name = {s["name"]: k for k, s in enumerate(scope_list)}
    scale = GradScale(*DEFAULT_GRAD_RANGE)
    any_grad = False
    out = []
    for node in nodes:
        item: dict[str, Any] = {"name": node_name(node, names), "op": _clean(_op_name(node))}
        if isinstance(node, Value):
            item.update(kind="value", data=number(node.data), grad=number(node.grad))
            any_grad = any_grad or node.grad != 0
        else:
            owner = getattr(node, "qualified_name", "")
            item.update(kind="param" if owner else "tensor", shape=list(node.shape),
                        dtype=str(node.dtype), data=stats(node.data),
                        grad=None if node.grad is None else stats(node.grad))
            any_grad = any_grad or node.grad is not None
        scope = scope_index(getattr(node, "_scope", None))
        owner = getattr(node, "qualified_name", "")
        if scope == -1 and owner:  # a Parameter sits in the module that registered it
            scope = by_name.get(_clean(owner).rpartition(".")[0], -1)
        item["scope"] = scope
        item["fill"] = scale.colour(_grad_of(node))
        out.append(item)
    data = {"nodes": out, "edges": [[index[id(p)], index[id(c)]] for p, c in edges],
            "scopes": scope_list, "has_grad": any_grad,
            "legend": [[c, t] for c, t in scale.bins()]}
    return data, nodes


class _NoScope:
    @staticmethod
    def chain() -> list:
        return []


# -- the page ------------------------------------------------------------------------------
def _asset(name: str) -> str:
    """A file shipped in the package (``web/*`` or ``vendor/*``), as text."""
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def vendored_layout() -> str:
    """dagre (see vendor/README.md) without its source-map comment (the map is not shipped)."""
    text = _asset("vendor/dagre.min.js")
    return "\n".join(line for line in text.splitlines()
                     if not line.startswith("//# sourceMappingURL"))


def write_page(path: str | os.PathLike, title: str, data: dict, body: str, script: str) -> str:
    """Write one self-contained HTML file: style, ``body`` (fixed markup, no user text),
    the data as JSON, dagre, the shared ``web/graph.js`` and then ``web/<script>``."""
    path = os.fspath(path)
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    code = "\n".join((vendored_layout(), _asset("web/graph.js"), _asset(f"web/{script}")))
    if "</script" in code.lower():
        raise RuntimeError("write_page: a shipped script contains '</script'")  # cannot be
    page = ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(_clean(title))}</title>"
            f"<style>{_asset('web/page.css')}</style></head>\n<body>\n{body}\n"
            f"{json_script(data, 'graph-data')}\n<script>\n{code}\n</script>\n</body></html>\n")
    with open(path, "w", encoding="utf-8") as f:
        f.write(page)
    return path


def check_path(path: Any, where: str, suffixes: tuple[str, ...]) -> str:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{where}: path must be a str or os.PathLike, got {type(path).__name__}")
    text = os.fspath(path)
    if not text.lower().endswith(suffixes):
        raise ValueError(f"{where}: path must end in {' or '.join(suffixes)}, got {text!r}")
    return text


check_root = _check_root  # draw_graph's check: a Value or a Tensor
