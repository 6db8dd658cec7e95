"""In-place ops (``x += y``, ``x.add_(y)``, ``zero_``, ``fill_``, ``copy_``) and the version
check that keeps them honest, with PyTorch's rules:

- A leaf that requires grad may change in place only inside ``no_grad()`` (the optimizer
  update ``p -= lr * p.grad``); while the graph is being recorded it is an error, because
  the graph would lose the value it started from.
- Any other tensor is overwritten in its own buffer. If it is part of a recorded graph, the
  write is recorded too: the tensor becomes the output of the new op, and the op's input is
  the tensor's previous identity (a new node sharing the old buffer). Nodes that used the
  tensor before the write still mean that previous identity (``autograd.inputs_of``).
- A backward that needs a value changed in place after it was used raises "modified by an
  in-place operation" instead of silently using the new value. Every write bumps a global
  count and records it against the written array's base buffer (so views count too); a node
  remembers the count when it was made, and its backward checks its saved arrays only when
  some write happened since: one comparison per node otherwise. The write's own op may need
  the value it overwrites (``t.mul_(w)`` does, for w's gradient): that value is copied
  first, and nodes made before the write then read the copy too.

- A write through a view (``v = t[0:2]; v.mul_(2)``) changes the first tensor of its
  chain of views (ops/views.py keeps the links, even for views taken outside the graph):
  that tensor becomes a ``WriteThrough`` node (its earlier self outside the view's
  window, the write inside it), as PyTorch's CopySlices does. Every view of a changed
  tensor, the written one included, is rebuilt on the tensor's latest self when it is
  next used (``refresh``), as PyTorch regenerates a view's grad_fn; until then its
  ``requires_grad`` flag may be the old one. A view of a leaf that requires grad, or a
  view made under ``no_grad()``, cannot be written while recording, as in PyTorch.
- Hooks registered on a tensor before a write stay with the value they were registered
  on (its earlier self); ``retain_grad`` follows the latest value.

Writing into ``t.data`` directly stays the documented escape hatch: it is not tracked.
Optimizers, which update ``p.data`` in place, mark their parameters as written at each
``step()`` (PyTorch's optimizers bump the version counter the same way): backpropagating a
graph built before the step then raises instead of using the new weights.
"""
from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from ..hooks import HOOKS, hand_hooks_down
from ..state import REBASED, STATE
from .core import Op, ShapeError, constant, is_tensor, lift
from .elementwise import where
from .shape import _scatter
from .views import viewed, views_below, window

EDITS = [0]  # in-place writes so far (process-wide)
# id(base buffer) -> (the edit count of its last write, the writer: an optimizer step or "")
_WRITTEN: dict[int, tuple[int, str]] = {}
_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2}


def _base(arr: np.ndarray) -> np.ndarray:
    while isinstance(arr.base, np.ndarray):
        arr = arr.base
    return arr


def mark_written(arr: np.ndarray) -> None:
    """Record an in-place write into ``arr`` (and so into every view of its buffer)."""
    EDITS[0] += 1
    base = _base(arr)
    key = id(base)
    if key not in _WRITTEN:  # forget the buffer when it dies (its id may be reused)
        weakref.finalize(base, _WRITTEN.pop, key, None)
    _WRITTEN[key] = (EDITS[0], "")


def _carry_record(arr: np.ndarray, copy: np.ndarray) -> None:
    """``copy`` of ``arr`` counts as written when ``arr``'s buffer last was: a backward
    that reads the copy must still see an earlier write into the original."""
    record = _WRITTEN.get(id(_base(arr)))
    if record is not None:
        key = id(copy)
        weakref.finalize(copy, _WRITTEN.pop, key, None)
        _WRITTEN[key] = record


# Optimizers write every parameter at every step. Recording each write cost T1 ~4 µs a step
# (6 %), so an optimizer's parameters share one record, [edit count, "SGD.step()"]: each
# buffer is registered once (``register_step``) and the record moves on once per step.
STEPPED: dict[int, list] = {}  # id(base buffer) -> the step record of its optimizer


def register_step(arr: np.ndarray, record: list) -> None:
    """From now on ``arr``'s buffer counts as written whenever ``record`` moves on."""
    base = _base(arr)
    key = id(base)
    if key not in STEPPED:
        weakref.finalize(base, STEPPED.pop, key, None)
    STEPPED[key] = record


def mark_step(record: list) -> None:
    """An optimizer step just wrote every buffer registered with ``record``."""
    EDITS[0] += 1
    record[0] = EDITS[0]


def check_saved(node: Any) -> None:
    """Called by ``Tensor._vjp`` when some in-place write happened after ``node`` was made:
    raise if one the values its backward reads (its inputs, its output) was among them."""
    made = getattr(node, "_epoch", 0)  # unset: made before any in-place write
    reads = node._op.reads([p.requires_grad for p in node._parents])
    for i, t in enumerate((node, *node._parents)):
        if not reads[i]:
            continue
        key = id(_base(t.data))
        written, by = _WRITTEN.get(key, (0, ""))
        step = STEPPED.get(key)
        if step is not None and step[0] > written:
            written, by = step
        # an in-place result's output was written by its own write, the next one counted
        # after it was made (t.div_(w) reads it for w's gradient): only later ones count
        if written > made + (i == 0 and hasattr(node, "_before")):
            what = "its output" if i == 0 else f"its input {i - 1}"
            if by:
                fix = (f"{by} updated it in place; call backward() before step(), or "
                       "compute the loss again after it")
            else:
                fix = ("compute out of place (y = y + 1, not y += 1) or clone the value "
                       "before changing it")
            raise RuntimeError(
                f"backward: one of the values needed for gradient computation has been "
                f"modified by an in-place operation: {what} (shape {t.shape}, dtype "
                f"{t.dtype}) was changed after {node._op.name} used it; {fix}"
            )


def inplace(t: Any, name: str, fn: Callable[[Any, Any], Any], other: Any) -> Any:
    """Write ``fn(t, other)`` into ``t``'s own buffer and return ``t``."""
    chain = viewed(t)  # the tensors t is a window on: they change with it
    if STATE.grad_enabled:  # views whose tensor changed since they were made: rebuilt
        if chain:
            refresh(t, chain)
        if is_tensor(other) and other._view is not None:
            refresh(other)
    recording = STATE.grad_enabled and (
        t.requires_grad or (is_tensor(other) and other.requires_grad)
        or any(base.requires_grad for base in chain))
    joins = recording and not (chain[-1] if chain else t).requires_grad
    if recording:
        _check_recordable(t, name, chain)
    if not t.data.flags.writeable:
        raise ValueError(f"{name}: the tensor's array is read-only (shape {t.shape}, e.g. a "
                         "broadcast view); copy it first")
    if recording:
        # the op's input: t as it was; through a view, a window on the first tensor as it
        # was (as PyTorch: nothing refers back to the tensors that change)
        if chain:
            first = _earlier_self(chain[-1])
            positions = window(t, chain)
            old = _view_of(t, first, positions)
        else:
            old = _earlier_self(t)
        new = fn(old, old if other is t else other)  # t += t: both operands are the old t
        if _reads(new, old):  # t.mul_(w), w needing a gradient: dw = g t needs the old t,
            kept = old.data.copy()  # which the write destroys; keep it (as PyTorch does),
            _carry_record(old.data, kept)  # with the writes it had seen
            old.data = kept
    else:
        new = fn(t, other)
    if new.shape != t.shape:
        raise ShapeError(f"{name}: the result has shape {new.shape}, but the tensor changed in "
                         f"place has shape {t.shape} (only the other operand may broadcast)")
    if _CATEGORY[new.dtype.kind] > _CATEGORY[t.dtype.kind]:
        raise TypeError(f"{name}: a result of dtype {new.dtype} cannot be written into a "
                        f"tensor of dtype {t.dtype} in place; convert the tensor first "
                        f"(t = t.astype({new.dtype}))")
    np.copyto(t.data, new.data, casting="unsafe")
    mark_written(t.data)
    if recording:
        root = chain[-1] if chain else t
        if chain:  # the first tensor of the chain changed inside the view's window; t and
            # every other view of it are rebuilt on it when next used
            _become(root, first, WriteThrough.apply(first, new, window=positions))
            refresh(t, chain)
        else:
            _become(t, old, new)
        if joins:  # the tensor just joined the graph: so do its views (PyTorch)
            for v in views_below(root):
                v.requires_grad = v.requires_grad or v._view[3]
    return t


def _check_recordable(t: Any, name: str, chain: list) -> None:
    """The writes PyTorch refuses to record: into a view made under ``no_grad()`` (whether
    the write should reach the gradient of the tensor it shows is ambiguous), and into a
    leaf that requires grad or a view of one (the graph would lose the value it starts
    from)."""
    if chain and not t._view[3]:
        raise RuntimeError(
            f"{name}: this view (shape {t.shape}) was made inside `no_grad()` and is changed "
            "in place while the graph is being recorded, so it is ambiguous whether the "
            "change should reach the gradient of the tensor it shows (shape "
            f"{chain[0].shape}); take the view and change it both inside `no_grad()` (not "
            "recorded) or both outside it (recorded)")
    if t.requires_grad and t._op is None and not chain:
        raise RuntimeError(
            f"{name}: a leaf tensor that requires grad (shape {t.shape}) cannot be changed in "
            "place while the graph is being recorded; do the update inside "
            "`with mg.no_grad():` (e.g. p -= lr * p.grad), or change p.data"
        )
    for base in chain:
        if base.requires_grad and base._op is None:
            raise RuntimeError(
                f"{name}: a view (shape {t.shape}) of a leaf tensor that requires grad "
                f"(shape {base.shape}) cannot be changed in place while the graph is being "
                "recorded; change the leaf inside `with mg.no_grad():`, or work on a copy "
                "(leaf.clone())")


def refresh(t: Any, chain: list | None = None) -> None:
    """If the first tensor of the view ``t``'s chain changed in place (recorded) since
    ``t``'s node was made, directly or through another view, ``t`` becomes a node on that
    tensor's latest self showing the same window (``ViewOf``), as PyTorch regenerates a
    view's grad_fn (AsStrided) when it is next used. Nodes that read ``t`` before keep
    its earlier self. Lazily, so writing each of n views of one tensor costs n rebuilds,
    not n². (``chain``: ``viewed(t)``, when the caller has it.)"""
    if chain is None:
        chain = viewed(t)
    if not chain or chain[-1]._seq < t._seq:
        return
    root = chain[-1]
    if not t._view[3]:
        raise RuntimeError(
            f"a view (shape {t.shape}) made inside `no_grad()` is used while the graph is "
            f"being recorded, after the tensor it shows (shape {root.shape}) was changed "
            "in place while recording, so it is ambiguous whether that change should reach "
            "its gradient; take the view and change the tensor both inside `no_grad()` or "
            "both outside it")
    _become(t, _earlier_self(t), _view_of(t, root, window(t, chain)))


def _view_of(t: Any, root: Any, positions: np.ndarray) -> Any:
    """A node with ``t``'s values (its buffer), showing ``positions`` of ``root``."""
    if not root.requires_grad:
        return t._make(t.data, (), None, None, False)
    return t._make(t.data, (root,), ViewOf, {"window": positions}, True)


def _reads(new: Any, old: Any) -> bool:
    """Whether the backward of the op that computed ``new`` reads the value of ``old``."""
    if new._op is None or not new._op.uses_values:
        return False
    reads = new._op.reads([p.requires_grad for p in new._parents])
    return any(read and p is old for read, p in zip(reads[1:], new._parents))


def _earlier_self(t: Any) -> Any:
    """A new node that is ``t`` as it is now (sharing its buffer), before ``t`` changes."""
    old = t._make(t.data, t._parents, t._op, t._ctx, t.requires_grad)
    old._epoch, old._scope, old.name = getattr(t, "_epoch", 0), t._scope, t.name
    if hasattr(t, "_before"):  # written in place before: the chain of earlier selves
        old._before = t._before
    return old


def _become(t: Any, old: Any, new: Any) -> None:
    """``t`` turns into the node ``new``; nodes that used it before keep ``old``, and so
    do the hooks registered on it so far."""
    if HOOKS:
        hand_hooks_down(t, old)
    old._seq, t._seq, t._before = t._seq, new._seq, old
    t._parents, t._op, t._ctx = new._parents, new._op, new._ctx
    t._epoch = getattr(new, "_epoch", 0)
    t.requires_grad = True
    REBASED[0] += 1


class WriteThrough(Op):
    """A tensor changed through one of its views: its new self. The values are already in
    its buffer (nothing to compute); the gradient of the viewed window goes to the written
    view, the rest to the tensor as it was (PyTorch's CopySlices). ``window`` holds the flat
    positions the view shows, in the view's shape."""

    name = "write_through"
    uses_values = False

    @staticmethod
    def forward(base, view, window):
        return base  # the shared buffer, already written

    @staticmethod
    def backward(g, out, needs, base, view, window):
        if is_tensor(g):  # differentiable again
            outside = np.ones(base.size, dtype=g.dtype)
            outside[window.reshape(-1)] = 0
            flat = g.reshape(-1)
            return (flat * constant(outside, g)).reshape(base.shape), flat[window]
        flat = g.reshape(-1).copy()
        inside = flat[window]  # a copy, in the view's shape
        flat[window] = 0
        return flat.reshape(base.shape), inside


class ViewOf(Op):
    """A view rebuilt on the first tensor of its chain after that tensor changed in place
    (PyTorch's AsStrided): the elements at ``window``'s flat positions, in the view's
    shape. Its node is made with the view's own buffer (``refresh``); forward is what it
    would compute. The gradient goes back to those positions."""

    name = "view_of"
    uses_values = False

    @staticmethod
    def forward(base, window):
        return base.reshape(-1)[window]

    @staticmethod
    def backward(g, out, needs, base, window):
        if is_tensor(g):  # differentiable again
            flat = _scatter(g.reshape(-1), window.reshape(-1), (base.size,))
            return (flat.reshape(base.shape),)
        flat = np.zeros(base.size, dtype=g.dtype)
        flat[window.reshape(-1)] = g.reshape(-1)  # a window shows each position once
        return (flat.reshape(base.shape),)


def overwrite(old: Any, src: Any) -> Any:
    """``src`` broadcast to ``old``'s shape, as an op whose gradient goes to ``src`` alone
    (``old`` gets zero): what ``copy_``, ``fill_`` and ``zero_`` compute."""
    src = lift(src, old, "copy_")
    try:
        np.broadcast_to(src.data, old.shape)
    except ValueError:
        raise ShapeError(f"copy_: a source of shape {src.shape} cannot be broadcast to the "
                         f"destination's shape {old.shape}") from None
    if not (src.requires_grad or old.requires_grad):
        return constant(np.broadcast_to(src.data, old.shape), old)
    return where(np.zeros(old.shape, dtype=bool), old, src)
