"""Views: results that are windows on their input's buffer (basic indexing, reshape,
transpose), and what each one remembers so that in-place writes stay correct.

A view shares memory with the tensor it shows, so writing one changes the other. Like
PyTorch's view tracking, every view keeps a link to the tensor it shows, made whether or
not a graph is being recorded (``_view``: that tensor, the op and its arguments, and
whether grad mode was on), and every viewed tensor knows its live views (``views_of``).
ops/inplace.py follows the links up, to record a write through a view on the tensor it
shows, and down, to rebuild every other view of a changed tensor on its new self.
"""
from __future__ import annotations

import weakref
from typing import Any

import numpy as np

from ..state import STATE
from .core import Op

# id(viewed tensor) -> its live views (a WeakSet). A view holds the tensor it shows, so
# the entry is dropped when that tensor dies (a Tensor cannot be a WeakKeyDictionary key:
# its == is elementwise).
_VIEWS: dict[int, weakref.WeakSet] = {}
_KEEP: dict[int, weakref.ref] = {}  # id(viewed tensor) -> the weak reference that drops it


def _forget(key: int) -> None:
    _VIEWS.pop(key, None)
    _KEEP.pop(key, None)


class View(Op):
    """An op whose result is a window on its input when numpy can make one. The result
    remembers it (``_view``); a copy (advanced indexing, a reshape of a transposed array)
    does not, because writing it changes nothing else."""

    is_view = True

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
                _KEEP[key] = weakref.ref(x, lambda _, key=key: _forget(key))
            views.add(out)
        return out


def link(t: Any) -> tuple | None:
    """``(viewed tensor, op, op arguments, made with grad mode on)`` if ``t`` is a view
    that still shares its buffer (``t.data = ...`` or a deep copy ends the sharing)."""
    found = getattr(t, "_view", None)
    if found is None or not np.may_share_memory(t.data, found[0].data):
        return None
    return found


def viewed(t: Any) -> list:
    """The tensors ``t`` is a window on: the one it was taken from, that one's, ..."""
    chain = []
    found = link(t)
    while found is not None:
        chain.append(found[0])
        found = link(found[0])
    return chain


def views_of(t: Any) -> list:
    """The live views taken of ``t`` (not views of those)."""
    views = _VIEWS.get(id(t))
    return [] if views is None else [v for v in views if link(v) is not None]


def window(view: Any) -> np.ndarray:
    """Which elements of the tensor it was taken from ``view`` shows: its op applied to
    their flat positions (so any basic index, reshape or transpose is followed exactly)."""
    base, op, ctx, _ = view._view
    return op.forward(np.arange(base.data.size).reshape(base.shape), **ctx)
