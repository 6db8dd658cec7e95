"""microgd's sequence layers against PyTorch's, for maintainers who have ``torch``.

    python tests/against_torch_attention.py    # one line per check, exits 1 on a mismatch

tests/test_attention.py runs ``mha_checks`` too when torch is importable. In float64: a
torch ``MultiheadAttention``'s state dict loads into ours, and outputs, attention weights
and the gradients of every parameter and input agree for self- and cross-attention, both
layouts, unbatched inputs and every kind of mask; ``scaled_dot_product_attention``,
``layer_norm``, ``embedding``, ``gather`` and ``tril`` agree with their torch namesakes.
"""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402

import microgd as mg  # noqa: E402


def _diff(ours, theirs) -> float:
    a, b = np.asarray(ours.data), theirs.detach().numpy()
    assert a.shape == b.shape, (a.shape, b.shape)
    both_nan = np.isnan(a) & np.isnan(b)
    return float(np.abs(np.where(both_nan, 0, a - b)).max()) if a.size else 0.0


def _pair(a: np.ndarray):
    return (mg.tensor(a, requires_grad=a.dtype.kind == "f"),
            torch.tensor(a, requires_grad=a.dtype.kind == "f"))


def _mha_case(name, E, H, batch_first, inputs, kw, rng, need_weights=True, average=True):
    """One call of both layers on the same inputs; (name, largest difference)."""
    torch.manual_seed(0)
    theirs = torch.nn.MultiheadAttention(E, H, batch_first=batch_first, dtype=torch.float64)
    with torch.no_grad():  # non-zero biases, so a bias bug shows
        theirs.in_proj_bias.normal_()
        theirs.out_proj.bias.normal_()
    ours = mg.nn.MultiheadAttention(E, H, batch_first=batch_first)
    ours.load_state_dict({k: v.detach().numpy().copy() for k, v in theirs.state_dict().items()})
    pairs = {}
    for a in inputs:  # the same array object -> the same tensor (self-attention)
        if id(a) not in pairs:
            pairs[id(a)] = _pair(a)
    m_in = [pairs[id(a)][0] for a in inputs]
    t_in = [pairs[id(a)][1] for a in inputs]
    t_kw = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
    o, w = ours(*m_in, need_weights=need_weights, average_attn_weights=average, **kw)
    to, tw = theirs(*t_in, need_weights=need_weights, average_attn_weights=average, **t_kw)
    err = _diff(o, to)
    if need_weights:
        err = max(err, _diff(w, tw))
    g = rng.standard_normal(o.shape)
    loss = (o * g).sum() + ((w * w).sum() if need_weights else 0)
    loss.backward()
    ((to * torch.tensor(g)).sum() + ((tw * tw).sum() if need_weights else 0)).backward()
    named = dict(theirs.named_parameters())
    for k, p in ours.named_parameters():
        err = max(err, float(np.abs(p.grad - named[k].grad.numpy()).max()))
    for m, t in pairs.values():
        err = max(err, float(np.abs(m.grad - t.grad.numpy()).max()))
    return name, err


def mha_checks() -> list[tuple[str, float]]:
    torch.set_default_dtype(torch.float64)
    mg.set_default_dtype(np.float64)
    rng = np.random.default_rng(0)
    N, L, S, E, H = 3, 5, 6, 8, 2
    x, y = rng.standard_normal((N, L, E)), rng.standard_normal((N, S, E))
    xs, ys = x.transpose(1, 0, 2).copy(), y.transpose(1, 0, 2).copy()
    pad = rng.random((N, S)) > 0.6
    pad[:, 0] = False
    blocked = rng.random((L, S)) > 0.6
    blocked[:, 0] = False
    causal = np.triu(np.full((L, L), -np.inf), 1)
    out = [
        _mha_case("MHA self-attention, batch_first", E, H, True, [x, x, x], {}, rng),
        _mha_case("MHA self-attention, (L, N, E)", E, H, False, [xs, xs, xs], {}, rng),
        _mha_case("MHA cross-attention", E, H, True, [x, y, y], {}, rng),
        _mha_case("MHA key_padding_mask (bool)", E, H, True, [x, y, y],
                  {"key_padding_mask": pad}, rng),
        _mha_case("MHA attn_mask (bool, True = blocked)", E, H, False, [xs, ys, ys],
                  {"attn_mask": blocked}, rng),
        _mha_case("MHA attn_mask (float)", E, H, True, [x, y, y],
                  {"attn_mask": rng.standard_normal((L, S))}, rng),
        _mha_case("MHA attn_mask (N * heads, L, S)", E, H, True, [x, y, y],
                  {"attn_mask": rng.standard_normal((N * H, L, S))}, rng),
        _mha_case("MHA causal float mask + is_causal", E, H, True, [x, x, x],
                  {"attn_mask": causal, "is_causal": True}, rng, need_weights=False),
        _mha_case("MHA weights per head", E, H, True, [x, y, y],
                  {"key_padding_mask": pad}, rng, average=False),
        _mha_case("MHA unbatched", E, H, False, [x[0], y[0], y[0]],
                  {"key_padding_mask": pad[0]}, rng),
    ]
    dead = pad.copy()
    dead[1] = True  # a sequence with every key padded: PyTorch's SDPA path gives 0
    out.append(_mha_case("MHA fully padded sequence (need_weights=False)", E, H, True,
                         [x, y, y], {"key_padding_mask": dead}, rng, need_weights=False))
    return out


def _op(name, ours, theirs, arrays, rng) -> tuple[str, float]:
    pairs = [_pair(a) for a in arrays]
    o, t = ours(*[p[0] for p in pairs]), theirs(*[p[1] for p in pairs])
    err = _diff(o, t)
    g = rng.standard_normal(o.shape)
    o.backward(g)
    t.backward(torch.tensor(g))
    for m, tt in pairs:
        if tt.grad is not None:
            err = max(err, float(np.abs(m.grad - tt.grad.numpy()).max()))
    return name, err


def op_checks() -> list[tuple[str, float]]:
    torch.set_default_dtype(torch.float64)
    mg.set_default_dtype(np.float64)
    rng = np.random.default_rng(1)
    F, TF = mg.nn.F, torch.nn.functional
    q, k, v = (rng.standard_normal((2, 3, 4, 5)) for _ in range(3))
    allowed = rng.random((4, 4)) > 0.5
    allowed[1] = False  # a query with nothing to see
    fmask = rng.standard_normal((4, 4))
    idx = rng.integers(0, 4, (3, 6))
    out = []
    for label, kw in (("", {}), ("is_causal", {"is_causal": True}), ("scale", {"scale": 0.3}),
                      ("bool mask, a row all False", {"attn_mask": allowed}),
                      ("float mask", {"attn_mask": fmask}),
                      ("-inf mask, a row all -inf", {"attn_mask": np.where(allowed, 0, -np.inf)})):
        t_kw = {a: torch.tensor(b) if isinstance(b, np.ndarray) else b for a, b in kw.items()}
        out.append(_op(f"scaled_dot_product_attention {label}",
                       lambda a, b, c, kw=kw: F.scaled_dot_product_attention(a, b, c, **kw),
                       lambda a, b, c, t_kw=t_kw: TF.scaled_dot_product_attention(a, b, c, **t_kw),
                       [q, k, v], rng))
    x, w, b = rng.standard_normal((3, 4, 6)), rng.standard_normal(6), rng.standard_normal(6)
    out.append(_op("layer_norm", lambda a, c, d: F.layer_norm(a, 6, c, d),
                   lambda a, c, d: TF.layer_norm(a, (6,), c, d), [x, w, b], rng))
    table = rng.standard_normal((4, 3))
    out.append(_op("embedding", lambda t: F.embedding(idx, t),
                   lambda t: TF.embedding(torch.tensor(idx), t), [table], rng))
    src = rng.standard_normal((4, 6))
    out.append(_op("gather (repeated indices)", lambda t: mg.gather(t, 0, idx),
                   lambda t: torch.gather(t, 0, torch.tensor(idx)), [src], rng))
    out.append(_op("tril(diagonal=-1), triu(diagonal=2)",
                   lambda t: mg.tril(t, -1) + mg.triu(t, 2) * 3,
                   lambda t: torch.tril(t, -1) + torch.triu(t, 2) * 3, [src], rng))
    mask = rng.random((4, 6)) > 0.5
    out.append(_op("masked_fill", lambda t: t.masked_fill(mask, -2.5),
                   lambda t: t.masked_fill(torch.tensor(mask), -2.5), [src], rng))
    return out


def main() -> int:
    failures = 0
    for name, err in op_checks() + mha_checks():
        ok = err < 1e-10
        failures += not ok
        print(f"{'ok ' if ok else 'MISMATCH'} {name:52s} max difference {err:.1e}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
