"""The sequence-model normalization and attention ops: layer_norm and
scaled_dot_product_attention.

Oracles: the textbook formulas for layer norm and attention written out in numpy, and
central finite differences in float64 (``mg.gradcheck`` projects the output on a random
upstream gradient) for both, including second derivatives through each. The index ops
(gather, take_along_axis, masked_fill, tril/triu, embedding) are checked in
tests/test_sequence_ops.py; the float64 tensor helper ``t64`` both files use lives in
tests/sequence_helpers.py.
"""
import warnings

import numpy as np
import pytest
from sequence_helpers import t64

import microgd as mg
from microgd.state import generator

F = mg.nn.F

# --------------------------------------------------------------------------- layer_norm
def layer_norm_np(x, k, w=None, b=None, eps=1e-5):
    axes = tuple(range(x.ndim - k, x.ndim))
    mu = x.mean(axis=axes, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=axes, keepdims=True)
    y = (x - mu) / np.sqrt(var + eps)
    return y * (1 if w is None else w) + (0 if b is None else b)


@pytest.mark.parametrize("shape, normalized", [((4, 6), 6), ((2, 3, 4), (3, 4)), ((5,), [5])])
def test_layer_norm_values_and_gradients(rng, shape, normalized):
    x = rng.standard_normal(shape) * 3 + 1
    k = 1 if isinstance(normalized, int) else len(normalized)
    w, b = rng.standard_normal(shape[-k:]), rng.standard_normal(shape[-k:])
    y = F.layer_norm(t64(x), normalized, t64(w), t64(b))
    np.testing.assert_allclose(y.data, layer_norm_np(x, k, w, b), rtol=1e-12, atol=1e-12)
    assert mg.gradcheck(lambda a, c, d: F.layer_norm(a, normalized, c, d, eps=1e-3),
                        [t64(x), t64(w), t64(b)])
    assert mg.gradcheck(lambda a: F.layer_norm(a, normalized), [t64(x)])


def test_layer_norm_weight_or_bias_alone(rng):
    x, w = rng.standard_normal((3, 5)), rng.standard_normal(5)
    np.testing.assert_allclose(F.layer_norm(t64(x), 5, t64(w)).data, layer_norm_np(x, 1, w),
                               rtol=1e-12)
    np.testing.assert_allclose(F.layer_norm(t64(x), 5, None, t64(w)).data,
                               layer_norm_np(x, 1, None, w), rtol=1e-12)
    assert mg.gradcheck(lambda a, c: F.layer_norm(a, 5, c), [t64(x), t64(w)])
    assert mg.gradcheck(lambda a, c: F.layer_norm(a, 5, None, c), [t64(x), t64(w)])


def test_layer_norm_over_an_empty_axis_is_empty_and_quiet():
    """No features to normalise: an empty result and gradient, no warning, no error."""
    x = mg.tensor(np.zeros((3, 0)), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = F.layer_norm(x, (0,))
        y.backward(np.zeros((3, 0)))
    assert y.shape == (3, 0) and x.grad.shape == (3, 0)


def test_layer_norm_second_derivative(rng):
    x, w = rng.standard_normal((3, 5)), rng.standard_normal(5)

    def grad_x(a, c):
        (g,) = mg.grad((F.layer_norm(a, 5, c) ** 3).sum(), [a], create_graph=True)
        return g
    assert mg.gradcheck(grad_x, [t64(x), t64(w)])


def test_layer_norm_is_stable_at_1e4_in_float32(rng):
    x64 = rng.standard_normal((8, 16)) * 1e4 + 5e4
    x = mg.tensor(x64.astype(np.float32), requires_grad=True)
    y = F.layer_norm(x, 16)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.data, layer_norm_np(x64.astype(np.float32).astype(np.float64),
                                                     1), atol=1e-4)
    y.backward(rng.standard_normal((8, 16)).astype(np.float32))
    assert np.isfinite(x.grad).all() and np.abs(x.grad).max() < 1e-2  # scaled by 1/sigma


@pytest.mark.parametrize("code, words", [
    ("F.layer_norm(x, 5)", r"normalized_shape \(5,\) must match the last 1 dimensions of the "
                           r"input, got input shape \(3, 4\)"),
    ("F.layer_norm(x, (2, 3, 4))", "must match the last 3 dimensions"),
    ("F.layer_norm(x, 4, mg.tensor(np.ones(3)))", r"weight of shape \(3,\) does not match "),
    ("F.layer_norm(x, 4, None, mg.tensor(np.ones((1, 4))))", "bias of shape"),
])
def test_layer_norm_errors(code, words):
    with pytest.raises(mg.ShapeError, match=words):
        eval(code, {"F": F, "np": np, "mg": mg, "x": mg.tensor(np.ones((3, 4)))})


# --------------------------------------------------------------------------- attention
def attention_np(q, k, v, add_mask=None, scale=None):
    """softmax(q k^T * scale + mask) v, written out; rows with every key masked give 0."""
    scale = 1 / np.sqrt(q.shape[-1]) if scale is None else scale
    s = q @ np.swapaxes(k, -1, -2) * scale
    if add_mask is not None:
        s = s + add_mask
    m = np.max(s, axis=-1, keepdims=True)
    dead = np.isneginf(m)
    e = np.exp(s - np.where(dead, 0, m))
    w = np.where(dead, 0, e / np.where(dead, 1, e.sum(-1, keepdims=True)))
    return w @ v


def qkv(rng, batch=(2, 3), L=4, S=5, E=3, Ev=2):
    return (rng.standard_normal(batch + (L, E)), rng.standard_normal(batch + (S, E)),
            rng.standard_normal(batch + (S, Ev)))


def sdpa_case(rng, kind):
    """(inputs, keyword arguments, the additive mask the reference uses)."""
    q, k, v = qkv(rng)
    L, S = 4, 5
    if kind == "plain":
        return (q, k, v), {}, None
    if kind == "scale":
        return (q, k, v), {"scale": 0.37}, None
    if kind == "causal":
        return (q, k, v), {"is_causal": True}, np.where(np.tri(L, S, dtype=bool), 0, -np.inf)
    if kind == "bool":
        allowed = rng.random((3, L, S)) > 0.4
        allowed[..., 0] = True
        return (q, k, v), {"attn_mask": allowed}, np.where(allowed, 0, -np.inf)
    if kind == "float":
        m = rng.standard_normal((L, S))
        m[1, 2] = -np.inf
        return (q, k, v), {"attn_mask": m}, m
    raise ValueError(kind)


KINDS = ["plain", "scale", "causal", "bool", "float"]


@pytest.mark.parametrize("kind", KINDS)
def test_sdpa_matches_the_formula(rng, kind):
    arrays, kw, add = sdpa_case(rng, kind)
    out = F.scaled_dot_product_attention(*[t64(a, False) for a in arrays], **kw)
    want = attention_np(*arrays, add, kw.get("scale"))
    np.testing.assert_allclose(out.data, want, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("kind", KINDS)
def test_sdpa_gradients(rng, kind):
    arrays, kw, _ = sdpa_case(rng, kind)
    assert mg.gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, **kw),
                        [t64(a) for a in arrays])


def test_sdpa_gradient_flows_into_a_float_mask(rng):
    q, k, v = qkv(rng, batch=(2,))
    m = rng.standard_normal((4, 5))
    assert mg.gradcheck(lambda mask: F.scaled_dot_product_attention(
        t64(q, False), t64(k, False), t64(v, False), attn_mask=mask), [t64(m)])


def test_sdpa_second_derivative(rng):
    """d/dq of (d/dk of attention . u): the backward pass, recorded and differentiated."""
    q, k, v = qkv(rng, batch=(2,), L=3, S=4)
    u = rng.standard_normal((2, 3, 2))
    mask = np.tri(3, 4, 1, dtype=bool)

    def grad_k(qt, kt, vt):
        out = F.scaled_dot_product_attention(qt, kt, vt, attn_mask=mask, scale=0.8)
        (gk,) = mg.grad((out * u).sum(), [kt], create_graph=True)
        return gk
    assert mg.gradcheck(grad_k, [t64(q), t64(k), t64(v)])


def test_sdpa_fully_masked_row_gives_zeros_not_nan(rng):
    """PyTorch 2.x's scaled_dot_product_attention: a query that may attend to nothing gets
    output 0 and gradient 0 (bool mask all False, or a float mask all -inf)."""
    q, k, v = qkv(rng, batch=(2,))
    allowed = rng.random((4, 5)) > 0.3
    allowed[2] = False
    floats = np.where(allowed, 0.0, -np.inf)
    for mask in (allowed, floats):
        ts = [t64(a) for a in (q, k, v)]
        out = F.scaled_dot_product_attention(*ts, attn_mask=mask)
        assert np.isfinite(out.data).all() and not out.data[:, 2].any()
        np.testing.assert_allclose(out.data, attention_np(q, k, v, floats), atol=1e-13)
        out.backward(rng.standard_normal(out.shape))
        assert all(np.isfinite(t.grad).all() for t in ts)
        assert not ts[0].grad[:, 2].any()  # the dead query's gradient is 0
        assert mg.gradcheck(lambda a, b, c, m=mask: F.scaled_dot_product_attention(
            a, b, c, attn_mask=m), [t64(a) for a in (q, k, v)])


def test_sdpa_is_stable_at_1e4_in_float32(rng):
    q, k, v = (a.astype(np.float32) for a in qkv(rng))
    q, k = q * 1e4, k * 1e4  # scores around 1e8: softmax saturates, never overflows
    ts = [mg.tensor(a, requires_grad=True) for a in (q, k, v)]
    out = F.scaled_dot_product_attention(*ts, is_causal=True)
    assert out.dtype == np.float32 and np.isfinite(out.data).all()
    ref = attention_np(*(a.astype(np.float64) for a in (q, k, v)),
                       np.where(np.tri(4, 5, dtype=bool), 0, -np.inf))
    np.testing.assert_allclose(out.data, ref, atol=1e-4)
    out.backward(rng.standard_normal(out.shape).astype(np.float32))
    assert all(np.isfinite(t.grad).all() for t in ts)


@pytest.mark.parametrize("spread, mask, overall", [
    (1, "causal", True), (1, None, True), (1, "bool", True),
    (40, "causal", False), (1, "bias", False)])
def test_sdpa_softmax_shift_overall_or_per_row(rng, spread, mask, overall):
    """softmax subtracts the scores' overall max when they lie within 80 of one another
    and the mask only blocks, each row's own max otherwise: both give the formula."""
    from microgd.ops.attention import _shift
    q, k, v = (rng.standard_normal((2, 3, 6, 4)).astype(np.float32) for _ in range(3))
    q = q * np.float32(spread)
    add = {None: None, "causal": np.where(np.tri(6, dtype=bool), 0, -np.inf),
           "bool": np.where(rng.random((6, 6)) > 0.5, -np.inf, 0),
           "bias": np.where(np.tri(6, dtype=bool), rng.standard_normal((6, 6)), -np.inf)}[mask]
    if add is not None:
        add[:, 0] = 0  # every query sees the first key
        add = add.astype(np.float32)
    assert (_shift(q @ np.swapaxes(k, -1, -2) / 2, add) is not None) == overall
    ts = [mg.tensor(a, requires_grad=True) for a in (q, k, v)]
    out = F.scaled_dot_product_attention(*ts, attn_mask=add)
    assert out.dtype == np.float32
    want = attention_np(*(a.astype(np.float64) for a in (q, k, v)), add)
    np.testing.assert_allclose(out.data, want, rtol=1e-5, atol=1e-5)
    g = rng.standard_normal(out.shape).astype(np.float32)
    out.backward(g)
    ref = [mg.tensor(a.astype(np.float64), requires_grad=True) for a in (q, k, v)]
    F.scaled_dot_product_attention(*ref, attn_mask=add).backward(g.astype(np.float64))
    for t, r in zip(ts, ref):
        np.testing.assert_allclose(t.grad, r.grad, rtol=1e-4, atol=1e-4 * spread)


def test_sdpa_dropout_drops_weights(rng):
    q, k, v = qkv(rng, batch=(2,))
    mg.manual_seed(5)
    out = F.scaled_dot_product_attention(t64(q), t64(k), t64(v), dropout_p=0.5)
    mg.manual_seed(5)
    keep = generator().random((2, 4, 5)) >= 0.5
    s = q @ np.swapaxes(k, -1, -2) / np.sqrt(3)
    w = np.exp(s - s.max(-1, keepdims=True))
    w /= w.sum(-1, keepdims=True)
    np.testing.assert_allclose(out.data, (w * keep / 0.5) @ v, rtol=1e-12)

    def dropped(a, b, c):  # the same mask on every call: a fixed function to differentiate
        mg.manual_seed(5)
        return F.scaled_dot_product_attention(a, b, c, dropout_p=0.5)
    assert mg.gradcheck(dropped, [t64(a) for a in (q, k, v)])


def test_sdpa_broadcasts_batch_dimensions(rng):
    q, k, v = rng.standard_normal((2, 3, 4, 3)), rng.standard_normal((1, 5, 3)), \
        rng.standard_normal((3, 5, 2))
    out = F.scaled_dot_product_attention(t64(q, False), t64(k, False), t64(v, False))
    np.testing.assert_allclose(out.data, attention_np(q, k, v), rtol=1e-12)


@pytest.mark.parametrize("code, err, words", [
    ("sdpa(q, k, v, attn_mask=np.ones((3, 5), bool))", mg.ShapeError,
     r"scaled_dot_product_attention: attn_mask of shape \(3, 5\) does not broadcast to "
     r"\(batch..., L, S\) = \(2, 4, 6\)"),
    ("sdpa(q, k, v, attn_mask=np.ones((4, 6), bool), is_causal=True)", ValueError,
     "either attn_mask or is_causal"),
    ("sdpa(q, k[..., :2], v)", mg.ShapeError, "query and key need the same last dimension"),
    ("sdpa(q, k, v[:, :5])", mg.ShapeError, "key and value the same length"),
    ("sdpa(q[0, 0], k, v)", mg.ShapeError, "query must have at least 2 dimensions"),
    ("sdpa(q, k, v, dropout_p=1.0)", ValueError, r"dropout_p must be in \[0, 1\)"),
    ("sdpa(q, k, v, attn_mask=np.ones((4, 6), int))", TypeError, "mask must be bool or floating"),
    ("sdpa(mg.tensor(np.ones((2, 2), int)), k, v)", TypeError, "query must be floating point"),
    ("sdpa(q, k, v.astype(np.float32))", TypeError, "one dtype"),
    ("sdpa(q, k, v, scale='big')", TypeError, "scale must be a finite number"),
])
def test_sdpa_errors(code, err, words):
    q, k, v = mg.tensor(np.ones((2, 4, 3))), mg.tensor(np.ones((2, 6, 3))), \
        mg.tensor(np.ones((2, 6, 5)))
    with pytest.raises(err, match=words):
        eval(code, {"sdpa": F.scaled_dot_product_attention, "np": np, "mg": mg,
                    "q": q, "k": k, "v": v})
