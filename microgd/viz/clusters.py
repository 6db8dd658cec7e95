"""Module clusters for draw_graph: nested Graphviz clusters, one per module call, and
collapsing a module's inside into a single box so big graphs stay readable."""
from __future__ import annotations

from typing import Any

import graphviz

from .graph import plain_label


class ClusterLayout:
    def __init__(self, dot: graphviz.Digraph, collapse: Any) -> None:
        self.dot = dot
        self.collapse = collapse
        self.clusters: dict[int, tuple[Any, graphviz.Digraph]] = {}
        self.boxes: dict[int, str] = {}

    # which scopes are drawn as one box -------------------------------------------------
    def _collapsed_scope(self, scope: Any) -> Any:
        """The outermost scope on ``scope``'s chain that is collapsed, or None."""
        if scope is None or not self.collapse:
            return None
        for depth, s in enumerate(scope.chain()):
            if self.collapse is True:
                if depth == 1:
                    return s
                continue
            wanted = self.collapse if isinstance(self.collapse, (list, tuple, set)) \
                else (self.collapse,)
            for w in wanted:
                if (isinstance(w, str) and w in (s.name, s.kind)) or \
                        (isinstance(w, type) and w.__name__ == s.kind):
                    return s
        return None

    def is_collapsed(self, scope: Any) -> bool:
        box = self._collapsed_scope(scope)
        if box is None:
            return False
        if id(box) not in self.boxes:
            uid = f"box{id(box)}"
            self.boxes[id(box)] = uid
            self.graph_for(box.parent).node(uid, label=plain_label(box), shape="box3d",
                                            style="filled", fillcolor="#fff4d6")
        return True

    def endpoint(self, node: Any, uid: str) -> str:
        box = self._collapsed_scope(getattr(node, "_scope", None))
        return self.boxes[id(box)] if box is not None else uid

    # nested clusters --------------------------------------------------------------------
    def graph_for(self, scope: Any) -> graphviz.Digraph:
        if scope is None:
            return self.dot
        entry = self.clusters.get(id(scope))
        if entry is None:
            sub = graphviz.Digraph(name=f"cluster_{id(scope)}")
            sub.attr(label=plain_label(scope), style="rounded,dashed", color="#7a7a7a",
                     fontname="Helvetica", fontsize="10")
            self.clusters[id(scope)] = (scope, sub)
            if scope.parent is not None:
                self.graph_for(scope.parent)  # make sure every ancestor has a cluster
            entry = self.clusters[id(scope)]
        return entry[1]

    def close(self) -> None:
        """Attach clusters to their parents, innermost first (graphviz copies a subgraph's
        body when it is attached)."""
        ordered = sorted(self.clusters.values(), key=lambda e: -len(e[0].chain()))
        for scope, sub in ordered:
            parent = self.dot if scope.parent is None else self.clusters[id(scope.parent)][1]
            parent.subgraph(sub)
