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
  some write happened since: one comparison per node otherwise.

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

from ..state import REBASED, STATE
from .core import ShapeError, constant, is_tensor, lift
from .elementwise import where

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
        if written > made:
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
    recording = STATE.grad_enabled and (
        t.requires_grad or (is_tensor(other) and other.requires_grad))
    if recording and t.requires_grad and t._op is None:
        raise RuntimeError(
            f"{name}: a leaf tensor that requires grad (shape {t.shape}) cannot be changed in "
            "place while the graph is being recorded; do the update inside "
            "`with mg.no_grad():` (e.g. p -= lr * p.grad), or change p.data"
        )
    if not t.data.flags.writeable:
        raise ValueError(f"{name}: the tensor's array is read-only (shape {t.shape}, e.g. a "
                         "broadcast view); copy it first")
    if recording:  # the op's input is the tensor as it was: a node sharing its old buffer
        old = t._make(t.data, t._parents, t._op, t._ctx, t.requires_grad)
        old._epoch, old._scope, old.name = getattr(t, "_epoch", 0), t._scope, t.name
        if hasattr(t, "_before"):  # written in place before: the chain of earlier selves
            old._before = t._before
        new = fn(old, old if other is t else other)  # t += t: both operands are the old t
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
    if recording:  # t becomes the new node; nodes that used it before keep the old one
        old._seq, t._seq, t._before = t._seq, new._seq, old
        t._parents, t._op, t._ctx = new._parents, new._op, new._ctx
        t._epoch = getattr(new, "_epoch", 0)
        t.requires_grad = True
        REBASED[0] += 1
    return t


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
