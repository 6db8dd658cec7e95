"""The speed-ups that only switch on for large or oddly laid-out arrays, checked against
plain numpy at the sizes where they do switch on (the op table's small shapes never reach
them): row reductions, the bias gradient as a matrix-vector product, max-pool's memory
order, the tap-by-tap im2col; float32 GELU's rescaled rational against exact erf; and the
per-thread work buffer that GELU and LayerNorm keep their temporaries in."""
import math

import numpy as np
import pytest

import microgd as mg
from microgd.nn import functional as F
from microgd.ops.reduce import row_max, row_sum

RNG = np.random.default_rng(7)


@pytest.mark.parametrize("shape", [(1024, 16), (300, 1000), (8, 64, 10), (4, 2000), (32, 10),
                                   (96, 10), (2, 3, 5, 7), (512, 1), (1024, 64)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_row_reductions_match_numpy(shape, dtype):
    x = RNG.standard_normal(shape).astype(dtype)
    x.reshape(-1)[5] = -np.inf
    assert np.array_equal(row_max(x), x.max(axis=-1, keepdims=True))
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(row_sum(x), x.sum(axis=-1, keepdims=True), rtol=tol, atol=tol)
    assert row_max(x).dtype == dtype and row_sum(x).dtype == dtype


def test_row_reductions_propagate_nan_and_take_any_layout():
    x = RNG.standard_normal((512, 16))
    x[3, 7] = np.nan
    assert np.isnan(row_max(x)[3, 0]) and np.isnan(row_sum(x)[3, 0])
    assert np.isfinite(np.delete(row_max(x), 3, axis=0)).all()
    xt = RNG.standard_normal((16, 512)).T  # not contiguous: numpy's own reduction
    assert np.array_equal(row_max(xt), xt.max(axis=-1, keepdims=True))
    ints = RNG.integers(-5, 5, (512, 16))
    assert np.array_equal(row_sum(ints), ints.sum(axis=-1, keepdims=True))


def test_cross_entropy_on_many_rows_matches_numpy():
    logits = RNG.standard_normal((1024, 16)) * 30
    target = RNG.integers(0, 16, 1024)
    w = RNG.standard_normal(())
    x = mg.tensor(logits, requires_grad=True)
    (F.cross_entropy(x, target) * float(w)).backward()
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(x.grad, w * (np.exp(logp) - np.eye(16)[target]) / 1024,
                               rtol=1e-10, atol=1e-14)


def test_linear_bias_gradient_on_3d_input():
    x = mg.tensor(RNG.standard_normal((4, 5, 6)), requires_grad=True)
    lin = mg.nn.Linear(6, 3)
    for p in lin.parameters():
        p.data = p.data.astype(np.float64)
    g = RNG.standard_normal((4, 5, 3))
    lin(x).backward(g)
    np.testing.assert_allclose(lin.bias.grad, g.sum(axis=(0, 1)), rtol=1e-12)
    np.testing.assert_allclose(lin.weight.grad, np.einsum("bto,bti->oi", g, x.data), rtol=1e-12)
    np.testing.assert_allclose(x.grad, g @ lin.weight.data, rtol=1e-12)


@pytest.mark.parametrize("channels_last_input", [True, False])
def test_max_pool_gradient_whatever_the_upstream_memory_order(channels_last_input):
    a = RNG.standard_normal((3, 6, 8, 4))          # (N, H, W, C)
    x = a.transpose(0, 3, 1, 2) if channels_last_input else np.ascontiguousarray(
        a.transpose(0, 3, 1, 2))
    t = mg.tensor(x, requires_grad=True)
    y = F.max_pool2d(t, 2)
    g = RNG.standard_normal(y.shape)               # C order, like a Flatten's gradient
    y.backward(g)
    windows = x.reshape(3, 4, 3, 2, 4, 2).transpose(0, 1, 2, 4, 3, 5).reshape(3, 4, 3, 4, 4)
    expected = np.zeros((3, 4, 3, 4, 4))
    np.put_along_axis(expected, windows.argmax(axis=-1)[..., None], g[..., None], axis=-1)
    expected = expected.reshape(3, 4, 3, 4, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(x.shape)
    np.testing.assert_array_equal(t.grad, expected)


def test_one_channel_convolution_matches_the_many_channel_path():
    """A one-channel input takes the tap-by-tap im2col; padding it with a zero channel
    (and the kernel with a zero slice) takes the general path: same result."""
    x = RNG.standard_normal((5, 1, 9, 7))
    w = RNG.standard_normal((4, 1, 3, 2))
    x2 = np.concatenate([x, np.zeros_like(x)], axis=1)
    w2 = np.concatenate([w, np.zeros_like(w)], axis=1)
    opts = dict(stride=(2, 1), padding=1, dilation=(1, 2))
    t = mg.tensor(x, requires_grad=True)
    wt = mg.tensor(w, requires_grad=True)
    g = RNG.standard_normal(F.conv2d(t, wt, **opts).shape)
    F.conv2d(t, wt, **opts).backward(g)
    t2 = mg.tensor(x2, requires_grad=True)
    w2t = mg.tensor(w2, requires_grad=True)
    F.conv2d(t2, w2t, **opts).backward(g)
    np.testing.assert_allclose(F.conv2d(t, wt, **opts).data, F.conv2d(t2, w2t, **opts).data,
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(wt.grad, w2t.grad[:, :1], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(t.grad, t2.grad[:, :1], rtol=1e-12, atol=1e-12)


def test_float32_gelu_against_exact_erf():
    """float32 GELU takes Phi(x) as one rational in x^2 (not erf(x / sqrt 2)): as accurate
    as float32 erf, exactly 0 and 1 beyond its clip, never outside [0, 1] there."""
    x = np.concatenate([np.linspace(-8, 8, 160001), RNG.standard_normal(20000) * 3,
                        [0.0, 1e-30, 5.5, 5.6, -5.6, 1e4, -1e4]]).astype(np.float32)
    t = mg.tensor(x, requires_grad=True)
    y = F.gelu(t)
    g = RNG.uniform(0.5, 2.0, x.shape).astype(np.float32)  # a random upstream gradient
    y.backward(g)
    xd = x.astype(np.float64)
    phi = np.array([0.5 + 0.5 * math.erf(v / math.sqrt(2)) for v in xd])
    pdf = np.exp(-xd * xd / 2) / math.sqrt(2 * math.pi)
    assert y.dtype == np.float32 and t.grad.dtype == np.float32
    exact = xd * phi  # Phi within 2.5e-7 of exact, relative 6e-7 (~10 ulps) where x > -1
    assert np.all(np.abs(y.data - exact) <= 6e-7 * np.abs(exact) + 2.5e-7 * np.abs(xd))
    assert np.all(np.abs(t.grad - g * (phi + xd * pdf)) <= 6e-7 * g * (1 + np.abs(xd)))
    far = np.abs(x) >= 5.5
    assert np.array_equal(y.data[far], np.where(x[far] > 0, x[far], 0))


def _gelu_ln_net(x, w, b, g):
    """layer_norm then GELU then layer_norm: two ops of each kind that use the work buffer."""
    h = F.gelu(F.layer_norm(x, (x.shape[-1],), w, b))
    return F.layer_norm(F.gelu(h * 1.5), (x.shape[-1],), w, b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_work_buffer_never_leaks_into_results(dtype):
    """GELU and LayerNorm keep their temporaries in one reused per-thread buffer and write
    dx into the upstream gradient they own: results, saved values, a second backward
    (retain_graph) and the caller's gradient array must all be untouched by that."""
    shape = (6, 5, 64)
    x0 = RNG.standard_normal(shape).astype(dtype)
    w0 = RNG.uniform(0.5, 1.5, 64).astype(dtype)
    b0 = RNG.standard_normal(64).astype(dtype)
    g = RNG.standard_normal(shape).astype(dtype)
    g_copy = g.copy()
    x, w, b = (mg.tensor(a, requires_grad=True) for a in (x0, w0, b0))
    y = _gelu_ln_net(x, w, b, g)
    y_before = y.data.copy()
    other = _gelu_ln_net(mg.tensor(x0[::-1].copy()), w, b, g)  # same shapes, other values
    y.backward(g, retain_graph=True)
    assert np.array_equal(g, g_copy)          # the caller's array was not overwritten
    assert np.array_equal(y.data, y_before)   # nor the result, by the later calls
    first = [t.grad.copy() for t in (x, w, b)]
    for t in (x, w, b):
        t.grad = None
    y.backward(g)                             # again: the saved values are intact
    for t, grad in zip((x, w, b), first):
        np.testing.assert_array_equal(t.grad, grad)
    assert other.shape == shape
    # and the same numbers as the composition from float64 primitives (no fused op)
    xs, ws, bs = (mg.tensor(a.astype(np.float64), requires_grad=True) for a in (x0, w0, b0))

    def ln(v):
        c = v - v.mean(axis=-1, keepdims=True)
        return c / ((c * c).mean(axis=-1, keepdims=True) + 1e-5).sqrt() * ws + bs

    def gelu(v):
        return v * (mg.erf(v * (1 / math.sqrt(2))) * 0.5 + 0.5)
    (ln(gelu(gelu(ln(xs)) * 1.5)) * mg.tensor(g.astype(np.float64))).sum().backward()
    tol = 2e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(y.data, ln(gelu(gelu(ln(xs)) * 1.5)).data, rtol=tol, atol=tol)
    for t, ref in zip((x, w, b), (xs, ws, bs)):
        np.testing.assert_allclose(t.grad, ref.grad, rtol=tol, atol=tol)


def test_work_buffer_is_per_thread():
    """Two threads running GELU and LayerNorm at once each get their own work buffer."""
    import threading
    inputs = [RNG.standard_normal((64, 256)).astype(np.float32) for _ in range(2)]
    expected = [F.layer_norm(F.gelu(mg.tensor(a)), (256,)).data for a in inputs]
    errors = []

    def run(i):
        for _ in range(200):
            out = F.layer_norm(F.gelu(mg.tensor(inputs[i])), (256,)).data
            if not np.array_equal(out, expected[i]):
                errors.append(i)
                return
    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
