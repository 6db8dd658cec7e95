"""Seeing: computation-graph pictures (graphviz) and training plots (matplotlib)."""
from .graph import draw_graph

draw_dot = draw_graph

__all__ = ["draw_graph", "draw_dot"]
