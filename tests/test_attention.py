"""The sequence-model layers: Embedding, LayerNorm, MultiheadAttention.

MultiheadAttention is checked against multi-head attention written out in numpy (the
formula of "Attention Is All You Need" with PyTorch's parameter layout and masks), its
gradients against finite differences, and, when ``torch`` is importable, against
PyTorch itself (tests/against_torch_attention.py, run by tests/test_against_torch.py).
"""
import math
import os
import sys

import numpy as np
import pytest

import microgd as mg

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

nn = mg.nn


# --------------------------------------------------------------------------- Embedding
def test_embedding_module_shapes_init_and_keys():
    mg.manual_seed(0)
    emb = nn.Embedding(200, 50)
    assert list(emb.state_dict()) == ["weight"] and emb.weight.shape == (200, 50)
    assert emb.weight.dtype == np.float32
    w = emb.weight.data
    assert abs(w.mean()) < 0.02 and abs(w.std() - 1) < 0.02  # N(0, 1), PyTorch's init
    idx = np.array([[3, 199], [0, 3]])
    np.testing.assert_array_equal(emb(idx).data, w[idx])
    np.testing.assert_array_equal(emb(mg.tensor(idx)).data, w[idx])


def test_embedding_padding_idx_starts_at_zero_and_stays():
    emb = nn.Embedding(5, 3, padding_idx=-1)
    assert emb.padding_idx == 4 and not emb.weight.data[4].any()
    (emb(np.array([4, 1, 4])) * np.arange(9.0).reshape(3, 3)).sum().backward()
    assert not emb.weight.grad[4].any() and emb.weight.grad[1].any()


@pytest.mark.parametrize("code, err, words", [
    ("emb(np.array([1.0, 2.0]))", TypeError, "Embedding: input must hold integer token "
                                             "indices, got dtype float64"),
    ("emb(mg.tensor([[1, 10]]))", IndexError, r"Embedding: index 10 is out of range for a "
                                              r"table of 10 embeddings \(valid indices 0..9\)"),
    ("emb(np.array([-2]))", IndexError, "Embedding: index -2 is out of range"),
    ("nn.Embedding(0, 3)", ValueError, "sizes must be positive"),
    ("nn.Embedding(4, 3, padding_idx=4)", ValueError, "padding_idx 4 is out of range"),
])
def test_embedding_module_errors(code, err, words):
    emb = nn.Embedding(10, 4)
    with pytest.raises(err, match=words):
        eval(code, {"emb": emb, "np": np, "mg": mg, "nn": nn})


# --------------------------------------------------------------------------- LayerNorm
def test_layernorm_parameters_and_keys():
    ln = nn.LayerNorm((3, 4))
    assert list(ln.state_dict()) == ["weight", "bias"]
    assert ln.weight.shape == (3, 4) and (ln.weight.data == 1).all() and not ln.bias.data.any()
    assert list(nn.LayerNorm(4, bias=False).state_dict()) == ["weight"]
    assert list(nn.LayerNorm(4, elementwise_affine=False).state_dict()) == []
    with pytest.raises(ValueError, match="normalized_shape must be positive"):
        nn.LayerNorm(0)


def test_layernorm_module_forward(rng):
    ln = nn.LayerNorm(6, eps=1e-3)
    ln.weight.data[...] = rng.standard_normal(6)
    ln.bias.data[...] = rng.standard_normal(6)
    x = rng.standard_normal((2, 3, 6)).astype(np.float32)
    mu, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    want = (x - mu) / np.sqrt(var + 1e-3) * ln.weight.data + ln.bias.data
    np.testing.assert_allclose(ln(x).data, want, rtol=1e-5, atol=1e-6)


def test_layernorm_module_at_1e4(rng):
    ln = nn.LayerNorm(32)
    x = mg.tensor((rng.standard_normal((4, 32)) * 1e4).astype(np.float32), requires_grad=True)
    y = ln(x)
    assert np.allclose(y.data.mean(-1), 0, atol=1e-5) and np.allclose(y.data.std(-1), 1, atol=1e-3)
    (y * rng.standard_normal((4, 32)).astype(np.float32)).sum().backward()
    assert np.isfinite(x.grad).all() and np.isfinite(ln.weight.grad).all()


# --------------------------------------------------------------------------- MHA reference
def mha_np(query, key, value, W, b, Wo, bo, H, add_mask=None):
    """Multi-head attention on (N, L, E) arrays in float64: project, split heads, attend,
    join heads, project; ``add_mask`` broadcasts to (N, H, L, S). Returns (out, weights)."""
    N, L, E = query.shape
    hd = E // H
    b = np.zeros(3 * E) if b is None else b
    proj = [x @ W[i * E:(i + 1) * E].T + b[i * E:(i + 1) * E] for i, x in
            enumerate((query, key, value))]
    q, k, v = (p.reshape(N, -1, H, hd).transpose(0, 2, 1, 3) for p in proj)
    s = q @ k.transpose(0, 1, 3, 2) / math.sqrt(hd)
    if add_mask is not None:
        s = s + add_mask
    m = s.max(-1, keepdims=True)
    dead = np.isneginf(m)
    e = np.exp(s - np.where(dead, 0, m))
    w = np.where(dead, 0, e / np.where(dead, 1, e.sum(-1, keepdims=True)))
    out = (w @ v).transpose(0, 2, 1, 3).reshape(N, L, E)
    return out @ Wo.T + (0 if bo is None else bo), w


def params(m):
    return (m.in_proj_weight.data.astype(np.float64),
            None if m.in_proj_bias is None else m.in_proj_bias.data.astype(np.float64),
            m.out_proj.weight.data.astype(np.float64),
            None if m.out_proj.bias is None else m.out_proj.bias.data.astype(np.float64))


def randomise_biases(m, rng):
    """PyTorch initialises the biases to 0, which would hide a bias bug."""
    for p in (m.in_proj_bias, m.out_proj.bias):
        if p is not None:
            p.data[...] = rng.standard_normal(p.shape)


# --------------------------------------------------------------------------- MHA
def test_mha_parameters_init_and_keys():
    mg.manual_seed(0)
    m = nn.MultiheadAttention(64, 4)
    assert list(m.state_dict()) == ["in_proj_weight", "in_proj_bias", "out_proj.weight",
                                    "out_proj.bias"]
    assert m.in_proj_weight.shape == (192, 64) and m.in_proj_bias.shape == (192,)
    assert m.out_proj.weight.shape == (64, 64)
    assert not m.in_proj_bias.data.any() and not m.out_proj.bias.data.any()
    bound = math.sqrt(6 / (64 + 192))  # Xavier-uniform over the whole (3E, E) matrix
    assert np.abs(m.in_proj_weight.data).max() <= bound
    assert np.abs(m.in_proj_weight.data).max() > 0.95 * bound
    assert np.abs(m.out_proj.weight.data).max() <= 1 / 8  # Linear's default, 1/sqrt(64)
    assert list(nn.MultiheadAttention(8, 2, bias=False).state_dict()) == ["in_proj_weight",
                                                                         "out_proj.weight"]


CASES = {  # name: (self-attention?, keyword arguments to build the masks from, batch_first)
    "self": (True, {}, True),
    "self, sequence first": (True, {}, False),
    "cross": (False, {}, True),
    "bool attn_mask": (True, {"attn_mask": "bool"}, True),
    "float attn_mask": (False, {"attn_mask": "float"}, False),
    "per-head attn_mask": (True, {"attn_mask": "heads"}, True),
    "key_padding_mask": (False, {"key_padding_mask": "bool"}, True),
    "both masks": (True, {"attn_mask": "float", "key_padding_mask": "float"}, False),
}


def build_case(rng, self_attn, masks, N=2, L=4, S=5, E=6, H=2):
    """Inputs (N, L, E)-first arrays, the keyword masks, and the reference's additive mask."""
    S = L if self_attn else S
    x = rng.standard_normal((N, L, E))
    kv = x if self_attn else rng.standard_normal((N, S, E))
    kwargs, add = {}, np.zeros((N, H, L, S))
    if masks.get("attn_mask") == "bool":
        blocked = rng.random((L, S)) > 0.6
        blocked[:, 0] = False
        kwargs["attn_mask"], add = blocked, add + np.where(blocked, -np.inf, 0)
    elif masks.get("attn_mask") == "float":
        m = rng.standard_normal((L, S))
        kwargs["attn_mask"], add = m, add + m
    elif masks.get("attn_mask") == "heads":
        m = rng.standard_normal((N * H, L, S))
        kwargs["attn_mask"], add = m, add + m.reshape(N, H, L, S)
    if masks.get("key_padding_mask") == "bool":
        pad = np.zeros((N, S), bool)
        pad[0, -2:] = True
        kwargs["key_padding_mask"] = pad
        add = add + np.where(pad, -np.inf, 0)[:, None, None, :]
    elif masks.get("key_padding_mask") == "float":
        pad = rng.standard_normal((N, S))
        kwargs["key_padding_mask"] = pad
        add = add + pad[:, None, None, :]
    return x, kv, kwargs, add


@pytest.mark.parametrize("case", sorted(CASES))
def test_mha_matches_the_reference(rng, case):
    mg.set_default_dtype(np.float64)
    self_attn, masks, batch_first = CASES[case]
    m = nn.MultiheadAttention(6, 2, batch_first=batch_first)
    randomise_biases(m, rng)
    x, kv, kwargs, add = build_case(rng, self_attn, masks)
    want, want_w = mha_np(x, kv, kv, *params(m), 2, add)
    first = (lambda a: a) if batch_first else (lambda a: np.swapaxes(a, 0, 1))
    xt = mg.tensor(first(x))
    kvt = xt if self_attn else mg.tensor(first(kv))
    out, w = m(xt, kvt, kvt, **kwargs)
    np.testing.assert_allclose(out.data, first(want), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(w.data, want_w.mean(axis=1), rtol=1e-12, atol=1e-12)
    _, w_heads = m(xt, kvt, kvt, average_attn_weights=False, **kwargs)
    np.testing.assert_allclose(w_heads.data, want_w, rtol=1e-12, atol=1e-12)
    out2, none = m(xt, kvt, kvt, need_weights=False, **kwargs)
    assert none is None and np.array_equal(out2.data, out.data)


@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("case", ["self", "both masks", "key_padding_mask"])
def test_mha_gradients(rng, case, need_weights):
    """Every parameter and input, against finite differences, for a random upstream gradient;
    through the composite (need_weights) and the fused attention op (packed for
    self-attention)."""
    mg.set_default_dtype(np.float64)
    self_attn, masks, batch_first = CASES[case]
    m = nn.MultiheadAttention(4, 2, batch_first=True)
    randomise_biases(m, rng)
    x, kv, kwargs, _ = build_case(rng, self_attn, masks, N=2, L=3, S=4, E=4)
    ps = [m.in_proj_weight, m.in_proj_bias, m.out_proj.weight, m.out_proj.bias]

    def f(xt, kvt, *_):  # gradcheck perturbs the parameters in place
        src = xt if self_attn else kvt
        out, w = m(xt, src, src, need_weights=need_weights, **kwargs)
        return out * 2 + (w.sum(axis=-1, keepdims=True) if need_weights else 0)
    x_t, kv_t = mg.tensor(x, requires_grad=True), mg.tensor(kv, requires_grad=not self_attn)
    assert mg.gradcheck(f, [x_t, kv_t, *ps])
    # .grad after backward agrees with mg.grad of the same function
    g = rng.standard_normal((2, 3, 4))
    src = x_t if self_attn else kv_t
    out, _ = m(x_t, src, src, need_weights=False, **kwargs)
    want = mg.grad((out * g).sum(), ps, retain_graph=True)
    m.zero_grad()
    out.backward(g)
    for p, w in zip(ps, want):
        np.testing.assert_allclose(p.grad, w.data, rtol=1e-12)


def test_mha_second_derivative(rng):
    """d/dx of (d/dW of the output . u), through the fused, packed self-attention."""
    mg.set_default_dtype(np.float64)
    m = nn.MultiheadAttention(4, 2, batch_first=True)
    randomise_biases(m, rng)
    x = mg.tensor(rng.standard_normal((2, 3, 4)), requires_grad=True)
    u = rng.standard_normal((2, 3, 4))
    causal = np.triu(np.full((3, 3), -np.inf), 1)

    def grad_w(xt):
        out, _ = m(xt, xt, xt, need_weights=False, attn_mask=causal)
        (gw,) = mg.grad((out * out * u).sum(), [m.in_proj_weight], create_graph=True)
        return gw
    assert mg.gradcheck(grad_w, [x])


def test_mha_fused_and_composite_paths_agree_with_dropout(rng):
    m = nn.MultiheadAttention(6, 2, dropout=0.3, batch_first=True)
    x = mg.tensor(rng.standard_normal((2, 4, 6)).astype(np.float32))
    outs = []
    for need in (False, True):
        mg.manual_seed(3)  # the same dropout mask for both
        outs.append(m(x, x, x, need_weights=need)[0].data)
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-5, atol=1e-6)


def test_mha_unbatched_matches_batched(rng):
    m = nn.MultiheadAttention(6, 3)
    x = rng.standard_normal((4, 6)).astype(np.float32)
    mask = rng.standard_normal((3, 4, 4)).astype(np.float32)  # (num_heads, L, S) when unbatched
    out, w = m(x, x, x, attn_mask=mask, key_padding_mask=np.array([False, False, True, False]))
    ob, wb = m(x[:, None], x[:, None], x[:, None], attn_mask=mask,
               key_padding_mask=np.array([[False, False, True, False]]))
    assert out.shape == (4, 6) and w.shape == (4, 4)
    np.testing.assert_allclose(out.data, ob.data[:, 0], rtol=1e-6)
    np.testing.assert_allclose(w.data, wb.data[0], rtol=1e-6)


def test_mha_fully_padded_sequence_gives_zeros_not_nan(rng):
    m = nn.MultiheadAttention(4, 2, batch_first=True)
    randomise_biases(m, rng)
    x = mg.tensor(rng.standard_normal((2, 3, 4)).astype(np.float32), requires_grad=True)
    pad = np.array([[True, True, True], [False, True, False]])
    out, w = m(x, x, x, key_padding_mask=pad)
    assert np.isfinite(out.data).all() and np.isfinite(w.data).all()
    assert not w.data[0].any()  # nothing to attend to: weights 0 ...
    np.testing.assert_allclose(out.data[0], np.broadcast_to(m.out_proj.bias.data, (3, 4)),
                               rtol=1e-6)  # ... and the attention output is 0, then out_proj
    out.backward(rng.standard_normal(out.shape).astype(np.float32))
    assert np.isfinite(x.grad).all()


def test_mha_is_causal_hint_and_dropout(rng):
    m = nn.MultiheadAttention(4, 2, dropout=0.5, batch_first=True)
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    causal = np.triu(np.full((3, 3), -np.inf, np.float32), 1)
    m.eval()  # no dropout in eval mode
    a, wa = m(x, x, x, attn_mask=causal, is_causal=True)
    b, _ = m(x, x, x, attn_mask=np.triu(np.ones((3, 3), bool), 1))  # bool: True = blocked
    np.testing.assert_allclose(a.data, b.data, rtol=1e-6)
    assert not np.triu(wa.data[0], 1).any()
    _, heads = m(x, x, x, attn_mask=causal, average_attn_weights=False)
    m.train()
    mg.manual_seed(1)
    c, dropped = m(x, x, x, attn_mask=causal, average_attn_weights=False)
    assert not np.allclose(c.data, a.data)  # dropout acts in training mode
    kept = dropped.data != 0
    assert 0 < kept.sum() < (heads.data != 0).sum()  # some weights dropped, the rest ...
    np.testing.assert_allclose(dropped.data[kept], heads.data[kept] * 2, rtol=1e-6)  # ... / (1-p)


@pytest.mark.parametrize("code, err, words", [
    ("nn.MultiheadAttention(10, 3)", ValueError, "MultiheadAttention: embed_dim 10 must be "
                                                 "divisible by num_heads 3"),
    ("m(x, x, x, attn_mask=np.zeros((3, 5), bool))", mg.ShapeError,
     r"MultiheadAttention: attn_mask of shape \(3, 5\) does not fit: expected \(L, S\) = "
     r"\(4, 4\) or \(N \* num_heads, L, S\) = \(4, 4, 4\)"),
    ("m(x, x, x, key_padding_mask=np.zeros((4, 2), bool))", mg.ShapeError,
     r"key_padding_mask of shape \(4, 2\) does not fit: expected \(N, S\) = \(2, 4\)"),
    ("m(x, x, x, is_causal=True)", ValueError, "attn_mask must be given"),
    ("m(x[..., :4], x, x)", mg.ShapeError, "expected query, key and value with 8 features"),
    ("m(x, x[:, :, 0], x)", mg.ShapeError, "all be 3-D"),
    ("m(x, x[:1], x[:1])", mg.ShapeError, "different batch sizes"),
    ("m(x, x, x[:, :3])", mg.ShapeError, "same batch and length"),
    ("m(x, x, x, attn_mask=np.zeros((4, 4), int))", TypeError, "bool or floating point"),
    ("nn.MultiheadAttention(8, 2, dropout=1.0)", ValueError, "dropout must be in"),
])
def test_mha_errors(code, err, words):
    m = nn.MultiheadAttention(8, 2, batch_first=True)
    x = mg.tensor(np.ones((2, 4, 8), np.float32))
    with pytest.raises(err, match=words):
        eval(code, {"m": m, "x": x, "np": np, "mg": mg, "nn": nn})
