"""pad, split, chunk, cumsum, einsum, erf and the new activations beyond the op table
(tests/op_table_rows_cnn.py): PyTorch's conventions where they differ from numpy's, dtypes,
accuracy, and the errors a user meets."""
import math

import numpy as np
import pytest

import microgd as mg
from microgd.nn import functional as F


def test_chunk_gives_pieces_of_ceil_n_over_chunks_so_maybe_fewer_as_in_pytorch():
    x = mg.tensor(np.arange(6.0))
    assert [p.shape for p in mg.chunk(x, 4)] == [(2,), (2,), (2,)]
    assert [p.shape for p in mg.chunk(x, 5)] == [(2,), (2,), (2,)]
    assert [p.data.tolist() for p in mg.split(x, 4)] == [[0, 1, 2, 3], [4, 5]]


def test_split_pieces_send_their_gradients_back_in_place(rng):
    x = mg.tensor(rng.standard_normal((2, 5)), requires_grad=True)
    a, b = mg.split(x, [2, 3], axis=1)
    (a * 2).backward(np.ones((2, 2)))
    np.testing.assert_array_equal(x.grad, [[2, 2, 0, 0, 0]] * 2)
    assert b.shape == (2, 3)


def test_cumsum_of_integers_and_bools_is_int64_as_in_pytorch():
    assert mg.cumsum(mg.tensor(np.array([1, 2, 3], np.int32)), 0).dtype == np.int64
    np.testing.assert_array_equal(mg.tensor(np.array([True, False, True])).cumsum(0).data,
                                  [1, 1, 2])
    assert mg.cumsum(mg.tensor(2.5), 0).item() == 2.5


def test_pad_constant_value_and_negative_widths_crop():
    x = mg.tensor(np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(mg.pad(x, (1, 0), value=-1.0).data,
                                  [[-1, 0, 1, 2], [-1, 3, 4, 5]])
    np.testing.assert_array_equal(mg.pad(x, (-1, 1, 0, -1)).data, [[1, 2, 0]])
    np.testing.assert_array_equal(F.pad(x, (2, 2), mode="circular").data,
                                  [[1, 2, 0, 1, 2, 0, 1], [4, 5, 3, 4, 5, 3, 4]])


def test_einsum_implicit_output_is_numpys_and_mixed_dtypes_promote(rng):
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((3, 4))
    out = mg.einsum("ij,jk", mg.tensor(a.astype(np.float32)), mg.tensor(b))
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.data, np.einsum("ij,jk", a.astype(np.float32), b))
    np.testing.assert_allclose(mg.einsum("ba", mg.tensor(a)).data, a.T)  # output "ab": a.T


def test_einsum_broadcasts_a_size_one_axis_and_its_gradient_sums_back(rng):
    a, b = rng.standard_normal((1, 3)), rng.standard_normal((4, 3))
    at = mg.tensor(a, requires_grad=True)
    g = rng.standard_normal((4, 3))
    mg.einsum("ij,ij->ij", at, mg.tensor(b)).backward(g)
    np.testing.assert_allclose(at.grad, (g * b).sum(axis=0, keepdims=True))


def test_erf_to_float64_and_float32_precision():
    xs = np.concatenate([np.linspace(-7, 7, 2001), [0.0, 1e-300, -1e-12, 0.4999, 0.5, 0.5001]])
    exact = np.array([math.erf(v) for v in xs])
    np.testing.assert_allclose(mg.erf(mg.tensor(xs)).data, exact, rtol=2e-15, atol=5e-16)
    f32 = mg.erf(mg.tensor(xs.astype(np.float32))).data
    assert f32.dtype == np.float32
    np.testing.assert_allclose(f32, exact.astype(np.float32), rtol=1e-6, atol=1e-7)


def test_activations_keep_float32_and_softplus_is_exact_past_its_threshold():
    x = mg.tensor(np.array([-3.0, 0.0, 25.0], np.float32), requires_grad=True)
    for fn in (F.gelu, F.silu, F.elu, F.leaky_relu, F.softplus, mg.sin, mg.expm1):
        y = fn(x)
        y.backward(np.ones(3, np.float32))
        assert y.dtype == np.float32 and x.grad.dtype == np.float32, fn.__name__
        x.grad = None
    y = F.softplus(x)
    y.backward(np.ones(3, np.float32))
    assert y.data[2] == 25.0 and x.grad[2] == 1.0   # the line itself, slope exactly 1


def test_integers_go_to_the_default_float_dtype():
    i = mg.tensor(np.array([1, 2]))
    assert mg.sin(i).dtype == np.float32 and F.gelu(i).dtype == np.float32


@pytest.mark.parametrize("call,error,words", [
    (lambda: mg.pad(mg.tensor(np.ones((3, 4))), (1, 2, 3)), ValueError,
     ["pad", "even number of ints", "(1, 2, 3)"]),
    (lambda: mg.pad(mg.tensor(np.ones(4)), (1, 1, 1, 1)), ValueError, ["pad", "at most 2"]),
    (lambda: mg.pad(mg.tensor(np.ones(4)), (1, 1), mode="edge"), ValueError,
     ["pad", "mode", "'edge'"]),
    (lambda: mg.pad(mg.tensor(np.ones(4)), (-3, -2)), ValueError, ["pad", "negative size"]),
    (lambda: mg.pad(mg.tensor(np.ones(4)), (5, 0), mode="circular"), ValueError,
     ["pad", "circular", "at most the axis size 4"]),
    (lambda: mg.pad(mg.tensor(np.ones(4)), (-1, 0), mode="replicate"), ValueError,
     ["pad", "replicate", "non-negative"]),
    (lambda: mg.split(mg.tensor(np.ones(4)), 0), ValueError, ["split", "positive"]),
    (lambda: mg.split(mg.tensor(np.ones(4)), [3, 2]), ValueError, ["split", "[3, 2]", "4"]),
    (lambda: mg.split(mg.tensor(1.0), 1), ValueError, ["split", "0-d"]),
    (lambda: mg.chunk(mg.tensor(np.ones(4)), 0), ValueError, ["chunk", "positive"]),
    (lambda: mg.chunk(mg.tensor(np.ones(4)), 2, axis=1), mg.AxisError, ["chunk", "axis 1"]),
    (lambda: mg.cumsum(mg.tensor(np.ones((2, 3))), 2), mg.AxisError, ["cumsum", "axis 2"]),
    (lambda: mg.einsum("ij,jk->ik", mg.tensor(np.ones((3, 4))), mg.tensor(np.ones((5, 2)))),
     mg.ShapeError, ["einsum", "'j' has size 4 in operand 0", "5 in operand 1"]),
    (lambda: mg.einsum("ijk", mg.tensor(np.ones((3, 4)))), mg.ShapeError,
     ["einsum", "3 subscripts", "(3, 4)"]),
    (lambda: mg.einsum("ij,jk", mg.tensor(np.ones((3, 4)))), ValueError,
     ["einsum", "2 operands, got 1"]),
    (lambda: mg.einsum("ij->ik", mg.tensor(np.ones((3, 4)))), ValueError,
     ["einsum", "appear among the inputs"]),
    (lambda: mg.einsum("i1", mg.tensor(np.ones((3, 4)))), ValueError, ["einsum", "'1'"]),
    (lambda: F.gelu(mg.tensor(1.0), approximate="fast"), ValueError, ["gelu", "'fast'"]),
    (lambda: F.softplus(mg.tensor(1.0), beta=0), ValueError, ["softplus", "beta"]),
    (lambda: F.batch_norm(mg.tensor(np.ones((2, 3))), np.zeros(4), np.ones(4)),
     mg.ShapeError, ["batch_norm", "running_mean of shape (4,)", "(3,)"]),
    (lambda: F.batch_norm(mg.tensor(np.ones((2, 3))), None, None), ValueError,
     ["batch_norm", "running_mean and running_var are needed"]),
])
def test_bad_arguments_say_which_op_and_what_was_expected(call, error, words):
    with pytest.raises(error) as info:
        call()
    for w in words:
        assert w in str(info.value), f"{w!r} not in {str(info.value)!r}"
