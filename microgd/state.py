"""The switches a computation reads: grad mode, anomaly mode, module scope, default dtype, RNG.

Grad mode, anomaly mode and the module scope are **per thread**, as in PyTorch: an
evaluation thread inside ``no_grad()`` must not make a training thread silently record
nothing. Each op reads them once (``STATE.grad_enabled``); a ``threading.local`` subclass
gives every thread its own copy, initialised by ``__init__`` the first time that thread
looks. The default float dtype and the random generator are process-wide, as
``torch.set_default_dtype`` and ``torch.manual_seed`` are.

This module imports nothing from the rest of microgd: it is the ground floor.
"""
from __future__ import annotations

import functools
import itertools
import threading
from typing import Any

import numpy as np


class _State(threading.local):
    """This thread's switches (a fresh thread starts with the defaults)."""

    def __init__(self) -> None:
        self.grad_enabled = True
        self.detect_anomaly = False
        self.scope: Scope | None = None  # the innermost Scope entered by Module.__call__


STATE = _State()


# --------------------------------------------------------------------------- creation order
# Every graph node (Value or Tensor) takes the next number when it is made, and a node is
# always made after its inputs: so taking nodes from the highest number down visits each one
# after every node that used it. That is the backprop walk's order (autograd.py), with no
# counting pass first. One counter for the process: a node made in another thread is still
# made after its inputs (``itertools.count`` is safe to share between threads).
next_seq = itertools.count(1).__next__

# How many times an in-place op has turned a Tensor into a later node (ops/inplace.py). Until
# it has happened once, the walk need not look for parents that changed after their users.
REBASED = [0]


# --------------------------------------------------------------------------- grad mode
class _GradMode:
    """Context manager (and decorator) that sets whether ops record the graph."""

    enabled = True

    def __enter__(self) -> None:
        self._previous = STATE.grad_enabled
        STATE.grad_enabled = self.enabled

    def __exit__(self, *exc: object) -> None:
        STATE.grad_enabled = self._previous

    def __call__(self, fn: Any) -> Any:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with type(self)():
                return fn(*args, **kwargs)
        return wrapper


class no_grad(_GradMode):
    """Inside this block ops compute values but record no graph (e.g. optimizer updates,
    evaluation). Also usable as a decorator. Affects only the calling thread."""

    enabled = False


class enable_grad(_GradMode):
    """Turn recording back on inside a ``no_grad`` block."""

    enabled = True


class set_grad_enabled(_GradMode):
    """Record the graph or not, as ``mode`` says: at once when called
    (``mg.set_grad_enabled(False)``), or for a block (``with mg.set_grad_enabled(flag):``,
    restoring the mode it found), or around a function as a decorator, as in PyTorch."""

    def __init__(self, mode: bool) -> None:
        self.enabled = bool(mode)
        self._previous = STATE.grad_enabled
        STATE.grad_enabled = self.enabled

    def __enter__(self) -> None:
        STATE.grad_enabled = self.enabled  # set by the call; again if entered later

    def __call__(self, fn: Any) -> Any:
        STATE.grad_enabled = self._previous  # decorating sets nothing by itself
        mode = self.enabled

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)
        return wrapper


def is_grad_enabled() -> bool:
    return STATE.grad_enabled


# --------------------------------------------------------------------------- module scopes
class Scope:
    """Where an op ran: the module call it happened in (``Module.__call__`` enters one).

    Rendering clusters nodes by it; error messages name it, e.g. ``MLP.layers.2 (Linear)``.
    """

    __slots__ = ("name", "kind", "parent")

    def __init__(self, name: str, kind: str, parent: Scope | None) -> None:
        self.name = name      # dotted path from the outermost module, e.g. "MLP.layers.2"
        self.kind = kind      # the module's class name, e.g. "Linear"
        self.parent = parent

    def chain(self) -> list[Scope]:
        """Outermost first."""
        out: list[Scope] = []
        s: Scope | None = self
        while s is not None:
            out.append(s)
            s = s.parent
        return out[::-1]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"

    __repr__ = __str__


# --------------------------------------------------------------------------- default dtype
_DEFAULT_FLOAT = [np.dtype(np.float32)]


def set_default_dtype(dtype: Any) -> None:
    """Set the float dtype for Python floats, lists of floats, new Parameters, and for what
    integer tensors turn into in ops with fractional results (exp, mean, true division ...)."""
    dt = np.dtype(dtype)
    if dt.kind != "f":
        raise TypeError(f"set_default_dtype: expected a float dtype, got {dt}")
    _DEFAULT_FLOAT[0] = dt


def get_default_dtype() -> np.dtype:
    return _DEFAULT_FLOAT[0]


# --------------------------------------------------------------------------- random numbers
_GENERATOR = [np.random.default_rng()]


def manual_seed(seed: int) -> np.random.Generator:
    """Make weight init, dropout and unseeded shuffling repeatable (``torch.manual_seed``)."""
    _GENERATOR[0] = np.random.default_rng(seed)
    return _GENERATOR[0]


def generator() -> np.random.Generator:
    """The generator behind weight init, dropout and shuffling defaults."""
    return _GENERATOR[0]
