"""Linear algebra: ``matmul`` (numpy semantics: 1-D, 2-D and batched N-D operands) and
``einsum``."""
from __future__ import annotations

from typing import Any

import numpy as np

from .core import Op, ShapeError, common_dtype, lift, pair


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


# =========================================================================== einsum
_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


class Einsum(Op):
    """``np.einsum`` with explicit subscripts (``einsum`` below writes them out).

    The gradient of operand i is again an einsum: the upstream gradient (subscripts of the
    output) times every other operand, summed down to operand i's subscripts. Two cases
    need a helper operand, both constants: a letter only operand i has (summed away in the
    forward pass) comes back as a ones vector, and a letter repeated in operand i (a
    diagonal, as in ``"ii->"``) is written with a fresh letter tied to it by an identity
    matrix.
    """

    name = "einsum"

    @staticmethod
    def forward(*arrays, inputs, output):
        spec = ",".join(inputs) + "->" + output
        return np.einsum(spec, *arrays, optimize=len(arrays) > 2)

    @staticmethod
    def backward(g, out, needs, *operands, inputs, output):
        sizes: dict = {}  # each letter's size (numpy broadcasts a size of 1 against n)
        for sub, op in zip(inputs, operands):
            for c, n in zip(sub, op.shape):
                sizes[c] = max(sizes.get(c, 1), n)
        unused = iter(c for c in _LETTERS if c not in sizes)
        grads: list[Any] = []
        for i, (sub, need) in enumerate(zip(inputs, needs)):
            if not need:
                grads.append(None)
                continue
            subs = [output] + [s for j, s in enumerate(inputs) if j != i]
            args = [g] + [op for j, op in enumerate(operands) if j != i]
            known = set("".join(subs))
            target = ""
            for c in sub:
                if c not in known:  # summed away inside operand i alone: broadcast back
                    subs.append(c)
                    args.append(np.ones(sizes[c], dtype=g.dtype))
                    known.add(c)
                if c in target:  # a repeated letter: a diagonal
                    fresh = next(unused)
                    subs.append(c + fresh)
                    args.append(np.eye(sizes[c], dtype=g.dtype))
                    c = fresh
                target += c
            grads.append(_einsum(subs, target, args))
        return grads

    @classmethod
    def explain(cls, exc, shapes, ctx):
        spec = ",".join(ctx["inputs"]) + "->" + ctx["output"]
        return ShapeError(f"einsum: operands of shapes {shapes} do not fit {spec!r}: {exc}")


def _einsum(subs: list, target: str, args: list) -> Any:
    if any(hasattr(a, "_make") for a in args):
        return einsum(",".join(subs) + "->" + target, *args)
    return np.einsum(",".join(subs) + "->" + target, *args, optimize=len(args) > 2)


def einsum(subscripts: str, *operands: Any) -> Any:
    """Einstein summation, as ``np.einsum``/``torch.einsum``: ``"ij,jk->ik"`` is a matmul,
    ``"bij->bji"`` a transpose, ``"ii->"`` a trace; ``...`` stands for leading axes."""
    if not isinstance(subscripts, str):
        raise TypeError(f"einsum: subscripts must be a string such as 'ij,jk->ik', got "
                        f"{type(subscripts).__name__}")
    if not operands:
        raise ValueError("einsum: needs at least one operand")
    like = next((t for t in operands if hasattr(t, "_make")), None)
    tensors = [lift(t, like, "einsum") for t in operands]
    common = common_dtype(*[t.dtype for t in tensors])
    tensors = [t if t.dtype == common else t.astype(common) for t in tensors]
    inputs, output = _parse(subscripts.replace(" ", ""), [t.ndim for t in tensors])
    seen: dict = {}  # letter -> (size, operand index); sizes must agree (or be 1)
    for i, (sub, t) in enumerate(zip(inputs, tensors)):
        if len(sub) != t.ndim:
            raise ShapeError(f"einsum: {subscripts!r} gives an operand {len(sub)} subscripts "
                             f"but it has shape {t.shape}")
        for c, n in zip(sub, t.shape):
            m, j = seen.setdefault(c, (n, i))
            if n != m and 1 not in (n, m):
                raise ShapeError(f"einsum: {subscripts!r}: subscript {c!r} has size {m} in "
                                 f"operand {j} (shape {tensors[j].shape}) but {n} in operand "
                                 f"{i} (shape {t.shape})")
            if m == 1:
                seen[c] = (n, i)
    return Einsum.apply(*tensors, inputs=tuple(inputs), output=output)


def _parse(spec: str, ndims: list) -> tuple[list, str]:
    """Explicit subscripts, ``...`` written out as letters (right-aligned, so operands with
    fewer leading axes broadcast), the output implicit if no ``->`` (its letters appearing
    once, in alphabetical order, as numpy does)."""
    lhs, arrow, out = spec.partition("->")
    parts = lhs.split(",")
    if len(parts) != len(ndims):
        raise ValueError(f"einsum: {spec!r} names {len(parts)} operands, got {len(ndims)}")
    bad = set(spec) - set(_LETTERS) - set(",->.")
    if bad:
        raise ValueError(f"einsum: {spec!r} has characters that are not letters: {sorted(bad)}")
    free = [c for c in _LETTERS if c not in spec]
    widest = max((n - len(p.replace("...", "")) for p, n in zip(parts, ndims) if "..." in p),
                 default=0)
    if widest < 0:
        raise ShapeError(f"einsum: {spec!r} has more subscripts than dimensions "
                         f"(operand ndims {ndims})")
    dots = "".join(free[:widest])
    inputs = []
    for p, n in zip(parts, ndims):
        if "..." in p:
            k = n - len(p.replace("...", ""))
            p = p.replace("...", dots[widest - k:] if k > 0 else "")
        inputs.append(p)
    if arrow:
        output = out.replace("...", dots)
    else:
        counts = {c: "".join(inputs).count(c) for c in "".join(inputs)}
        output = dots + "".join(sorted(c for c, k in counts.items() if k == 1 and c not in dots))
    missing = set(output) - set("".join(inputs))
    if missing or len(set(output)) != len(output):
        raise ValueError(f"einsum: output subscripts of {spec!r} must be distinct letters that "
                         "appear among the inputs")
    return inputs, output
