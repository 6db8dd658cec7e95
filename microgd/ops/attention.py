"""Scaled dot-product attention: weights computed from the data.

    scores  = Q K^T * scale              (L, S): how well query i matches key j
    weights = softmax(scores + mask)     each row sums to 1 over the keys it may see
    out     = weights V                  each query's weighted average of the values

A Linear layer's weights are parameters, moved by θ ← θ − α∇J(θ); attention's weights are
recomputed from Q and K for every input, and gradient descent moves the projections that
produce Q and K instead. The definition is composed from ops that have backward rules
(``_softmax_scores``: matmul, exp, sum, div); the ``Attention`` op fuses it into one node
with its own VJP for the usual case, where only the output is needed.

A row whose keys are all masked has no softmax (0/0); it gets weights 0 and output 0, what
PyTorch's ``scaled_dot_product_attention`` gives, never a NaN that spreads.
Both paths shift the scores by their overall max where that is safe (``_shift``), else by
each row's max, and sum rows as products with ones (numpy reduces a short last axis slowly).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..state import generator
from .core import Op, ShapeError, constant, is_tensor, lift, ones
from .elementwise import Exp, astype, where
from .linalg import matmul
from .reduce import row_max
from .shape import stack, swapaxes


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


def _prepare(mask: Any, shape: tuple, dtype: np.dtype, dropout_p: float
             ) -> tuple[Any, Any, Any]:
    """(mask, alive, keep): the mask with the rows that may see no key set to 0 (so softmax
    stays finite there) and ``alive`` (0 for those rows, None when there are none), and
    dropout's kept weights scaled by 1/(1-p) (None without dropout)."""
    alive = None
    if mask is not None:
        m = mask.data if is_tensor(mask) else mask
        dead = np.all(m == -np.inf, axis=-1, keepdims=True)
        if dead.any():
            mask = where(dead, 0, mask) if is_tensor(mask) else np.where(dead, 0, mask)
            alive = (~dead).astype(dtype)
    keep = None
    if dropout_p > 0.0:
        keep = ((generator().random(shape) >= dropout_p) / (1.0 - dropout_p)).astype(dtype)
    return mask, alive, keep


def _shift(scores: np.ndarray, mask: Any) -> Any:
    """What softmax subtracts before exp, chosen on the scores before the mask: their
    largest value when all lie within 80 of one another and the mask only blocks (0 or
    -inf); otherwise None, meaning each row's own max. Every row keeps a key
    (``_prepare``), whose score is at least the smallest, so each row's exponentials stay
    within [e^-80, 1]: normal floats, none overflowing, never all 0 (the weights agree
    with the row-max shift's to rounding). A max and a min over the whole array: ~8 µs,
    where the row max and its broadcast subtraction took ~70 on G1's scores."""
    if scores.dtype.itemsize < 4 or scores.size == 0:
        return None
    if mask is not None:
        m = mask.data if is_tensor(mask) else mask
        if m[np.isfinite(m)].any():  # finite entries other than 0: a bias, not a block
            return None
    top = scores.max()
    return top if top - scores.min() <= 80 else None  # NaN or inf: False, the row max


def _split(qkv: tuple, heads: int | None = None) -> tuple:
    """(q, k, v) from three operands, or from one packed operand (see ``_packed``)."""
    return qkv if len(qkv) == 3 else _packed(qkv[0], heads)


def _softmax_scores(q: Any, k: Any, scale: float, mask: Any, alive: Any) -> Any:
    """softmax(q k^T * scale + mask) over the keys, composed from differentiable ops:
    the definition, used to record ``need_weights`` and to differentiate ``Attention``
    again. Subtracting a constant (``_shift``) keeps exp from overflowing."""
    scores = matmul(q * scale, swapaxes(k, -1, -2))  # the fused op's order, bit for bit
    shift = _shift(scores.data, mask)
    if mask is not None:
        scores = scores + (mask if is_tensor(mask) else constant(mask, scores))
    e = Exp.apply(scores - (row_max(scores.data) if shift is None else shift))
    weights = e / matmul(e, constant(_ones_column(e.data), e))
    return weights if alive is None else weights * alive  # 0 for rows that see nothing


class Attention(Op):
    """softmax(q k^T * scale + mask) v as one op, on (q, k, v) or on q, k and v packed
    along a first axis of 3 (MultiheadAttention's one input projection, split for free).

    Fused because the composite recorded ten nodes per call (matmul, swapaxes, scale, mask,
    max-shift, exp, sum, div, matmul, plus three slices of the packed projection, each of
    whose VJPs wrote a zero array the size of all three); see docs/performance.md, G1.
    The VJP, with W the softmax weights kept from the forward pass and D the dropout mask:

        dv = (W D)^T g,   dW = (g v^T) D,   dS = W (dW - rowsum(dW W)),
        dq = dS k * scale,   dk = dS^T q * scale

    Differentiated again (Tensors in), the same lines run on W recomputed from q and k by
    ``_softmax_scores``, which computes the forward's values bit for bit.
    """

    name = "attention"
    saves = True

    @staticmethod
    def forward(*qkv, scale, mask, alive, keep, heads):
        q, k, v = _split(qkv, heads)
        # scaling q (a copy, which also makes a packed slice contiguous for matmul) is
        # cheaper than scaling the scores
        w = (q * q.dtype.type(scale)) @ k.swapaxes(-1, -2)
        shift = _shift(w, mask)
        if mask is not None:
            w += mask  # it broadcasts to the scores' shape (checked by the callers)
        w -= row_max(w) if shift is None else shift
        np.exp(w, out=w)
        w /= w @ _ones_column(w)
        if alive is not None:
            w *= alive
        kept = w if keep is None else w * keep
        if heads is None:
            return kept @ v, {"weights": w}
        # heads side by side, (N, L, H, E/H): the product written straight into that layout
        N, H, L, d = v.shape[0], v.shape[1], q.shape[2], v.shape[3]
        merged = np.empty((N, L, H, d), np.result_type(w, v))
        np.matmul(kept, v, out=merged.swapaxes(1, 2))
        return merged.reshape(N, L, H * d), {"weights": w}

    @staticmethod
    def backward(g, out, needs, *qkv, scale, mask, alive, keep, heads, weights):
        q, k, v = _split(qkv, heads)
        if heads is not None:  # (N, L, E) -> (N, H, L, E/H), a view
            g = g.reshape(g.shape[0], g.shape[1], heads, -1).swapaxes(1, 2)
        packed = len(qkv) == 1
        if is_tensor(g):  # differentiable again: W as a function of q and k
            return _backward_graph(g, needs, q, k, v, packed, heads, scale, mask, alive, keep)
        want_q, want_k, want_v = (True,) * 3 if packed else needs
        # packed: the three gradients go straight into one array shaped like the input
        packed_grad = np.empty(qkv[0].shape, g.dtype) if packed else None
        outs = _packed(packed_grad, heads) if packed else (None, None, None)
        grads: list = [None, None, None]
        if want_v:
            kept = weights if keep is None else weights * keep
            grads[2] = np.matmul(kept.swapaxes(-1, -2), g, out=outs[2])
        if want_q or want_k:
            ds = g @ v.swapaxes(-1, -2)  # dW, then dS in place
            if keep is not None:
                ds *= keep
            ds -= (ds * weights) @ _ones_column(ds)
            ds *= weights
            ds *= g.dtype.type(scale)
            if want_q:
                grads[0] = np.matmul(ds, k, out=outs[0])
            if want_k:
                grads[1] = np.matmul(ds.swapaxes(-1, -2), q, out=outs[1])
        return (packed_grad,) if packed else tuple(grads)


def _backward_graph(g: Any, needs: Any, q: Any, k: Any, v: Any, packed: bool, heads: Any,
                    scale: float, mask: Any, alive: Any, keep: Any) -> tuple:
    """Attention's VJP on Tensors (``create_graph=True``), recorded so that it can be
    differentiated again: the docstring's lines, on W recomputed by ``_softmax_scores``."""
    weights = _softmax_scores(q, k, scale, mask, alive)
    want_q, want_k, want_v = (True,) * 3 if packed else needs
    dv: Any = None  # None: that input needs no gradient
    dq: Any = None
    dk: Any = None
    if want_v:
        dv = (weights if keep is None else weights * keep).swapaxes(-1, -2) @ g
    if want_q or want_k:
        dw = g @ v.swapaxes(-1, -2)
        if keep is not None:
            dw = dw * keep
        ds = weights * (dw - (dw * weights).sum(axis=-1, keepdims=True)) * scale
        dq = ds @ k if want_q else None
        dk = ds.swapaxes(-1, -2) @ q if want_k else None
    if not packed:
        return dq, dk, dv
    grad = stack([dq, dk, dv])
    if heads is not None:  # (3, N, H, L, E/H) -> (N, L, 3, H, E/H) -> (N, L, 3E)
        grad = grad.transpose(1, 3, 0, 2, 4).reshape(grad.shape[1], grad.shape[3], -1)
    return (grad,)


def _packed(x: Any, heads: int | None) -> tuple:
    """(q, k, v) as views of one packed operand: (3, ...), or with ``heads`` an (N, L, 3E)
    projection whose rows are q | k | v, each split into heads, as (N, H, L, E/H) each."""
    if heads is not None:  # (N, L, 3, H, E/H) -> (3, N, H, L, E/H)
        N, L, e3 = x.shape
        x = x.reshape(N, L, 3, heads, e3 // (3 * heads)).transpose(2, 0, 3, 1, 4)
    return x[0], x[1], x[2]


def _ones_column(w: np.ndarray) -> np.ndarray:
    """(S, 1) ones: ``w @ ones`` sums the last axis with BLAS, 12 µs where
    ``w.sum(axis=-1)`` takes 47 on G1's scores (numpy reduces a short last axis slowly)."""
    return ones(w.shape[-1], w.dtype)[:, None]


def attend(q: Any, k: Any, v: Any, mask: Any = None, dropout_p: float = 0.0,
           scale: float | None = None, need_weights: bool = True, heads: int | None = None
           ) -> tuple[Any, Any]:
    """``(softmax(q k^T * scale + mask) v, weights)`` on Tensors shaped (..., L, E),
    (..., S, E), (..., S, Ev), or on q, k, v packed in one (3, ..., L, E) Tensor ``q``
    (then ``k`` and ``v`` are None). ``mask`` is additive (an array or a Tensor),
    broadcasting to (..., L, S). Shared by ``scaled_dot_product_attention`` and
    MultiheadAttention, which packs with ``heads``: ``q`` is its (N, L, 3E) input
    projection, split into that many heads, and the output is (N, L, E), the heads' side
    by side (no reshape or transpose nodes around the op).

    Without ``need_weights`` it is the fused ``Attention`` op and ``weights`` is None;
    with it (or a mask that needs a gradient) the composite, whose weights are a Tensor
    in the graph."""
    qkv = (q,) if k is None else (q, k, v)
    q0, k0, _ = _split(tuple(t.data for t in qkv), heads)
    if scale is None:
        scale = 1.0 / math.sqrt(q0.shape[-1])
    shape = np.broadcast_shapes(q0.shape[:-2], k0.shape[:-2]) + (q0.shape[-2], k0.shape[-2])
    mask, alive, keep = _prepare(mask, shape, q0.dtype, dropout_p)
    if not need_weights and not is_tensor(mask):
        return Attention.apply(*qkv, scale=float(scale), mask=mask, alive=alive, keep=keep,
                               heads=heads), None
    q, k, v = _split(qkv, heads)
    weights = _softmax_scores(q, k, float(scale), mask, alive)
    if keep is not None:
        weights = weights * keep
    out = matmul(weights, v)
    if heads is not None:  # heads side by side, as the fused op gives them
        out = out.swapaxes(1, 2).reshape(out.shape[0], out.shape[2], -1)
    return out, weights


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
    out, _ = attend(q, k, v, mask, dropout_p, scale, need_weights=False)
    return out
