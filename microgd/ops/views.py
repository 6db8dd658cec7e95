"""Views: results that are windows on their input's buffer (basic indexing, reshape,
transpose), and what each one remembers so that in-place writes stay correct.

A view shares memory with the tensor it shows, so writing one changes the other. Like
PyTorch's view tracking, every view keeps a link to the tensor it shows (``_view``: that
tensor, the op and its arguments, and whether grad mode was on), made whether or not a
graph is being recorded. ops/inplace.py follows the links up: a write through a view is
recorded on the first tensor of the chain, and a view whose tensor changed since its node
was made is rebuilt on that tensor's latest self when it is next used (``refresh``).
"""
from __future__ import annotations

import weakref
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..state import STATE
from .core import Op

# id(tensor) -> its live views (a WeakSet), for the one moment a view's flags must change
# with its tensor (below). A view holds its tensor, so the entry goes when the tensor dies.
_VIEWS: dict[int, weakref.WeakSet] = {}
_DROP: dict[int, weakref.ref] = {}  # id(tensor) -> the weak reference that drops its entry


def _forget(key: int) -> None:
    _VIEWS.pop(key, None)
    _DROP.pop(key, None)


class View(Op):
    """An op whose result is a window on its input when numpy can make one. The result
    remembers it (``_view``); a copy (advanced indexing, a reshape of a transposed array)
    does not, because writing it changes nothing else."""

    @classmethod
    def apply(cls, x: Any, **ctx: Any) -> Any:
        out = super().apply(x, **ctx)
        if out.data.base is not None and np.may_share_memory(out.data, x.data):
            above = link(x)  # a view of a view made under no_grad is one too (PyTorch)
            out._view = (x, cls, ctx, STATE.grad_enabled and (above is None or above[3]))
            key = id(x)
            views = _VIEWS.get(key)
            if views is None:
                views = _VIEWS[key] = weakref.WeakSet()
                _DROP[key] = weakref.ref(x, lambda _, key=key: _forget(key))
            views.add(out)
        return out


def link(t: Any) -> tuple | None:
    """``(viewed tensor, op, op arguments, made with grad mode on)`` if ``t`` is a view
    that still shares its buffer (``t.data = ...`` or a deep copy ends the sharing)."""
    found = t._view
    if found is None or not np.may_share_memory(t.data, found[0].data):
        return None
    return found


def viewed(t: Any) -> list:
    """The tensors ``t`` is a window on: the one it was taken from, that one's, ... up to
    the first, which is not a view."""
    chain = []
    found = link(t)
    while found is not None:
        chain.append(found[0])
        found = link(found[0])
    return chain


def views_below(t: Any) -> Iterator[Any]:
    """Every live view of ``t``, and of those, and so on. When a write first puts a
    tensor that needed no gradient into the graph, its views made in grad mode need one
    too (as in PyTorch); their nodes are rebuilt when they are next used, but their
    ``requires_grad`` flag, which code reads directly, is set then (ops/inplace.py)."""
    todo = [t]
    while todo:
        views = _VIEWS.get(id(todo.pop()))
        for v in list(views) if views is not None else ():
            if link(v) is not None:
                yield v
                todo.append(v)


def window(t: Any, chain: list) -> np.ndarray:
    """Which elements of ``chain[-1]`` the view ``t`` shows, in ``t``'s shape: each view
    op of the chain applied in turn to the flat positions of the first tensor (so any
    basic index, reshape or transpose is followed exactly)."""
    root = chain[-1]
    positions = np.arange(root.data.size).reshape(root.shape)
    for v in reversed([t, *chain[:-1]]):
        _, op, ctx, _ = v._view
        positions = op.forward(positions, **ctx)
    return positions
