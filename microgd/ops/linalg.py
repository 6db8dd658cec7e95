"""Linear algebra: ``matmul`` (numpy semantics: 1-D, 2-D and batched N-D operands)."""
from __future__ import annotations

from typing import Any

import numpy as np

from .core import Op, ShapeError, pair


def _swap_last(x: Any) -> Any:
    return x.swapaxes(-1, -2)


class MatMul(Op):
    """numpy's matmul: 1-D operands are vectors, N-D ones stacks of matrices whose batch
    dimensions broadcast."""

    name = "matmul"
    forward = staticmethod(np.matmul)

    @staticmethod
    def backward(g, out, needs, a, b):
        if a.ndim == 1 and b.ndim == 1:  # dot product: out is a scalar
            return (g * b if needs[0] else None), (g * a if needs[1] else None)
        if a.ndim == 1:  # (k,) @ (..., k, n): a acts as the row (1, k)
            g = g.reshape(g.shape[:-1] + (1, g.shape[-1]))
            ga = (g @ _swap_last(b)).reshape(g.shape[:-2] + (a.shape[0],)) if needs[0] else None
            gb = a.reshape((a.shape[0], 1)) @ g if needs[1] else None
            return ga, gb
        if b.ndim == 1:  # (..., m, k) @ (k,): b acts as the column (k, 1)
            g = g.reshape(g.shape + (1,))
            ga = g @ b.reshape((1, b.shape[0])) if needs[0] else None
            gb = (_swap_last(a) @ g).reshape(g.shape[:-2] + (b.shape[0],)) if needs[1] else None
            return ga, gb
        # C = A B  =>  dA = G B^T, dB = A^T G (batch dims are summed by unbroadcast)
        ga = g @ _swap_last(b) if needs[0] else None
        gb = _swap_last(a) @ g if needs[1] else None
        return ga, gb

    @classmethod
    def explain(cls, exc, shapes, ctx):
        sa, sb = shapes
        if not sa or not sb:
            return ShapeError(
                f"matmul: {sa} @ {sb}: both operands need at least one dimension "
                "(use * to multiply by a scalar)"
            )
        ka, kb = sa[-1], (sb[-2] if len(sb) > 1 else sb[0])
        if ka != kb:
            return ShapeError(f"matmul: {sa} @ {sb}: inner dimensions {ka} and {kb} differ")
        return ShapeError(
            f"matmul: {sa} @ {sb}: batch dimensions {sa[:-2]} and {sb[:-2]} cannot be "
            "broadcast together"
        )


def matmul(a: Any, b: Any) -> Any:
    return MatMul.apply(*pair(a, b, "matmul"))
