"""Anomaly detection: stop at the first op whose output or gradient holds NaN or Inf.

A NaN born deep inside a network spreads to everything after it, so the loss says only
that *something* went wrong. In this mode every op checks its forward output, and every
backward rule its gradients, and the first non-finite value raises an error naming the op,
the module it ran in, the shapes involved and, for backward, where the node was created.
Off by default; when off, it costs one flag check per op.
"""
from __future__ import annotations

import os
import traceback
import weakref
from typing import Any

import numpy as np

from .state import STATE

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep

# id(node) -> (weak reference to node, "file:line in function"); entries die with the node
_CREATED_AT: dict[int, tuple[Any, str]] = {}


class AnomalyError(RuntimeError):
    """A NaN or Inf appeared; the message says where."""


def set_detect_anomaly(mode: bool) -> None:
    STATE.detect_anomaly = bool(mode)


def is_anomaly_enabled() -> bool:
    return STATE.detect_anomaly


class detect_anomaly:
    """``with mg.detect_anomaly(): ...`` turns anomaly detection on inside the block."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled

    def __enter__(self) -> detect_anomaly:
        self._previous = STATE.detect_anomaly
        STATE.detect_anomaly = self.enabled
        return self

    def __exit__(self, *exc: object) -> None:
        STATE.detect_anomaly = self._previous


def _bad(a: Any) -> str | None:
    """'NaN', 'Inf' or None for an array (integers are always finite)."""
    a = np.asarray(a)
    if a.dtype.kind not in "fc" or np.isfinite(a).all():
        return None
    return "NaN" if np.isnan(a).any() else "Inf"


def _where(scope: Any) -> str:
    return f" in {scope}" if scope is not None else " outside any module"


def check_forward(op: Any, inputs: tuple, out: Any) -> None:
    """Called by ``Op.apply`` in anomaly mode."""
    if out._op is not None:  # remember where the node was made, for backward's message
        # the user's line: the innermost frame outside this package's own directory (a
        # checkout that happens to live in a folder named "microgd" is still the user's)
        frames = [f for f in traceback.extract_stack()[:-3]
                  if not os.path.abspath(f.filename).startswith(_PACKAGE_DIR)]
        if frames:
            f = frames[-1]
            key = id(out)
            def forget(_: object, key: int = key) -> None:  # the node died: drop its entry
                _CREATED_AT.pop(key, None)
            ref = weakref.ref(out, forget)
            _CREATED_AT[key] = (ref, f"{f.filename}:{f.lineno} in {f.name}")
    kind = _bad(out.data)
    if kind is None:
        return
    shapes = ", ".join(str(t.shape) for t in inputs)
    already = [i for i, t in enumerate(inputs) if _bad(t.data)]
    cause = (f"; input {already[0]} already contained non-finite values" if already else
             "; all its inputs were finite")
    raise AnomalyError(
        f"detect_anomaly: forward of {op.name}{_where(out._scope)} produced {kind} in its "
        f"output of shape {out.shape} (input shapes: {shapes}){cause}"
    )


def check_backward(node: Any, g: Any, grads: Any) -> None:
    """Called by ``Tensor._vjp`` in anomaly mode, with the gradients it computed."""
    for i, pg in enumerate(grads):
        if pg is None:
            continue
        kind = _bad(pg.data if hasattr(pg, "_op") else pg)
        if kind is None:
            continue
        upstream = _bad(g.data if hasattr(g, "_op") else g)
        entry = _CREATED_AT.get(id(node))
        made = entry[1] if entry is not None and entry[0]() is node else None
        raise AnomalyError(
            f"detect_anomaly: backward of {node._op.name} produced {kind} in the gradient for "
            f"its input {i} (shape {node._parents[i].shape}); the node was created by "
            f"{node._op.name}{_where(node._scope)} in forward"
            + (f" at {made}" if made else "")
            + ("; the upstream gradient was already non-finite" if upstream else
               "; the upstream gradient was finite")
        )
