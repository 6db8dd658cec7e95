"""Pooling beyond the op table (tests/op_table_rows_cnn.py checks forward, gradient and
Hessian-vector products with strides, padding, dilation, ceil_mode and count_include_pad):
where max-pool's gradient goes, worked examples of the divisors, layouts, errors."""
import numpy as np
import pytest
from op_table_rows_cnn import np_max_pool2d

import microgd as mg
from microgd.nn import functional as F


def test_max_pool_routes_the_whole_gradient_to_the_winning_element_only(rng):
    x = rng.permutation(2 * 3 * 6 * 6).reshape(2, 3, 6, 6).astype(np.float64)
    xt = mg.tensor(x, requires_grad=True)
    y = F.max_pool2d(xt, 3, stride=3)
    g = rng.standard_normal(y.shape)
    y.backward(g)
    windows = x.reshape(2, 3, 2, 3, 2, 3).transpose(0, 1, 2, 4, 3, 5).reshape(2, 3, 2, 2, 9)
    winner = windows == windows.max(axis=-1, keepdims=True)
    expected = (winner * g[..., None]).reshape(2, 3, 2, 2, 3, 3).transpose(0, 1, 2, 4, 3, 5)
    np.testing.assert_array_equal(xt.grad, expected.reshape(x.shape))
    assert np.count_nonzero(xt.grad) == g.size


def test_overlapping_windows_add_up_at_a_shared_winner():
    x = mg.tensor(np.array([[[[0.0, 1.0, 0.0], [0.0, 9.0, 0.0], [0.0, 1.0, 0.0]]]]),
                  requires_grad=True)
    y = F.max_pool2d(x, 2, stride=1)     # all four 2x2 windows contain the 9
    np.testing.assert_array_equal(y.data, [[[[9.0, 9.0], [9.0, 9.0]]]])
    y.backward(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]))
    assert x.grad[0, 0, 1, 1] == 10.0 and np.count_nonzero(x.grad) == 1


def test_ceil_mode_keeps_the_last_partial_window_and_padding_never_wins():
    x = mg.tensor(-np.arange(1.0, 6.0).reshape(1, 1, 5))   # all negative: a 0 pad would win
    np.testing.assert_array_equal(F.max_pool1d(x, 2).data, [[[-1.0, -3.0]]])
    np.testing.assert_array_equal(F.max_pool1d(x, 2, ceil_mode=True).data,
                                  [[[-1.0, -3.0, -5.0]]])
    np.testing.assert_array_equal(F.max_pool1d(x, 3, stride=2, padding=1).data,
                                  [[[-1.0, -2.0, -4.0]]])


def test_avg_pool_divisors_worked_example():
    """A 1x5 row, kernel 3, stride 2, padding 1: windows [pad, 1, 2], [2, 3, 4], [4, 5, pad];
    ceil_mode adds none here (the next window would start in the right padding)."""
    x = mg.tensor(np.arange(1.0, 6.0).reshape(1, 1, 5))
    np.testing.assert_allclose(F.avg_pool1d(x, 3, 2, 1).data, [[[3 / 3, 9 / 3, 9 / 3]]])
    np.testing.assert_allclose(F.avg_pool1d(x, 3, 2, 1, count_include_pad=False).data,
                               [[[3 / 2, 9 / 3, 9 / 2]]])
    # kernel 2, stride 2, ceil_mode: a last window [5] hanging over the end, divided by 1
    np.testing.assert_allclose(F.avg_pool1d(x, 2, ceil_mode=True).data, [[[1.5, 3.5, 5.0]]])


def test_adaptive_pool_windows_overlap_when_the_size_does_not_divide():
    x = mg.tensor(np.arange(1.0, 6.0).reshape(1, 1, 5))[None]     # (1, 1, 1, 5)
    out = F.adaptive_avg_pool2d(x, (1, 3))   # windows [0, 2), [1, 4), [3, 5)
    np.testing.assert_allclose(out.data, [[[[1.5, 3.0, 4.5]]]])
    assert F.adaptive_avg_pool2d(x, (None, 1)).shape == (1, 1, 1, 1)


def test_max_pool_reads_a_convolutions_channels_last_output(rng):
    x = rng.standard_normal((2, 6, 6, 4)).transpose(0, 3, 1, 2)   # (2, 4, 6, 6), channels last
    xs = [mg.tensor(x, requires_grad=True), mg.tensor(np.ascontiguousarray(x), requires_grad=True)]
    g = rng.standard_normal((2, 4, 3, 3))
    for xt in xs:
        y = F.max_pool2d(xt, 2)
        np.testing.assert_array_equal(y.data, np_max_pool2d(x, 2))
        y.backward(g)
    np.testing.assert_array_equal(xs[0].grad, xs[1].grad)


def test_max_pool_of_integers_keeps_the_dtype():
    x = mg.tensor(np.array([[[[3, -7], [5, 1]]]], dtype=np.int64))
    out = F.max_pool2d(x, 2, padding=1)
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out.data, [[[[3, -7], [5, 1]]]])


def test_float32_stays_float32(rng):
    x = mg.tensor(rng.standard_normal((1, 2, 4, 4)).astype(np.float32), requires_grad=True)
    for y in (F.max_pool2d(x, 2), F.avg_pool2d(x, 2), F.adaptive_avg_pool2d(x, 3)):
        y.backward(np.ones(y.shape, np.float32))
        assert y.dtype == np.float32 and x.grad.dtype == np.float32


X = mg.tensor(np.ones((2, 3, 5, 5)))


@pytest.mark.parametrize("call,error,words", [
    (lambda: F.max_pool2d(X, 2, padding=2), ValueError,
     ["max_pool2d", "padding (2, 2)", "at most half the kernel size (2, 2)"]),
    (lambda: F.avg_pool2d(X, 3, padding=(1, 2)), ValueError, ["avg_pool2d", "(1, 2)"]),
    (lambda: F.max_pool2d(X, 7), mg.ShapeError,
     ["max_pool2d", "(2, 3, 5, 5)", "too small for kernel (7, 7)"]),
    (lambda: F.max_pool2d(X, 3, dilation=3), mg.ShapeError,
     ["max_pool2d", "kernel (3, 3)", "dilation (3, 3)"]),
    (lambda: F.max_pool2d(X, 0), ValueError, ["max_pool2d", "kernel_size must be positive"]),
    (lambda: F.max_pool2d(X, 2, stride=0), ValueError, ["max_pool2d", "stride", "positive"]),
    (lambda: F.max_pool2d(mg.tensor(np.ones(5)), 2), mg.ShapeError,
     ["max_pool2d", "3-D or 4-D input", "(5,)"]),
    (lambda: F.max_pool1d(X, 2), mg.ShapeError, ["max_pool1d", "2-D or 3-D input"]),
    (lambda: F.avg_pool1d(X, 2), mg.ShapeError, ["avg_pool1d", "(2, 3, 5, 5)"]),
    (lambda: F.adaptive_avg_pool2d(X, 0), ValueError, ["adaptive_avg_pool2d", "positive"]),
    (lambda: F.adaptive_avg_pool2d(X, (1, 2, 3)), TypeError, ["adaptive_avg_pool2d", "pair"]),
    (lambda: F.adaptive_avg_pool2d(mg.tensor(np.ones((5, 5))), 2), mg.ShapeError,
     ["adaptive_avg_pool2d", "(5, 5)"]),
])
def test_bad_arguments_say_which_op_and_what_was_expected(call, error, words):
    with pytest.raises(error) as info:
        call()
    for w in words:
        assert w in str(info.value), f"{w!r} not in {str(info.value)!r}"
