"""MultiheadAttention: PyTorch's layer, with its parameter names, init and masks.

Each of ``num_heads`` heads projects the inputs to its own queries, keys and values of
``embed_dim // num_heads`` features and attends with them (ops/attention.py); the heads'
outputs are concatenated and mixed by ``out_proj``. The three input projections are one
(3 * embed_dim, embed_dim) matrix, ``in_proj_weight``, as in PyTorch, so a PyTorch state
dict loads unchanged.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..ops import ShapeError
from ..ops.attention import additive_mask, attend
from ..tensor import Tensor, as_tensor, get_default_dtype
from . import functional as F
from . import init
from .layers import Linear
from .module import Module, Parameter


class MultiheadAttention(Module):
    """Multi-head attention, ``torch.nn.MultiheadAttention`` for equal query/key/value
    widths: parameters ``in_proj_weight`` (3E, E), ``in_proj_bias`` (3E,) and ``out_proj``
    (a Linear(E, E)); inputs (L, N, E), or (N, L, E) with ``batch_first=True``, or
    unbatched (L, E). ``dropout`` drops attention weights in training mode."""

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 *, batch_first: bool = False) -> None:
        super().__init__()
        if embed_dim < 1 or num_heads < 1:
            raise ValueError(f"MultiheadAttention: embed_dim and num_heads must be positive, "
                             f"got embed_dim={embed_dim}, num_heads={num_heads}")
        if embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim {embed_dim} must be divisible by "
                             f"num_heads {num_heads} (each head gets embed_dim // num_heads "
                             "features)")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"MultiheadAttention: dropout must be in [0, 1), got {dropout}")
        self.embed_dim, self.num_heads = embed_dim, num_heads
        self.head_dim = embed_dim // num_heads
        self.dropout, self.batch_first = dropout, batch_first
        dtype = get_default_dtype()
        self.in_proj_weight = Parameter(np.empty((3 * embed_dim, embed_dim), dtype))
        self.in_proj_bias = Parameter(np.zeros(3 * embed_dim, dtype)) if bias else None
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's: Xavier-uniform input projections, zero biases; ``out_proj.weight``
        keeps Linear's default init."""
        init.xavier_uniform_(self.in_proj_weight)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
        if self.out_proj.bias is not None:
            init.zeros_(self.out_proj.bias)

    def forward(self, query: Any, key: Any, value: Any, key_padding_mask: Any = None,
                need_weights: bool = True, attn_mask: Any = None,
                average_attn_weights: bool = True, is_causal: bool = False
                ) -> tuple[Tensor, Tensor | None]:
        """``(output, weights)``: output shaped like ``query``; weights (N, L, S) averaged
        over heads (or (N, num_heads, L, S)), None when ``need_weights=False``.

        Masks as in PyTorch: a boolean ``attn_mask`` ((L, S) or (N * num_heads, L, S)) or
        ``key_padding_mask`` ((N, S)) is True where attention is *not* allowed; a float
        one is added to the scores. ``is_causal`` is only a hint that ``attn_mask`` is the
        causal mask, which must then be given. A query that may see no key gets output 0
        and weights 0 (PyTorch's SDPA path; its need_weights path gives NaN)."""
        where_ = "MultiheadAttention"
        q_in, k_in, v_in = (x if isinstance(x, Tensor) else as_tensor(x)
                            for x in (query, key, value))
        batched = q_in.ndim == 3
        if q_in.ndim not in (2, 3) or k_in.ndim != q_in.ndim or v_in.ndim != q_in.ndim:
            raise ShapeError(f"{where_}: query, key and value must all be 3-D (batched) or all "
                             f"2-D (unbatched), got shapes {q_in.shape}, {k_in.shape}, "
                             f"{v_in.shape}")
        E = self.embed_dim
        if q_in.shape[-1] != E or k_in.shape[-1] != E or v_in.shape[-1] != E:
            raise ShapeError(f"{where_}: expected query, key and value with {E} features in "
                             f"their last dimension, got shapes {q_in.shape}, {k_in.shape}, "
                             f"{v_in.shape}")
        if k_in.shape[:-1] != v_in.shape[:-1]:
            raise ShapeError(f"{where_}: key {k_in.shape} and value {v_in.shape} must have the "
                             "same batch and length")
        if is_causal and attn_mask is None:
            raise ValueError(f"{where_}: is_causal=True is a hint that attn_mask is the causal "
                             "mask, so attn_mask must be given (as in PyTorch), e.g. "
                             "np.triu(np.full((L, L), -np.inf), k=1)")
        self_attention = query is key and key is value
        # to (N, L, E) inside
        if not batched:
            q_in, k_in, v_in = (x.unsqueeze(0) for x in (q_in, k_in, v_in))
        elif not self.batch_first:
            q_in, k_in, v_in = (x.swapaxes(0, 1) for x in (q_in, k_in, v_in))
        N, L, _ = q_in.shape
        S = k_in.shape[1]
        if k_in.shape[0] != N:
            raise ShapeError(f"{where_}: query and key have different batch sizes "
                             f"({N} and {k_in.shape[0]})")
        packed = self_attention and not need_weights
        q, k, v = self._project(q_in, k_in, v_in, packed)
        mask = self._mask(attn_mask, key_padding_mask, N, L, S, q_in.dtype, batched)
        p = self.dropout if self.training else 0.0
        # (N, H, L, head_dim), and the weights (N, H, L, S) when asked for; packed, the
        # heads come out side by side already
        out, weights = attend(q, k, v, mask, p, need_weights=need_weights,
                              heads=self.num_heads if packed else None)
        if not packed:
            out = out.swapaxes(1, 2).reshape(N, L, E)               # heads side by side
        out = self.out_proj(out)
        if not batched:
            out = out.reshape(L, E)
        elif not self.batch_first:
            out = out.swapaxes(0, 1)
        if not need_weights:
            return out, None
        if average_attn_weights:
            weights = weights.mean(axis=1)
        return out, (weights if batched else weights.reshape(weights.shape[1:]))

    def _project(self, q_in: Tensor, k_in: Tensor, v_in: Tensor, packed: bool
                 ) -> tuple[Tensor, Tensor | None, Tensor | None]:
        """Queries, keys and values per head, each (N, H, length, head_dim): as
        ``(q, k, v)``, or with ``packed`` (self-attention) as ``(qkv, None, None)``, the
        (N, L, 3E) projection from one matmul, which the fused attention op splits into
        heads itself (as views: no slice, reshape or transpose nodes recorded)."""
        H, hd, E = self.num_heads, self.head_dim, self.embed_dim
        W, b = self.in_proj_weight, self.in_proj_bias
        if packed:
            return F.linear(q_in, W, b), None, None
        heads = []
        for i, x in enumerate((q_in, k_in, v_in)):
            part = slice(i * E, (i + 1) * E)
            y = F.linear(x, W[part], None if b is None else b[part])
            heads.append(y.reshape(x.shape[0], x.shape[1], H, hd).swapaxes(1, 2))
        return heads[0], heads[1], heads[2]

    def _mask(self, attn_mask: Any, key_padding_mask: Any, N: int, L: int, S: int,
              dtype: np.dtype, batched: bool) -> Any:
        """Both masks as one additive mask broadcasting to (N, H, L, S), or None."""
        where_ = "MultiheadAttention"
        mask = None
        if attn_mask is not None:
            shape = np.shape(attn_mask.data if isinstance(attn_mask, Tensor) else attn_mask)
            H = self.num_heads
            heads = (N * H, L, S) if batched else (H, L, S)
            if shape not in ((L, S), heads):
                named = "(N * num_heads, L, S)" if batched else "(num_heads, L, S)"
                raise ShapeError(f"{where_}: attn_mask of shape {shape} does not fit: expected "
                                 f"(L, S) = {(L, S)} or {named} = {heads} (query length L, "
                                 "key length S)")
            mask = additive_mask(attn_mask, dtype, "ignore", where_)
            if len(shape) == 3:
                mask = mask.reshape(N, H, L, S)
        if key_padding_mask is not None:
            kpm = key_padding_mask
            shape = np.shape(kpm.data if isinstance(kpm, Tensor) else kpm)
            want = (N, S) if batched else (S,)
            if shape != want:
                raise ShapeError(f"{where_}: key_padding_mask of shape {shape} does not fit: "
                                 f"expected {'(N, S)' if batched else '(S,)'} = {want} (batch "
                                 "size N, key length S)")
            pad = additive_mask(key_padding_mask, dtype, "ignore", where_).reshape(N, 1, 1, S)
            mask = pad if mask is None else mask + pad
        if isinstance(mask, Tensor):
            return mask
        return mask if mask is None else np.ascontiguousarray(mask)

    def extra_repr(self) -> str:
        return (f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, "
                f"dropout={self.dropout}, batch_first={self.batch_first}")

