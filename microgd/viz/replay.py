"""replay: backpropagation as frames, in the order the real walk finishes the nodes.

The frames come from the walk itself, not from a copy of its logic: every node gets a
stand-in (``_Stand``) that speaks the walk's Node protocol and forwards ``_vjp`` to the real
node, and ``autograd.backpropagate`` runs over the stand-ins. The walk calls
``_accumulate`` exactly once per finished node, with its total gradient, in its own order:
that call is a frame; the ``_vjp`` call that follows hands out the edges' gradients. Nothing
reaches the real nodes' ``.grad`` and no hook runs.

A frame shows the node being finished, its gradient (and the shares it was summed from),
and for each input edge: upstream gradient × local derivative = what flows back (numbers
for Values; shapes and norms for Tensors), with ``+=`` where it meets an earlier share.
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..autograd import backpropagate, inputs_of
from ..scalar import Value
from .graph import DEFAULT_GRAD_RANGE, GradScale, _clean, _fmt
from .page import CANVAS, check_path, check_root, graph_data, write_page

_BODY = f"""<header>
  <button id="back" type="button" title="step back (←)">◀ back</button>
  <button id="play" type="button" title="play / pause (space)">▶ play</button>
  <button id="step" type="button" title="step forward (→)">step ▶</button>
  <span id="counter"></span>
  <span id="summary"></span>
</header>
<main>
  {CANVAS}
  <aside id="panel"><div id="step-text"></div><h4>the walk, one node per step</h4>
  <ol id="frames">{{frames}}</ol></aside>
</main>
<footer id="legend">orange: the node being finished and the gradients it hands to its inputs;
dashed: what has reached a node so far (it finishes once all its users have handed theirs);
coloured: finished, by |grad| on draw_graph's scale. Keys: ← → step, space plays.</footer>"""


def summary(g: Any) -> float | dict:
    """A number for a Value's gradient; shape and L2 norm for an array."""
    if isinstance(g, float):
        return g
    a = np.asarray(g, dtype=np.float64)
    return {"shape": list(a.shape), "norm": float(np.sqrt(np.sum(a * a)))}


def show(s: float | dict) -> str:
    if isinstance(s, dict):
        return f"{tuple(s['shape'])} ‖{_fmt(s['norm'])}‖"
    return _fmt(s)


class _Stand:
    """A node's stand-in in the walk: same parents and requires_grad, records instead of
    storing, and asks the real node for its VJP."""

    __slots__ = ("node", "index", "log", "_parents", "_op", "requires_grad", "_seq")
    _hooks = None
    _parents: tuple  # set once every node has its stand-in

    def __init__(self, node: Any, index: int, log: list) -> None:
        self.node, self.index, self.log = node, index, log
        self.requires_grad = node.requires_grad
        self._op = node._op
        self._seq = node._seq  # the walk's order is the real nodes' order

    def _accumulate(self, g: Any) -> None:
        self.log.append(("finish", self.index, g if isinstance(g, float) else np.array(g)))

    def _vjp(self, g: Any, create_graph: bool) -> Any:
        if getattr(self.node, "_freed", False):  # a Tensor graph after a plain backward()
            raise RuntimeError(
                "replay: this Tensor graph's saved values were freed by backward(), so its "
                "gradients cannot be replayed; call mg.viz.replay(loss, path) before "
                "loss.backward(), or backward(retain_graph=True) first")
        grads = self.node._vjp(g, False)
        self.log.append(("vjp", self.index,
                         [None if p is None else p if isinstance(p, float) else np.array(p)
                          for p in grads]))
        return grads

    def _release(self) -> None:
        pass


def record(root: Any) -> tuple[list[dict], list, dict]:
    """Run the walk from ``root`` over stand-ins; return (frames, nodes, page data).

    ``frames[i]``: ``node`` (index into ``nodes``), ``grad`` (summary), ``shares`` (the
    gradients summed into it: ``[from node, summary]``), ``edges`` (``to``, ``up``,
    ``local`` for Values, ``out``, ``acc`` "=" or "+=", ``total`` after it), ``text``."""
    check_root(root, "replay")
    if not root.requires_grad:
        raise RuntimeError("replay: the output does not require grad, so backpropagation "
                           "has nothing to do; was it computed inside mg.no_grad()?")
    if isinstance(root, Value):
        seed: Any = 1.0
    elif root.size != 1:
        raise ValueError(f"replay: the output has shape {root.shape}; backpropagation starts "
                         "from one number, so replay e.g. loss.sum() or loss.mean()")
    else:
        seed = np.ones(root.shape, dtype=root.dtype)
    data, nodes = graph_data(root)
    log: list = []
    stands = [_Stand(n, i, log) for i, n in enumerate(nodes)]
    where = {id(n): i for i, n in enumerate(nodes)}
    for n, s in zip(nodes, stands):
        s._parents = tuple(stands[where[id(p)]] for p in inputs_of(n))
    backpropagate([stands[0]], [seed], retain_graph=True)
    return _frames(log, nodes, data), nodes, data


def _frames(log: list, nodes: list, data: dict) -> list[dict]:
    names = [d["name"] or d["op"] or "leaf" for d in data["nodes"]]
    label = [f"{(_clean(n).splitlines() or [''])[0]} #{i}" for i, n in enumerate(names)]
    where = {id(n): i for i, n in enumerate(nodes)}
    frames: list[dict] = []
    running: dict[int, Any] = {}
    shares: dict[int, list] = {}
    for event in log:
        if event[0] == "finish":
            _, i, g = event
            frames.append({"node": i, "grad": summary(g), "edges": [],
                           "shares": shares.pop(i, [])})
            continue
        _, i, grads = event
        frame = frames[-1]
        assert frame["node"] == i, "the walk finishes a node right before its VJP"
        node = nodes[i]
        for j, (parent, pg) in enumerate(zip(inputs_of(node), grads)):
            if pg is None or not parent.requires_grad:
                continue
            p = where[id(parent)]
            first = p not in running
            running[p] = pg if first else running[p] + pg
            shares.setdefault(p, []).append([i, summary(pg)])
            edge = {"to": p, "slot": j, "up": frame["grad"], "out": summary(pg),
                    "acc": "=" if first else "+=", "total": summary(running[p])}
            if isinstance(node, Value):
                local = node._local
                edge["local"] = local if isinstance(local, float) else local[j]
            frame["edges"].append(edge)
    scale = GradScale(*DEFAULT_GRAD_RANGE)  # draw_graph's colours, for the finished gradient
    for k, f in enumerate(frames):
        f["text"] = _describe(k, len(frames), f, label, data)
        g = f["grad"]
        f["fill"] = scale.colour(g["norm"] if isinstance(g, dict) else abs(g))
    return frames


def _describe(k: int, total: int, f: dict, label: list, data: dict) -> str:
    """The frame as plain text (the page shows it with textContent; the GIF draws it)."""
    node = data["nodes"][f["node"]]
    what = f" ({node['op']})" if node["op"] and node["name"] else "" if node["op"] else " (a leaf)"
    lines = [f"step {k + 1} of {total}: finish {label[f['node']]}{what}"]
    if not f["shares"]:
        lines.append(f"  grad = {show(f['grad'])}   (the seed: d out / d out)"
                     if k == 0 else f"  grad = {show(f['grad'])}")
    elif len(f["shares"]) == 1:
        lines.append(f"  grad = {show(f['grad'])}   (from {label[f['shares'][0][0]]})")
    else:
        parts = " + ".join(show(s) for _, s in f["shares"])
        lines.append(f"  grad = {parts} = {show(f['grad'])}   "
                     f"(summed over its {len(f['shares'])} uses)")
    for e in f["edges"]:
        via = (f"{show(e['up'])} × {_fmt(e['local'])}" if "local" in e
               else f"VJP of {data['nodes'][f['node']]['op']}")
        acc = (f"grad {e['acc']} {show(e['out'])}" if e["acc"] == "="
               else f"grad += {show(e['out'])} → {show(e['total'])}")
        lines.append(f"  → {label[e['to']]}: {via} = {show(e['out'])};  {acc}")
    return "\n".join(lines)


def replay(root: Any, path: str | os.PathLike) -> str:
    """Write backpropagation from ``root`` as frames, one per node the walk finishes, in
    its order: an HTML page with play / step / back controls (each frame an element with
    ``data-frame="i"``), or a GIF with one image per frame when ``path`` ends in ``.gif``.

    ``.grad`` is left untouched: replay runs the walk on stand-ins. Tensor graphs need
    their saved values: call it before ``backward()`` (or after
    ``backward(retain_graph=True)``). Value graphs can be replayed at any time.
    """
    path = check_path(path, "replay", (".html", ".htm", ".gif"))
    frames, nodes, data = record(root)
    if path.lower().endswith(".gif"):
        from .replay_gif import write_gif
        return write_gif(frames, data, path)
    data["frames"] = frames
    top = data["nodes"][0]
    data["title"] = f"backprop from {top['name'] or top['op'] or 'a leaf'}"
    body = _BODY.replace("{frames}", "".join(
        f'<li data-frame="{k}"></li>' for k in range(len(frames))))
    return write_page(path, f"microgd replay: {data['title']}", data, body, "replay.js")
