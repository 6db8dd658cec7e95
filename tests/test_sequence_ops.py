"""The sequence-model index ops: gather, take_along_axis, masked_fill, tril/triu, embedding.

Oracles: numpy written out by hand (loops for gather), closed forms for the gradients of
index ops (repeated indices add up), and central finite differences in float64
(``mg.gradcheck`` projects the output on a random upstream gradient) for every op. The
other sequence ops, layer_norm and scaled_dot_product_attention, are checked in
tests/test_sequence_norm_attention.py; the float64 tensor helper ``t64`` both files use
lives in tests/sequence_helpers.py.
"""
import numpy as np
import pytest
from sequence_helpers import t64

import microgd as mg

F = mg.nn.F

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
