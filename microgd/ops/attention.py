"""Scaled dot-product attention: weights computed from the data.

    scores  = Q K^T * scale              (L, S): how well query i matches key j
    weights = softmax(scores + mask)     each row sums to 1 over the keys it may see
    out     = weights V                  each query's weighted average of the values

A Linear layer's weights are parameters, moved by θ ← θ − α∇J(θ); attention's weights are
recomputed from Q and K for every input, and gradient descent moves the projections that
produce Q and K instead. Everything here is composed from ops that have backward rules
(matmul, softmax's exp/sum/div, where), so it needs no backward of its own and is
differentiable again.

A row whose keys are all masked has no softmax (0/0); it gets weights 0 and output 0, what
PyTorch's ``scaled_dot_product_attention`` gives, never a NaN that spreads.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..state import generator
from .core import ShapeError, constant, is_tensor, lift
from .elementwise import Exp, astype, where
from .linalg import matmul
from .reduce import Sum
from .shape import swapaxes


def additive_mask(mask: Any, dtype: np.dtype, true_means: str, where_: str) -> Any:
    """A mask as what is added to the scores: a float array (or a Tensor needing grad).

    Boolean masks become 0 / -inf: ``true_means="attend"`` for
    ``scaled_dot_product_attention`` (True = may attend), ``"ignore"`` for
    ``MultiheadAttention``'s masks (True = masked out), as in PyTorch. Float masks are
    added as they are, in the scores' dtype."""
    if is_tensor(mask) and mask.requires_grad:
        if mask.dtype.kind != "f":
            raise TypeError(f"{where_}: a mask that requires grad must be floating point")
        return mask if mask.dtype == dtype else astype(mask, dtype)
    m = np.asarray(mask.data if is_tensor(mask) else mask)
    if m.dtype == np.bool_:
        blocked = ~m if true_means == "attend" else m
        return np.where(blocked, -np.inf, 0).astype(dtype)
    if m.dtype.kind != "f":
        raise TypeError(f"{where_}: a mask must be bool or floating point, got dtype {m.dtype}")
    return m.astype(dtype, copy=False)


def causal_mask(L: int, S: int, dtype: np.dtype) -> np.ndarray:
    """0 where query i may see key j (j <= i, aligned at the top left as in PyTorch), -inf
    above the diagonal."""
    return np.where(np.tri(L, S, dtype=bool), 0, -np.inf).astype(dtype)


def attend(q: Any, k: Any, v: Any, mask: Any = None, dropout_p: float = 0.0,
           scale: float | None = None) -> tuple[Any, Any]:
    """``(softmax(q k^T * scale + mask) v, weights)`` on Tensors shaped (..., L, E),
    (..., S, E), (..., S, Ev); ``mask`` is additive (an array or a Tensor), broadcasting
    to (..., L, S). Shared by ``scaled_dot_product_attention`` and MultiheadAttention."""
    if scale is None:
        scale = 1.0 / math.sqrt(q.shape[-1])
    scores = matmul(q, swapaxes(k, -1, -2)) * float(scale)
    alive = None
    if mask is not None:
        m = mask.data if is_tensor(mask) else mask
        dead = np.all(m == -np.inf, axis=-1, keepdims=True)  # rows with no key to see
        if dead.any():
            mask = where(dead, 0, mask) if is_tensor(mask) else np.where(dead, 0, mask)
            alive = (~dead).astype(scores.dtype)
        scores = scores + (mask if is_tensor(mask) else constant(mask, scores))
    # softmax over the keys; subtracting the row max (a constant) keeps exp from overflowing
    e = Exp.apply(scores - scores.data.max(axis=-1, keepdims=True))
    weights = e / Sum.apply(e, axis=(e.ndim - 1,), keepdims=True)
    if alive is not None:
        weights = weights * alive  # 0 for rows that see nothing
    if dropout_p > 0.0:
        keep = generator().random(weights.shape) >= dropout_p
        weights = weights * (keep / (1.0 - dropout_p)).astype(weights.dtype)
    return matmul(weights, v), weights


def scaled_dot_product_attention(query: Any, key: Any, value: Any, attn_mask: Any = None,
                                 dropout_p: float = 0.0, is_causal: bool = False,
                                 scale: float | None = None) -> Any:
    """softmax(Q K^T * scale + mask) V, PyTorch's ``F.scaled_dot_product_attention``.

    ``query`` (..., L, E), ``key`` (..., S, E), ``value`` (..., S, Ev) -> (..., L, Ev);
    ``scale`` defaults to 1/sqrt(E). ``attn_mask`` broadcasts to (..., L, S): a boolean
    mask marks the keys each query may attend to, a float mask is added to the scores.
    ``is_causal`` lets query i see keys 0..i only (then give no ``attn_mask``).
    ``dropout_p`` drops attention weights whenever it is positive, as in PyTorch (pass 0.0
    when evaluating)."""
    where_ = "scaled_dot_product_attention"
    q = lift(query, where=where_)
    k, v = lift(key, q, where_), lift(value, q, where_)
    for name, t in (("query", q), ("key", k), ("value", v)):
        if t.ndim < 2:
            raise ShapeError(f"{where_}: {name} must have at least 2 dimensions (..., length, "
                             f"features), got shape {t.shape}")
        if t.dtype.kind != "f":
            raise TypeError(f"{where_}: {name} must be floating point, got dtype {t.dtype}")
    if not (q.dtype == k.dtype == v.dtype):
        raise TypeError(f"{where_}: query, key and value must have one dtype, got {q.dtype}, "
                        f"{k.dtype} and {v.dtype}")
    if k.shape[-1] != q.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ShapeError(f"{where_}: query {q.shape}, key {k.shape} and value {v.shape} do not "
                         "fit: query and key need the same last dimension E, key and value the "
                         "same length S: (..., L, E), (..., S, E), (..., S, Ev)")
    try:
        batch = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except ValueError:
        raise ShapeError(f"{where_}: the batch dimensions of query {q.shape}, key {k.shape} and "
                         f"value {v.shape} cannot be broadcast together") from None
    if not 0.0 <= dropout_p < 1.0:
        raise ValueError(f"{where_}: dropout_p must be in [0, 1), got {dropout_p}")
    if scale is not None and not (isinstance(scale, (int, float)) and math.isfinite(scale)):
        raise TypeError(f"{where_}: scale must be a finite number or None, got {scale!r}")
    L, S = q.shape[-2], k.shape[-2]
    mask = None
    if is_causal:
        if attn_mask is not None:
            raise ValueError(f"{where_}: give either attn_mask or is_causal=True, not both")
        mask = causal_mask(L, S, q.dtype)
    elif attn_mask is not None:
        target = batch + (L, S)
        mshape = tuple(attn_mask.shape) if hasattr(attn_mask, "shape") else np.shape(attn_mask)
        try:
            fits = np.broadcast_shapes(mshape, target) == target
        except ValueError:
            fits = False
        if not fits:
            raise ShapeError(f"{where_}: attn_mask of shape {mshape} does not broadcast to "
                             f"(batch..., L, S) = {target} (query {q.shape}, key {k.shape})")
        mask = additive_mask(attn_mask, q.dtype, "attend", where_)
    out, _ = attend(q, k, v, mask, dropout_p, scale)
    return out
