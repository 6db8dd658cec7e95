"""The sequence-model ops: gather, take_along_axis, masked_fill, tril/triu, embedding,
layer_norm, scaled_dot_product_attention.

Oracles: numpy written out by hand (loops for gather, the textbook formulas for layer norm
and attention), closed forms for the gradients of index ops (repeated indices add up), and
central finite differences in float64 (``mg.gradcheck`` projects the output on a random
upstream gradient) for every op, including a second derivative through attention.
"""
import numpy as np
import pytest

import microgd as mg
from microgd.state import generator

F = mg.nn.F


def t64(a, grad=True):
    return mg.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


# --------------------------------------------------------------------------- gather
def gather_loops(x, axis, index):
    out = np.empty(index.shape, x.dtype)
    for pos in np.ndindex(*index.shape):
        src = list(pos)
        src[axis] = index[pos]
        out[pos] = x[tuple(src)]
    return out


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_gather_matches_the_definition(rng, axis):
    x = rng.standard_normal((4, 5, 3))
    n = x.shape[axis]
    index = rng.integers(0, n, (3, 2, 3) if axis != 0 else (6, 5, 2))
    out = mg.gather(mg.tensor(x), axis, index)
    np.testing.assert_array_equal(out.data, gather_loops(x, axis % 3, index))
    np.testing.assert_array_equal(mg.tensor(x).gather(axis, mg.tensor(index)).data, out.data)


def test_gather_gradient_accumulates_repeated_indices(rng):
    x = t64(rng.standard_normal((3, 4)))
    index = np.array([[0, 0, 2, 0], [2, 2, 2, 1]])  # row 0 picked three times in column 0 ...
    g = rng.standard_normal(index.shape)
    mg.gather(x, 0, index).backward(g)
    want = np.zeros((3, 4))
    for (i, j), gij in np.ndenumerate(g):
        want[index[i, j], j] += gij
    np.testing.assert_allclose(x.grad, want, rtol=1e-14)
    assert mg.gradcheck(lambda a: mg.gather(a, 0, index) ** 2, [t64(x.data)])
    assert mg.gradcheck(lambda a: mg.gather(a, -1, np.array([[3, 3], [0, 3], [1, 1]])) ** 3,
                        [t64(x.data)])


def test_gather_0d():
    x = mg.tensor(np.float64(2.5), requires_grad=True)
    y = mg.gather(x, 0, np.array(0))
    assert y.shape == () and y.item() == 2.5
    y.backward(np.float64(3.0))
    assert x.grad == 3.0


@pytest.mark.parametrize("code, err, words", [
    ("mg.gather(x, 0, np.array([0, 1]))", mg.ShapeError, "index must have as many dimensions"),
    ("mg.gather(x, 0, np.zeros((2, 5), int))", mg.ShapeError, "larger than the input shape"),
    ("mg.gather(x, 1, np.array([[4]]))", IndexError, "index 4 is out of range for axis 1 of "
                                                     "size 4"),
    ("mg.gather(x, 1, np.array([[-1]]))", IndexError, "valid indices 0..3"),
    ("mg.gather(x, 0, np.zeros((1, 1)))", TypeError, "index must hold integers"),
    ("mg.gather(x, 2, np.zeros((1, 1), int))", mg.AxisError, "axis 2 is out of range"),
])
def test_gather_errors(code, err, words):
    x = mg.tensor(np.ones((3, 4)))
    with pytest.raises(err, match=words):
        eval(code, {"mg": mg, "np": np, "x": x})


# --------------------------------------------------------------------------- take_along_axis
@pytest.mark.parametrize("xshape, ishape, axis", [
    ((4, 5), (4, 3), 1), ((4, 5), (7, 5), 0), ((4, 5), (1, 6), 1), ((1, 5), (3, 2), 1),
    ((2, 3, 4), (2, 1, 4), 1),
])
def test_take_along_axis_matches_numpy(rng, xshape, ishape, axis):
    x = rng.standard_normal(xshape)
    idx = rng.integers(-xshape[axis], xshape[axis], ishape)  # negative indices count from the end
    out = mg.take_along_axis(t64(x), idx, axis)
    np.testing.assert_array_equal(out.data, np.take_along_axis(x, idx, axis))
    assert mg.gradcheck(lambda a: mg.take_along_axis(a, idx, axis) * 1.5, [t64(x)])


def test_take_along_axis_gradient_accumulates(rng):
    x = t64(rng.standard_normal((2, 3)))
    idx = np.array([[1, 1, 1, 0], [2, -1, 0, 0]])  # -1 and 2 are the same entry
    g = rng.standard_normal(idx.shape)
    mg.take_along_axis(x, idx, 1).backward(g)
    want = np.zeros((2, 3))
    for (i, j), gij in np.ndenumerate(g):
        want[i, idx[i, j]] += gij
    np.testing.assert_allclose(x.grad, want, rtol=1e-14)


def test_take_along_axis_none_flattens(rng):
    x = rng.standard_normal((2, 3))
    out = mg.take_along_axis(t64(x), np.array([5, 0, 5]), None)
    np.testing.assert_array_equal(out.data, np.take_along_axis(x, np.array([5, 0, 5]), None))


@pytest.mark.parametrize("code, err, words", [
    ("mg.take_along_axis(x, np.array([0]), 0)", mg.ShapeError, "as many dimensions"),
    ("mg.take_along_axis(x, np.zeros((2, 1), int), 1)", mg.ShapeError, "do not broadcast"),
    ("mg.take_along_axis(x, np.array([[4]]), 1)", IndexError, "valid indices -4..3"),
    ("mg.take_along_axis(x, np.zeros((1, 1), bool), 1)", TypeError, "integers"),
])
def test_take_along_axis_errors(code, err, words):
    x = mg.tensor(np.ones((3, 4)))
    with pytest.raises(err, match=words):
        eval(code, {"mg": mg, "np": np, "x": x})


# --------------------------------------------------------------------------- masked_fill
def test_masked_fill_values_and_gradients(rng):
    x = t64(rng.standard_normal((3, 4)))
    mask = rng.random((1, 4)) > 0.5
    mask[0, :2] = [True, False]
    y = x.masked_fill(mask, -7.0)
    np.testing.assert_array_equal(y.data, np.where(mask, -7.0, x.data))
    g = rng.standard_normal((3, 4))
    y.backward(g)
    np.testing.assert_array_equal(x.grad, np.where(mask, 0.0, g))  # filled: no dependence on x


def test_masked_fill_with_a_0d_tensor_value(rng):
    x = mg.tensor(rng.standard_normal((3, 4)).astype(np.float32), requires_grad=True)
    v = mg.tensor(np.float64(2.0), requires_grad=True)
    mask = rng.random((3, 4)) > 0.5
    y = mg.masked_fill(x, mg.tensor(mask), v)
    assert y.dtype == np.float32  # the input's dtype, as in PyTorch
    g = rng.standard_normal((3, 4)).astype(np.float32)
    y.backward(g)
    assert v.grad == pytest.approx(float(g[mask].sum()), rel=1e-6)  # d/dv: one per filled entry
    assert mg.gradcheck(lambda a, b: mg.masked_fill(a * a, mask, b * b),
                        [t64(x.data), t64(1.5)])


def test_masked_fill_keeps_integer_dtype():
    y = mg.masked_fill(mg.tensor(np.arange(4)), np.array([True, False, True, False]), 9)
    assert y.dtype == np.int64 and y.tolist() == [9, 1, 9, 3]


@pytest.mark.parametrize("code, err, words", [
    ("x.masked_fill(np.ones((3, 4), int), 0.0)", TypeError, "mask must be a bool tensor"),
    ("x.masked_fill(np.ones((2, 4), bool), 0.0)", mg.ShapeError, r"mask of shape \(2, 4\) does "
                                                                 "not broadcast"),
    ("x.masked_fill(np.ones((2, 3, 4), bool), 0.0)", mg.ShapeError, "does not broadcast"),
    ("x.masked_fill(np.ones(4, bool), mg.tensor([1.0, 2.0]))", mg.ShapeError, "0-d tensor"),
    ("x.masked_fill(np.ones(4, bool), 'a')", TypeError, "number or a 0-d tensor"),
    ("mg.tensor([1, 2]).masked_fill(np.ones(2, bool), 0.5)", TypeError, "cannot fill a int64"),
])
def test_masked_fill_errors(code, err, words):
    x = mg.tensor(np.ones((3, 4)))
    with pytest.raises(err, match=words):
        eval(code, {"mg": mg, "np": np, "x": x})


# --------------------------------------------------------------------------- tril / triu
@pytest.mark.parametrize("shape", [(4, 4), (3, 5), (2, 5, 3)])
@pytest.mark.parametrize("diagonal", [-1, 0, 2])
def test_tril_triu_match_numpy(rng, shape, diagonal):
    x = rng.standard_normal(shape)
    for ours, ref, method in ((mg.tril, np.tril, "tril"), (mg.triu, np.triu, "triu")):
        y = ours(t64(x), diagonal)
        np.testing.assert_array_equal(y.data, ref(x, diagonal))
        np.testing.assert_array_equal(getattr(t64(x), method)(diagonal).data, y.data)
        g = rng.standard_normal(shape)
        xt = t64(x)
        ours(xt, diagonal).backward(g)
        np.testing.assert_array_equal(xt.grad, ref(g, diagonal))  # kept entries pass g on
        assert mg.gradcheck(lambda a, f=ours: f(a * a, diagonal), [t64(x)])


def test_tril_keeps_inf_out_of_the_zeros():
    x = mg.tensor(np.full((2, 2), -np.inf))
    assert mg.tril(x).tolist() == [[-np.inf, 0.0], [-np.inf, -np.inf]]  # 0, never -inf * 0


@pytest.mark.parametrize("code, err, words", [
    ("mg.tril(mg.tensor([1.0, 2.0]))", mg.ShapeError, "at least 2 dimensions"),
    ("mg.triu(mg.tensor(np.ones((2, 2))), 0.5)", TypeError, "diagonal must be an int"),
])
def test_tril_triu_errors(code, err, words):
    with pytest.raises(err, match=words):
        eval(code, {"mg": mg, "np": np})


# --------------------------------------------------------------------------- embedding
def test_embedding_picks_rows_and_accumulates(rng):
    w = t64(rng.standard_normal((6, 3)))
    idx = np.array([[0, 5, 0], [2, 0, 5]])
    out = F.embedding(idx, w)
    np.testing.assert_array_equal(out.data, w.data[idx])
    g = rng.standard_normal((2, 3, 3))
    out.backward(g)
    want = np.zeros((6, 3))
    for pos in np.ndindex(*idx.shape):
        want[idx[pos]] += g[pos]
    np.testing.assert_allclose(w.grad, want, rtol=1e-14)
    assert mg.gradcheck(lambda a: F.embedding(idx, a) ** 2, [t64(w.data)])


def test_embedding_of_no_tokens_and_of_one(rng):
    w = t64(rng.standard_normal((4, 3)))
    empty = F.embedding(np.zeros((2, 0), int), w)
    assert empty.shape == (2, 0, 3)
    empty.backward(np.zeros((2, 0, 3)))
    assert w.grad.shape == (4, 3) and not w.grad.any()
    one = F.embedding(np.array(2), w)
    assert one.shape == (3,)
    g = rng.standard_normal(3)
    w.grad = None
    one.backward(g)
    np.testing.assert_array_equal(w.grad[2], g)


def test_embedding_padding_row_gets_no_gradient(rng):
    w = t64(rng.standard_normal((4, 2)))
    idx = np.array([1, 3, 3, 0])
    F.embedding(idx, w, padding_idx=3).backward(rng.standard_normal((4, 2)))
    assert not w.grad[3].any() and w.grad[1].any()
    # differentiated twice: the same rule, recorded
    (gw,) = mg.grad((F.embedding(idx, w, padding_idx=-1) ** 2).sum(), [w], create_graph=True)
    assert not gw.data[3].any()
    assert mg.gradcheck(lambda a: mg.grad((F.embedding(idx, a, padding_idx=3) ** 3).sum(), [a],
                                          create_graph=True)[0], [t64(w.data)])


@pytest.mark.parametrize("code, err, words", [
    ("F.embedding(np.array([0.0, 1.0]), w)", TypeError, "embedding: input must hold integer "
                                                        "token indices, got dtype float64"),
    ("F.embedding(np.array([[0, 4]]), w)", IndexError, r"embedding: index 4 is out of range "
                                                       r"for a table of 4 embeddings \(valid "
                                                       r"indices 0..3\)"),
    ("F.embedding(np.array([-1]), w)", IndexError, "index -1 is out of range"),
    ("F.embedding(np.array([0]), mg.tensor(np.ones(4)))", mg.ShapeError, "weight must be 2-D"),
])
def test_embedding_errors(code, err, words):
    w = mg.tensor(np.ones((4, 2)))
    with pytest.raises(err, match=words):
        eval(code, {"F": F, "np": np, "w": w, "mg": mg})


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
