"""Seeing: computation-graph pictures (graphviz), the interactive explorer and backprop
replay (self-contained HTML), gradients explained as sums over paths, training plots
(matplotlib, loaded on first use) and 2-D loss surfaces."""
from . import surfaces
from .explain import explain_grad
from .explore import explore
from .graph import (
    DEFAULT_GRAD_RANGE,
    LARGE_GRAPH_NODES,
    LargeGraphWarning,
    draw_graph,
    grad_range,
    retain_grads,
)
from .replay import replay

draw_dot = draw_graph  # micrograd's name for it


def __getattr__(name: str):
    if name == "plots":  # matplotlib is optional: import it only when asked for
        import importlib
        return importlib.import_module(".plots", __name__)
    raise AttributeError(f"module 'microgd.viz' has no attribute {name!r}")


__all__ = ["draw_graph", "draw_dot", "explore", "replay", "explain_grad", "grad_range",
           "retain_grads", "LargeGraphWarning", "LARGE_GRAPH_NODES", "DEFAULT_GRAD_RANGE",
           "plots", "surfaces"]
