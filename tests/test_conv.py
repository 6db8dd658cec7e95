"""Convolution beyond the op table (tests/op_table_rows_cnn.py checks forward, gradient and
Hessian-vector products for strides, padding, dilation and groups): derivatives of third
order, memory layouts, dtypes, and the errors a user meets."""
import numpy as np
import pytest
from op_table_rows_cnn import np_conv1d, np_conv2d

import microgd as mg
from microgd.nn import functional as F

EPS = 1e-5


def conv_loss(x, w, b, g):
    """A loss that is not linear in the convolution: its second derivatives mix x and w."""
    return (F.conv2d(x, w, b, stride=(2, 1), padding=1, dilation=(1, 2)).tanh() * g).sum()


def test_second_derivative_through_conv2d_mixes_input_and_weight(rng):
    """H v for L(x, w, b) = sum(g * tanh(conv2d(x, w) + b)): grad with create_graph, then
    the gradient of <grad, v>, against central differences of the gradient."""
    x0, w0, b0 = rng.standard_normal((2, 3, 5, 6)), rng.standard_normal((4, 3, 3, 2)), \
        rng.standard_normal(4)
    g = rng.standard_normal(np.shape(np_conv2d(x0, w0, b0, (2, 1), 1, (1, 2))))
    v = [rng.standard_normal(a.shape) for a in (x0, w0, b0)]

    def gradient(arrays, create_graph):
        ts = [mg.tensor(a, requires_grad=True) for a in arrays]
        return ts, mg.grad(conv_loss(*ts, g), ts, create_graph=create_graph)

    ts, grads = gradient([x0, w0, b0], True)
    hv = mg.grad(sum((gr * vi).sum() for gr, vi in zip(grads, v)), ts)
    _, up = gradient([a + EPS * d for a, d in zip((x0, w0, b0), v)], False)
    _, down = gradient([a - EPS * d for a, d in zip((x0, w0, b0), v)], False)
    for h, u, d in zip(hv, up, down):
        fd = (u.data - d.data) / (2 * EPS)
        np.testing.assert_allclose(h.data, fd, rtol=1e-5, atol=1e-7)


def test_third_derivative_goes_through_the_gradient_ops(rng):
    """The gradient ops of a convolution (input gradient, weight gradient) are themselves
    differentiable: d/dx of a Hessian-vector product matches finite differences of it."""
    x0, w0 = rng.standard_normal((1, 2, 4, 4)), rng.standard_normal((2, 2, 2, 2))
    v, u = rng.standard_normal(x0.shape), rng.standard_normal(x0.shape)

    def hvp(xa, create_graph):
        x, w = mg.tensor(xa, requires_grad=True), mg.tensor(w0, requires_grad=True)
        y = F.conv2d(x, w, padding=1)
        loss = (y * y * y).sum()
        (gx,) = mg.grad(loss, [x], create_graph=True)
        (h,) = mg.grad((gx * v).sum(), [x], create_graph=create_graph)
        return x, h

    x, h = hvp(x0, True)
    (third,) = mg.grad((h * u).sum(), [x])
    fd = (hvp(x0 + EPS * u, False)[1].data - hvp(x0 - EPS * u, False)[1].data) / (2 * EPS)
    np.testing.assert_allclose(third.data, fd, rtol=1e-5, atol=1e-6)


def test_a_channels_last_input_gives_the_same_result(rng):
    """A convolution's output is an (N, C, H, W) view of a channels-last array; the next
    convolution reads any layout."""
    x = rng.standard_normal((2, 5, 6, 3)).transpose(0, 3, 1, 2)   # (2, 3, 5, 6), channels last
    w = rng.standard_normal((4, 3, 3, 3))
    g = rng.standard_normal((2, 4, 5, 6))
    xs = [mg.tensor(x, requires_grad=True), mg.tensor(np.ascontiguousarray(x), requires_grad=True)]
    for xt in xs:
        F.conv2d(xt, mg.tensor(w), padding=1).backward(g)
    np.testing.assert_allclose(F.conv2d(xs[0], mg.tensor(w), padding=1).data,
                               np_conv2d(x, w, padding=1), atol=1e-12)
    np.testing.assert_allclose(xs[0].grad, xs[1].grad, atol=1e-12)


def test_two_layers_backpropagate_through_each_other(rng):
    x, w1, w2 = (rng.standard_normal(s) for s in ((2, 1, 6, 6), (3, 1, 3, 3), (2, 3, 3, 3)))
    g = rng.standard_normal((2, 2, 3, 3))
    ts = [mg.tensor(a, requires_grad=True) for a in (x, w1, w2)]
    F.conv2d(F.conv2d(ts[0], ts[1], padding=1).relu(), ts[2], stride=2, padding=1).backward(g)

    def loss(x, w1, w2):
        return np.sum(g * np_conv2d(np.maximum(np_conv2d(x, w1, padding=1), 0), w2, stride=2,
                                    padding=1))
    arrays = [x.copy(), w1.copy(), w2.copy()]
    for t, a in zip(ts, arrays):
        fd = np.zeros_like(a)
        for i in np.ndindex(a.shape):
            old = a[i]
            a[i] = old + 1e-6
            up = loss(*arrays)
            a[i] = old - 1e-6
            fd[i] = (up - loss(*arrays)) / 2e-6
            a[i] = old
        np.testing.assert_allclose(t.grad, fd, rtol=1e-5, atol=1e-6)


def test_dtypes_float32_stays_float32_and_integers_become_the_weights_dtype(rng):
    w = mg.tensor(rng.standard_normal((2, 1, 3, 3)).astype(np.float32), requires_grad=True)
    x = mg.tensor(rng.standard_normal((1, 1, 4, 4)).astype(np.float32), requires_grad=True)
    y = F.conv2d(x, w)
    y.backward(np.ones(y.shape, np.float32))
    assert y.dtype == np.float32 and x.grad.dtype == np.float32 and w.grad.dtype == np.float32
    pixels = mg.tensor(rng.integers(0, 255, (1, 1, 4, 4)).astype(np.uint8))
    out = F.conv2d(pixels, w)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.data, np_conv2d(pixels.data.astype(np.float64),
                                                   w.data.astype(np.float64)), rtol=1e-5)
    w64 = mg.tensor(w.data.astype(np.float64))  # float32 meets float64: float64, as matmul does
    assert F.conv2d(x, w64).dtype == np.float64


def test_conv1d_takes_unbatched_input_and_arrays(rng):
    x, w = rng.standard_normal((3, 8)), rng.standard_normal((2, 3, 3))
    out = F.conv1d(x, mg.tensor(w), padding="same")   # a numpy input beside a Tensor weight
    assert out.shape == (2, 8)
    np.testing.assert_allclose(out.data, np_conv1d(x, w, padding="same"), atol=1e-12)


# ------------------------------------------------------------------ errors
X = mg.tensor(np.ones((2, 3, 5, 5)))
W = mg.tensor(np.ones((4, 3, 3, 3)))


@pytest.mark.parametrize("call,error,words", [
    (lambda: F.conv2d(X, mg.tensor(np.ones((4, 2, 3, 3)))), mg.ShapeError,
     ["conv2d", "(4, 2, 3, 3)", "expects 2 input channels, got 3", "(2, 3, 5, 5)"]),
    (lambda: F.conv2d(X, mg.tensor(np.ones((4, 3, 7, 7)))), mg.ShapeError,
     ["conv2d", "kernel (7, 7)", "larger than the padded input (5, 5)"]),
    (lambda: F.conv2d(X, mg.tensor(np.ones((4, 3, 6, 2))), padding=(0, 1)), mg.ShapeError,
     ["conv2d", "kernel (6, 2)", "padded input (5, 7)"]),
    (lambda: F.conv2d(X, mg.tensor(np.ones((4, 3, 3, 3))), dilation=3), mg.ShapeError,
     ["conv2d", "spanning (7, 7)", "dilation (3, 3)"]),
    (lambda: F.conv2d(X, W, stride=0), ValueError, ["conv2d", "stride must be positive", "0"]),
    (lambda: F.conv2d(X, W, stride=(1, -2)), ValueError, ["conv2d", "stride", "(1, -2)"]),
    (lambda: F.conv2d(X, W, padding=-1), ValueError, ["conv2d", "padding", "non-negative"]),
    (lambda: F.conv2d(X, W, padding="same", stride=2), ValueError,
     ["conv2d", "padding='same' needs stride 1", "(2, 2)"]),
    (lambda: F.conv2d(X, W, padding="full"), ValueError, ["conv2d", "'same' or 'valid'",
                                                          "'full'"]),
    (lambda: F.conv2d(X, mg.tensor(np.ones((4, 1, 3, 3))), groups=2), ValueError,
     ["conv2d", "groups=2", "3 channels", "4 output channels"]),
    (lambda: F.conv2d(X, W, groups=0), ValueError, ["conv2d", "groups must be a positive"]),
    (lambda: F.conv2d(mg.tensor(np.ones((3, 5))), W), mg.ShapeError,
     ["conv2d", "3-D or 4-D input", "(C, H, W) or (N, C, H, W)", "(3, 5)"]),
    (lambda: F.conv2d(mg.tensor(np.ones((1, 2, 3, 5, 5))), W), mg.ShapeError,
     ["conv2d", "(1, 2, 3, 5, 5)"]),
    (lambda: F.conv2d(X, mg.tensor(np.ones((4, 3, 3)))), mg.ShapeError,
     ["conv2d", "4-D weight", "(4, 3, 3)"]),
    (lambda: F.conv2d(X, W, mg.tensor(np.ones(3))), mg.ShapeError,
     ["conv2d", "bias of shape (3,)", "expected shape (4,)"]),
    (lambda: F.conv2d(X, W, stride=(1, 2, 3)), TypeError, ["conv2d", "stride", "2 ints"]),
    (lambda: F.conv1d(X, W), mg.ShapeError, ["conv1d", "2-D or 3-D input", "(2, 3, 5, 5)"]),
    (lambda: F.conv1d(mg.tensor(np.ones((2, 3, 4))), mg.tensor(np.ones((1, 3, 5)))),
     mg.ShapeError, ["conv1d", "kernel (5,)", "padded input (4,)"]),
    (lambda: F.conv2d(np.ones((2, 3, 5, 5)), np.ones((4, 3, 3, 3))), TypeError,
     ["conv2d", "expected Tensors", "mg.tensor"]),
])
def test_bad_arguments_say_which_op_and_what_was_expected(call, error, words):
    with pytest.raises(error) as info:
        call()
    for w in words:
        assert w in str(info.value), f"{w!r} not in {str(info.value)!r}"


def test_a_shape_error_is_also_a_runtime_error_as_in_pytorch():
    with pytest.raises(RuntimeError):
        F.conv2d(X, mg.tensor(np.ones((4, 2, 3, 3))))


def test_an_empty_batch_gives_an_empty_output_and_zero_weight_gradients():
    x = mg.tensor(np.ones((0, 3, 5, 5)), requires_grad=True)
    w, b = mg.tensor(np.ones((4, 3, 3, 3)), requires_grad=True), mg.tensor(np.ones(4),
                                                                          requires_grad=True)
    y = F.conv2d(x, w, b, padding=1)
    assert y.shape == (0, 4, 5, 5)
    y.backward(np.ones(y.shape))
    assert x.grad.shape == (0, 3, 5, 5) and not w.grad.any() and not b.grad.any()
