"""explore: the computation graph as one self-contained, interactive HTML page.

No Graphviz: the page lays the graph out itself with the vendored dagre library (see
vendor/README.md), so it opens offline in any browser. Module clusters collapse and expand
on click; identical repeated blocks (same module class, same inside) start folded as one
"× N" box; hovering a node shows its op, shape, dtype, module path, value and gradient
statistics; a search box finds nodes by name, op or module; the mouse pans and zooms.
"""
from __future__ import annotations

import os
from collections import defaultdict
from typing import Any

from .page import CANVAS, check_path, check_root, graph_data, write_page

# Graphs bigger than this open with modules collapsed (deepest first) until this many boxes
# show; every box expands on click. The page's own constant (web/explore.js) must match.
OPEN_NODES = 1500

_BODY = f"""<header>
  <input id="search" type="search" placeholder="find a node: name, op or module" autocomplete="off">
  <span id="found"></span>
  <button id="expand-all" type="button">expand all</button>
  <button id="collapse-all" type="button">collapse modules</button>
  <button id="fit" type="button">fit</button>
  <span id="summary"></span>
</header>
<main>
  {CANVAS}
  <aside id="panel"><p class="hint">Hover a node for its values and gradient; click a
  node to keep its details here. Click a module's frame to collapse it, a folded box to
  open it. Drag to pan, wheel to zoom.</p></aside>
</main>
<div id="tip" hidden></div>
<footer id="legend"></footer>"""


def explore(root: Any, path: str | os.PathLike, params: dict | None = None) -> str:
    """Write the graph that computed ``root`` (a Value or a Tensor) to ``path`` (.html) as
    an interactive page, and return the path.

    - ``params``: ``{name: tensor}`` naming nodes (e.g. ``dict(model.named_parameters())``);
      registered Parameters are named, and placed in their module, automatically.
    - Call it after ``backward()`` to see gradients (``mg.viz.retain_grads(loss)`` before
      it keeps the inner ones too); nodes are coloured by |grad| on draw_graph's scale.

    Everything the page needs is inside the file: no network, no Graphviz.
    """
    check_root(root, "explore")
    path = check_path(path, "explore", (".html", ".htm"))
    if params is not None and not hasattr(params, "items"):
        raise TypeError(f"explore: params must be a mapping {{name: tensor}} (e.g. "
                        f"dict(model.named_parameters())), got {type(params).__name__}")
    data, _ = graph_data(root, params)
    data["folds"] = repeated_blocks(data)
    data["open_nodes"] = OPEN_NODES
    top = data["nodes"][0]
    data["title"] = f"graph of {top['name'] or top['op'] or 'a leaf'}"
    return write_page(path, f"microgd explore: {data['title']}", data, _BODY, "explore.js")


def repeated_blocks(data: dict) -> list[list[int]]:
    """Runs of sibling module calls with the same class and the same inside (the same ops,
    shapes, dtypes and sub-modules, and as many edges inside), in forward order: what the
    page folds into one "× N" box. Returns scope-index lists, each of length >= 2."""
    scopes, nodes = data["scopes"], data["nodes"]
    chains: list[list[int]] = []
    for k, s in enumerate(scopes):
        chains.append((chains[s["parent"]] if s["parent"] >= 0 else []) + [k])
    items: dict[int, list] = defaultdict(list)
    for n in nodes:
        if n["scope"] < 0:
            continue
        inner = scopes[n["scope"]]["name"]
        for k in chains[n["scope"]]:
            rel = inner[len(scopes[k]["name"]):]
            items[k].append((rel, n["op"], n["kind"], str(n.get("shape")), n.get("dtype", "")))
    inside: dict[int, int] = defaultdict(int)
    for p, c in data["edges"]:
        sp, sc = nodes[p]["scope"], nodes[c]["scope"]
        if sp >= 0 and sc >= 0:
            for k in set(chains[sp]) & set(chains[sc]):
                inside[k] += 1
    level = _forward_levels(len(nodes), data["edges"])
    made = {c for _, c in data["edges"]}  # op results: a block's parameters are all level 0
    first: dict[int, tuple] = {}
    for i, n in enumerate(nodes):
        for k in chains[n["scope"]] if n["scope"] >= 0 else ():
            first[k] = min(first.get(k, (1, 0)), (i not in made, level[i]))
    siblings: dict[int, list[int]] = defaultdict(list)
    for k, s in enumerate(scopes):
        if items[k]:
            siblings[s["parent"]].append(k)
    signature = {k: (scopes[k]["kind"], tuple(sorted(items[k])), inside[k]) for k in items}
    runs = []
    for group in siblings.values():
        group.sort(key=lambda k: (first[k], k))
        run = [group[0]]
        for k in group[1:]:
            if signature[k] == signature[run[-1]]:
                run.append(k)
                continue
            if len(run) > 1:
                runs.append(run)
            run = [k]
        if len(run) > 1:
            runs.append(run)
    return runs


def _forward_levels(n: int, edges: list) -> list[int]:
    """Each node's longest distance from a leaf (the order a forward pass made them)."""
    users: list[list[int]] = [[] for _ in range(n)]
    waiting = [0] * n
    for p, c in edges:
        users[p].append(c)
        waiting[c] += 1
    level = [0] * n
    ready = [i for i in range(n) if waiting[i] == 0]
    while ready:
        i = ready.pop()
        for c in users[i]:
            level[c] = max(level[c], level[i] + 1)
            waiting[c] -= 1
            if waiting[c] == 0:
                ready.append(c)
    return level
