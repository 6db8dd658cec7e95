"""torch.func-style transforms: ``grad``, ``vjp``, ``jvp``, ``jacrev``, ``jacfwd``, ``hessian``.

Each takes a function of Tensors and returns a function (or its result) built on the one
backprop walk. They compose (``hessian`` is ``jacfwd(jacrev(f))``) because every backward
rule is differentiable: an input that already requires grad (an outer transform's) keeps
the graph, so the outer transform can differentiate the inner one's result.

Reverse vs forward mode, for a Jacobian of shape (m, n) (m outputs, n inputs):
- reverse mode (``jacrev``, ``vjp``) gets one *row* u^T J per backward pass: m passes;
- forward mode (``jacfwd``, ``jvp``) gets one *column* J v per pass: n passes.
So a loss (m = 1) wants reverse mode — that is why backprop trains networks — and a
function of few inputs with many outputs wants forward mode.

``jvp`` uses the double-VJP trick rather than a second set of tangent rules: u -> J^T u
is linear in u, so differentiating <J^T u, v> with respect to u gives J v. It costs two
reverse passes instead of one forward pass, but needs no rule beyond those backprop has.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .autograd import grad as _grad
from .ops import stack
from .tensor import Tensor

__all__ = ["grad", "vjp", "jvp", "jacrev", "jacfwd", "hessian"]


def _inputs(args: Sequence[Any], where: str) -> list[Tensor]:
    """Each argument as a Tensor that gradients can reach: one already in a graph (an outer
    transform's input) is used as it is; anything else becomes a fresh leaf."""
    out = []
    for i, a in enumerate(args):
        if isinstance(a, Tensor) and a.requires_grad:
            out.append(a)
            continue
        arr = np.asarray(a.data if isinstance(a, Tensor) else a)
        if arr.dtype.kind != "f":
            raise TypeError(f"{where}: argument {i} must be a floating-point Tensor, got "
                            f"dtype {arr.dtype}")
        out.append(Tensor(arr, requires_grad=True))
    return out


def _nested(xs: Sequence[Tensor], args: Sequence[Any]) -> bool:
    """True when an outer transform will differentiate our result (keep the graph)."""
    return any(x is a for x, a in zip(xs, args))


def _argnums(argnums: int | tuple, n: int, where: str) -> tuple[int, ...]:
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for k in nums:
        if not isinstance(k, int) or not -n <= k < n:
            raise ValueError(f"{where}: argnums {argnums!r} out of range for {n} arguments")
    return tuple(k % n for k in nums)


def _output(y: Any, where: str) -> Tensor:
    if not isinstance(y, Tensor):
        raise TypeError(f"{where}: the function must return a Tensor, got {type(y).__name__}")
    return y


def _grads(y: Tensor, wrt: Sequence[Tensor], seed: Any, keep: bool) -> list[Tensor]:
    """d<y, seed>/d wrt, zeros where y does not depend on an input."""
    if not y.requires_grad:
        return [Tensor(np.zeros(x.shape, dtype=x.dtype)) for x in wrt]
    gs = _grad(y, list(wrt), grad_outputs=seed, create_graph=keep, retain_graph=True,
               allow_unused=True)
    return [Tensor(np.zeros(x.shape, dtype=x.dtype)) if g is None else g
            for g, x in zip(gs, wrt)]


def grad(f: Callable[..., Tensor], argnums: int | tuple = 0) -> Callable[..., Any]:
    """The function that returns d f / d args[argnums] (f must return one element)."""
    def grad_f(*args: Any) -> Any:
        nums = _argnums(argnums, len(args), "grad")
        xs = _inputs(args, "grad")
        y = _output(f(*xs), "grad")
        if y.size != 1:
            raise ValueError(f"grad: the function must return a one-element Tensor, got "
                             f"shape {y.shape} (use jacrev for a vector output)")
        gs = _grads(y, [xs[k] for k in nums], None, _nested(xs, args))
        return gs[0] if isinstance(argnums, int) else tuple(gs)
    return grad_f


def vjp(f: Callable[..., Tensor], *primals: Any) -> tuple[Tensor, Callable[..., tuple]]:
    """``(f(*primals), vjp_fn)``: ``vjp_fn(u)`` is u^T J, one Tensor per primal."""
    xs = _inputs(primals, "vjp")
    y = _output(f(*xs), "vjp")
    keep = _nested(xs, primals)

    def vjp_fn(cotangent: Any) -> tuple:
        u = cotangent.data if isinstance(cotangent, Tensor) and not keep else cotangent
        if np.shape(u.data if isinstance(u, Tensor) else u) != y.shape:
            raise ValueError(f"vjp: the cotangent has shape {np.shape(u)}, the output "
                             f"{y.shape}")
        return tuple(_grads(y, xs, u, keep))
    return (y if keep else y.detach()), vjp_fn


def jvp(f: Callable[..., Tensor], primals: Sequence[Any], tangents: Sequence[Any]
        ) -> tuple[Tensor, Tensor]:
    """``(f(*primals), J v)`` with v = ``tangents``, by the double-VJP trick (module doc)."""
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise ValueError(f"jvp: {len(primals)} primals but {len(tangents)} tangents")
    xs = _inputs(primals, "jvp")
    for i, (x, t) in enumerate(zip(xs, tangents)):
        if np.shape(t.data if isinstance(t, Tensor) else t) != x.shape:
            raise ValueError(f"jvp: tangent {i} has shape {np.shape(t)}, its primal {x.shape}")
    y = _output(f(*xs), "jvp")
    keep = _nested(xs, primals)
    if not y.requires_grad:
        return y, Tensor(np.zeros(y.shape, dtype=y.dtype))
    u = Tensor(np.zeros(y.shape, dtype=y.dtype), requires_grad=True)   # J^T u is linear in u
    gs = _grad(y, xs, grad_outputs=u, create_graph=True, retain_graph=True, allow_unused=True)
    total = None
    for g, t in zip(gs, tangents):
        if g is not None:
            term = (g * t).sum()
            total = term if total is None else total + term
    if total is None or not total.requires_grad:
        return (y if keep else y.detach()), Tensor(np.zeros(y.shape, dtype=y.dtype))
    (jv,) = _grad(total, u, create_graph=keep)                  # d<J^T u, v>/du = J v
    return (y if keep else y.detach()), jv


def _jacobian(f: Callable[..., Tensor], argnums: int | tuple, where: str,
              column: Callable[..., Any]) -> Callable[..., Any]:
    def jac_f(*args: Any) -> Any:
        nums = _argnums(argnums, len(args), where)
        xs = _inputs(args, where)
        keep = _nested(xs, args)
        y = _output(f(*xs), where)
        results = []
        for k in nums:
            x = xs[k]
            parts = column(y, xs, x, keep)
            jac = stack(parts).reshape(*_shape(y, x, where == "jacrev"))
            if where == "jacfwd":  # columns were stacked first: put the output axes first
                nx, ny = x.ndim, y.ndim
                jac = jac.transpose(tuple(range(nx, nx + ny)) + tuple(range(nx)))
            results.append(jac if keep else jac.detach())
        return results[0] if isinstance(argnums, int) else tuple(results)
    return jac_f


def _shape(y: Tensor, x: Tensor, rows_first: bool) -> tuple:
    return y.shape + x.shape if rows_first else x.shape + y.shape


def _rows(y: Tensor, xs: list, x: Tensor, keep: bool) -> list:
    """One VJP per output element: the rows of the Jacobian."""
    eye = np.eye(max(y.size, 1), dtype=y.dtype)
    return [_grads(y, [x], eye[i].reshape(y.shape), keep)[0] for i in range(y.size)]


def _columns(y: Tensor, xs: list, x: Tensor, keep: bool) -> list:
    """One JVP per input element: the columns of the Jacobian (double-VJP, as in jvp)."""
    if not y.requires_grad:
        return [Tensor(np.zeros(y.shape, dtype=y.dtype)) for _ in range(x.size)]
    u = Tensor(np.zeros(y.shape, dtype=y.dtype), requires_grad=True)
    (g,) = _grad(y, x, grad_outputs=u, create_graph=True, retain_graph=True, allow_unused=True)
    if g is None or not g.requires_grad:
        return [Tensor(np.zeros(y.shape, dtype=y.dtype)) for _ in range(x.size)]
    flat = g.reshape(-1)
    cols = []
    for j in range(x.size):
        (c,) = _grad(flat[j], u, create_graph=keep, retain_graph=True, allow_unused=True)
        cols.append(Tensor(np.zeros(y.shape, dtype=y.dtype)) if c is None else c)
    return cols


def jacrev(f: Callable[..., Tensor], argnums: int | tuple = 0) -> Callable[..., Any]:
    """The Jacobian of f, shape output.shape + input.shape, by reverse mode (a row a pass)."""
    return _jacobian(f, argnums, "jacrev", _rows)


def jacfwd(f: Callable[..., Tensor], argnums: int | tuple = 0) -> Callable[..., Any]:
    """The Jacobian of f, shape output.shape + input.shape, by forward mode (a column a
    pass, by the double-VJP trick)."""
    return _jacobian(f, argnums, "jacfwd", _columns)


def hessian(f: Callable[..., Tensor], argnums: int | tuple = 0) -> Callable[..., Any]:
    """The matrix of second derivatives of a one-element f: ``jacfwd(jacrev(f))``, as in
    torch.func (forward over reverse is the cheap order for a Hessian)."""
    if isinstance(argnums, int):
        return jacfwd(jacrev(f, argnums), argnums)

    def hess_f(*args: Any) -> tuple:  # nested tuples: d2f / d args[i] d args[j]
        return tuple(tuple(jacfwd(jacrev(f, i), j)(*args) for j in argnums) for i in argnums)
    return hess_f
