"""Every tensor op: forward against numpy, backward against central finite differences."""
import numpy as np
import pytest

import microgd as mg


def T(rng, *shape, positive=False, requires_grad=True):
    a = rng.standard_normal(shape)
    if positive:
        a = np.abs(a) + 0.5
    return mg.tensor(a, requires_grad=requires_grad, dtype=np.float64)


BROADCAST_PAIRS = [
    ((3, 4), (3, 4)),
    ((3, 1), (1, 4)),
    ((5,), (2, 3, 5)),
    ((), (3, 4)),
    ((3, 4), ()),
    ((2, 1, 4), (3, 1)),
    ((1,), (4,)),
]

BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a ** b,
    "maximum": mg.maximum,
    "minimum": mg.minimum,
}


@pytest.mark.parametrize("name", sorted(BINARY))
@pytest.mark.parametrize("sa,sb", BROADCAST_PAIRS)
def test_binary_ops_broadcast_and_gradcheck(rng, name, sa, sb):
    positive = name in ("pow", "div")
    a, b = T(rng, *sa, positive=positive), T(rng, *sb, positive=positive)
    f = BINARY[name]
    out = f(a, b)
    ref = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide,
           "pow": np.power, "maximum": np.maximum, "minimum": np.minimum}[name](a.data, b.data)
    np.testing.assert_allclose(out.data, ref)
    assert out.shape == np.broadcast_shapes(sa, sb)
    assert mg.gradcheck(f, [a, b])


@pytest.mark.parametrize("name", ["add", "sub", "mul", "div", "pow"])
def test_numbers_and_arrays_on_either_side(rng, name):
    x = T(rng, 2, 3, positive=True)
    arr = np.abs(rng.standard_normal((1, 3))) + 0.5
    f = BINARY[name]
    for left, right in [(x, 2.5), (2.5, x), (x, arr), (arr, x)]:
        out = f(left, right)
        assert isinstance(out, mg.Tensor)
        la = left.data if isinstance(left, mg.Tensor) else left
        ra = right.data if isinstance(right, mg.Tensor) else right
        np.testing.assert_allclose(out.data, f(np.asarray(la), np.asarray(ra)))
    assert mg.gradcheck(lambda t: f(t, 2.5) + f(1.5, t) + f(t, arr) + f(arr, t), [x])


UNARY = {
    "exp": (lambda x: x.exp(), np.exp, False),
    "log": (lambda x: x.log(), np.log, True),
    "sqrt": (lambda x: x.sqrt(), np.sqrt, True),
    "abs": (lambda x: x.abs(), np.abs, False),
    "neg": (lambda x: -x, np.negative, False),
    "relu": (lambda x: x.relu(), lambda a: np.maximum(a, 0), False),
    "tanh": (lambda x: x.tanh(), np.tanh, False),
    "sigmoid": (lambda x: x.sigmoid(), lambda a: 1 / (1 + np.exp(-a)), False),
    "pow3": (lambda x: x.pow(3), lambda a: a ** 3, False),
    "pow_half": (lambda x: x.pow(0.5), np.sqrt, True),
    "clip": (lambda x: x.clip(-0.5, 0.7), lambda a: np.clip(a, -0.5, 0.7), False),
    "mg.exp": (mg.exp, np.exp, False),
    "mg.log": (mg.log, np.log, True),
    "mg.sqrt": (mg.sqrt, np.sqrt, True),
    "mg.tanh": (mg.tanh, np.tanh, False),
    "mg.sigmoid": (mg.sigmoid, lambda a: 1 / (1 + np.exp(-a)), False),
    "mg.relu": (mg.relu, lambda a: np.maximum(a, 0), False),
    "mg.abs": (mg.abs, np.abs, False),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@pytest.mark.parametrize("shape", [(), (5,), (3, 4), (2, 3, 4)])
def test_unary_ops(rng, name, shape):
    f, ref, positive = UNARY[name]
    x = T(rng, *shape, positive=positive)
    if name in ("abs", "relu", "mg.relu", "mg.abs", "clip"):  # keep away from the kinks
        x.data[np.abs(x.data) < 1e-3] = 0.3
        x.data[np.abs(x.data - 0.7) < 1e-3] = 0.3
        x.data[np.abs(x.data + 0.5) < 1e-3] = 0.3
    np.testing.assert_allclose(f(x).data, ref(x.data), rtol=1e-12)
    assert mg.gradcheck(f, [x])


REDUCE_AXES = [None, 0, -1, 1, (0, 2), (-1, -3), (1,)]


@pytest.mark.parametrize("name", ["sum", "mean", "max", "min", "var", "logsumexp"])
@pytest.mark.parametrize("axis", REDUCE_AXES)
@pytest.mark.parametrize("keepdims", [False, True])
def test_reductions(rng, name, axis, keepdims):
    x = T(rng, 2, 3, 4)
    out = getattr(x, name)(axis=axis, keepdims=keepdims)
    if name == "logsumexp":
        m = x.data.max(axis=axis, keepdims=True)
        ref = np.log(np.exp(x.data - m).sum(axis=axis, keepdims=True)) + m
        if not keepdims:
            ref = ref.squeeze(axis=axis) if axis is not None else ref.reshape(())
    else:
        ref = getattr(np, name)(x.data, axis=axis, keepdims=keepdims)
    assert out.shape == np.shape(ref)
    np.testing.assert_allclose(out.data, ref, rtol=1e-12)
    assert mg.gradcheck(lambda t: getattr(t, name)(axis=axis, keepdims=keepdims), [x])


def test_var_ddof_and_max_ties(rng):
    x = T(rng, 4, 5)
    np.testing.assert_allclose(x.var(axis=0, ddof=1).data, np.var(x.data, axis=0, ddof=1))
    assert mg.gradcheck(lambda t: t.var(ddof=1), [x])
    t = mg.tensor([1.0, 3.0, 3.0, 2.0], requires_grad=True)
    t.max().backward()
    np.testing.assert_allclose(t.grad, [0, 0.5, 0.5, 0])  # ties share the gradient


@pytest.mark.parametrize("fn,a_gets", [(mg.maximum, [1, 0.5, 0]), (mg.minimum, [0, 0.5, 1])])
def test_maximum_minimum_split_the_gradient_at_ties(fn, a_gets):
    """PyTorch's rule (torch.maximum / torch.minimum): half to each input where they tie,
    like the max reduction; a constant broadcast against a Tensor takes its share too."""
    a = mg.tensor([3.0, 2.0, 1.0], requires_grad=True)
    b = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    fn(a, b).backward(np.array([2.0, 4.0, 8.0]))
    np.testing.assert_allclose(a.grad, np.array(a_gets) * [2, 4, 8])
    np.testing.assert_allclose(b.grad, (1 - np.array(a_gets)) * [2, 4, 8])
    x = mg.tensor([[0.0, 0.5], [-1.0, 0.0]], requires_grad=True)
    fn(x, 0.0).sum().backward()
    np.testing.assert_allclose(x.grad, [[0.5, a_gets[0]], [a_gets[2], 0.5]])


def test_maximum_is_differentiable_twice(rng):
    a, b = T(rng, 3, 4), T(rng, 3, 4)
    (ga,) = mg.grad((mg.maximum(a, b) ** 3).sum(), [a], create_graph=True)
    (gaa,) = mg.grad(ga.sum(), [a])
    wins = a.data > b.data
    np.testing.assert_allclose(gaa.data, np.where(wins, 6 * a.data, 0.0))  # d²(a³)/da²


def test_maximum_keeps_float32():
    a = mg.tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    mg.maximum(a, 1.5).sum().backward()
    assert a.grad.dtype == np.float32


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_softmax_family(rng, axis):
    x = T(rng, 3, 4)
    e = np.exp(x.data - x.data.max(axis=axis, keepdims=True))
    sm = e / e.sum(axis=axis, keepdims=True)
    np.testing.assert_allclose(x.softmax(axis=axis).data, sm, rtol=1e-12)
    np.testing.assert_allclose(x.log_softmax(axis=axis).data, np.log(sm), rtol=1e-12)
    assert mg.gradcheck(lambda t: t.softmax(axis=axis), [x])
    assert mg.gradcheck(lambda t: t.log_softmax(axis=axis), [x])


@pytest.mark.parametrize("big", [1e4, -1e4])
def test_softmax_family_is_stable_at_extreme_logits(big):
    x = mg.tensor([[big, 0.0, -big], [big, big, 0.0]], requires_grad=True)
    for out in (x.softmax(), x.log_softmax(), x.logsumexp(axis=1)):
        assert np.all(np.isfinite(out.data))
    ls = x.log_softmax(axis=-1)
    assert np.all(np.isfinite(ls.data))
    (ls.sum()).backward()
    assert np.all(np.isfinite(x.grad))
    ref = np.logaddexp.reduce(x.data.astype(np.float64), axis=1)
    np.testing.assert_allclose(x.logsumexp(axis=1).data, ref, rtol=1e-6)


MATMUL_SHAPES = [
    ((3, 4), (4, 5)),
    ((4,), (4, 5)),
    ((3, 4), (4,)),
    ((4,), (4,)),
    ((2, 3, 4), (4, 5)),
    ((3, 4), (2, 4, 5)),
    ((2, 1, 3, 4), (5, 4, 2)),
    ((4,), (2, 4, 3)),
    ((2, 3, 4), (4,)),
]


@pytest.mark.parametrize("sa,sb", MATMUL_SHAPES)
def test_matmul_all_forms(rng, sa, sb):
    a, b = T(rng, *sa), T(rng, *sb)
    np.testing.assert_allclose((a @ b).data, np.matmul(a.data, b.data), rtol=1e-12)
    np.testing.assert_allclose(mg.matmul(a, b).data, a.matmul(b).data)
    assert mg.gradcheck(lambda x, y: x @ y, [a, b])


def test_matmul_with_arrays_on_either_side(rng):
    a = T(rng, 3, 4)
    m = rng.standard_normal((4, 2))
    assert mg.gradcheck(lambda x: (x @ m).sum() + (m.T @ x.T).sum(), [a])


SHAPE_OPS = {
    "reshape": lambda x: x.reshape(4, 6),
    "reshape_tuple": lambda x: x.reshape((6, -1)),
    "transpose": lambda x: x.transpose(),
    "transpose_axes": lambda x: x.transpose(1, 0, 2),
    "transpose_neg": lambda x: x.transpose((2, -3, 1)),
    "T": lambda x: x.T,
    "flatten": lambda x: x.flatten(),
    "flatten1": lambda x: x.flatten(1),
    "unsqueeze": lambda x: x.unsqueeze(1),
    "unsqueeze_neg": lambda x: x.unsqueeze(-1),
    "squeeze": lambda x: x.reshape(2, 1, 12).squeeze(),
    "squeeze_axis": lambda x: x.reshape(2, 1, 12).squeeze(1),
    "broadcast_to": lambda x: x[:, :1, :].broadcast_to((5, 2, 3, 4)),
    "basic_index": lambda x: x[1, :, 1:3],
    "ellipsis": lambda x: x[..., 0],
    "newaxis": lambda x: x[:, None, 1],
    "negative_step": lambda x: x[::-1, 1],
    "int_array": lambda x: x[[0, 1, 0]],
    "repeated_2d": lambda x: x[np.array([0, 0, 1]), np.array([2, 2, 0])],
    "mixed": lambda x: x[:, [1, 1, 2], 3],
    "bool_mask": lambda x: x[x.data > 0],
    "bool_rows": lambda x: x[np.array([True, False])],
    "tensor_index": lambda x: x[mg.tensor([1, 0, 1])],
}


@pytest.mark.parametrize("name", sorted(SHAPE_OPS))
def test_shape_and_index_ops(rng, name):
    x = T(rng, 2, 3, 4)
    f = SHAPE_OPS[name]
    assert mg.gradcheck(f, [x])


def test_repeated_indices_accumulate():
    x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[[0, 0, 2, 0]].sum().backward()
    np.testing.assert_allclose(x.grad, [3.0, 0.0, 1.0])


def test_shape_ops_match_numpy(rng):
    x = T(rng, 2, 3, 4)
    a = x.data
    np.testing.assert_array_equal(x.transpose().data, a.transpose())
    np.testing.assert_array_equal(x.transpose(2, 0, 1).data, a.transpose(2, 0, 1))
    np.testing.assert_array_equal(x.T.data, a.T)
    np.testing.assert_array_equal(x.flatten(1).data, a.reshape(2, 12))
    assert x.unsqueeze(0).shape == (1, 2, 3, 4) and x.unsqueeze(3).shape == (2, 3, 4, 1)
    np.testing.assert_array_equal(x[x.data > 0].data, a[a > 0])


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_concatenate_and_stack(rng, axis):
    a, b = T(rng, 2, 3), T(rng, 2, 3)
    c = T(rng, 2, 3)
    np.testing.assert_array_equal(mg.concatenate([a, b], axis=axis).data,
                                  np.concatenate([a.data, b.data], axis=axis))
    np.testing.assert_array_equal(mg.stack([a, b, c], axis=axis).data,
                                  np.stack([a.data, b.data, c.data], axis=axis))
    assert mg.gradcheck(lambda x, y: mg.concatenate([x, y, x], axis=axis), [a, b])
    assert mg.gradcheck(lambda x, y, z: mg.stack([x, y, z], axis=axis), [a, b, c])


def test_concatenate_with_constant_and_unequal_sizes(rng):
    a, b = T(rng, 2, 3), T(rng, 2, 5, requires_grad=False)
    out = mg.concatenate([a, b], axis=1)
    assert out.shape == (2, 8)
    assert mg.gradcheck(lambda x: mg.concatenate([x, b], axis=1), [a])


def test_where(rng):
    a, b = T(rng, 3, 4), T(rng, 1, 4)
    cond = rng.standard_normal((3, 4)) > 0
    np.testing.assert_array_equal(mg.where(cond, a, b).data, np.where(cond, a.data, b.data))
    assert mg.gradcheck(lambda x, y: mg.where(cond, x, y), [a, b])
    assert mg.gradcheck(lambda x: mg.where(mg.tensor(cond), x, 0.0), [a])
