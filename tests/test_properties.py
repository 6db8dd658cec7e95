"""Hypothesis: random shapes, random broadcasting, random reductions — gradients always
match central finite differences, and forward always matches numpy."""
import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import microgd as mg

BINARY = {
    "add": (lambda a, b: a + b, np.add),
    "sub": (lambda a, b: a - b, np.subtract),
    "mul": (lambda a, b: a * b, np.multiply),
    "div": (lambda a, b: a / b, np.divide),
    "maximum": (mg.maximum, np.maximum),
}


def tensor_of(shape, seed, positive=False):
    a = np.random.default_rng(seed).standard_normal(shape)
    if positive:
        a = np.abs(a) + 0.5
    return mg.tensor(a, requires_grad=True, dtype=np.float64)


@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=4, max_side=3),
       op=st.sampled_from(sorted(BINARY)), seed=st.integers(0, 2 ** 16))
def test_binary_broadcasting(shapes, op, seed):
    sa, sb = shapes.input_shapes
    f, ref = BINARY[op]
    a, b = tensor_of(sa, seed), tensor_of(sb, seed + 1, positive=op == "div")
    out = f(a, b)
    assert out.shape == shapes.result_shape
    np.testing.assert_allclose(out.data, ref(a.data, b.data))
    assert mg.gradcheck(f, [a, b])


@given(shape=hnp.array_shapes(min_dims=1, max_dims=4, max_side=4),
       data=st.data(), keepdims=st.booleans(), seed=st.integers(0, 2 ** 16),
       op=st.sampled_from(["sum", "mean", "max", "min", "logsumexp", "var"]))
def test_reductions_over_random_axes(shape, data, keepdims, seed, op):
    ndim = len(shape)
    axis = data.draw(st.one_of(
        st.none(),
        st.integers(-ndim, ndim - 1),
        st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True).map(tuple),
    ))
    x = tensor_of(shape, seed)
    out = getattr(x, op)(axis=axis, keepdims=keepdims)
    if op == "logsumexp":
        ref = np.log(np.exp(x.data).sum(axis=axis, keepdims=keepdims))
    else:
        ref = getattr(np, op)(x.data, axis=axis, keepdims=keepdims)
    np.testing.assert_allclose(out.data, ref, rtol=1e-10, atol=1e-12)
    assert mg.gradcheck(lambda t: getattr(t, op)(axis=axis, keepdims=keepdims), [x])


@given(shapes=hnp.mutually_broadcastable_shapes(
           signature=np.matmul.signature, max_dims=3, max_side=3),
       seed=st.integers(0, 2 ** 16))
def test_matmul_random_shapes(shapes, seed):
    sa, sb = shapes.input_shapes
    a, b = tensor_of(sa, seed), tensor_of(sb, seed + 1)
    np.testing.assert_allclose((a @ b).data, np.matmul(a.data, b.data), rtol=1e-10)
    assert mg.gradcheck(lambda x, y: x @ y, [a, b])


@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4),
       data=st.data(), seed=st.integers(0, 2 ** 16))
def test_random_integer_indexing_accumulates(shape, data, seed):
    idx = data.draw(st.lists(st.integers(-shape[0], shape[0] - 1), min_size=1, max_size=6))
    x = tensor_of(shape, seed)
    out = x[np.array(idx)]
    np.testing.assert_array_equal(out.data, x.data[np.array(idx)])
    assert mg.gradcheck(lambda t: t[np.array(idx)], [x])
