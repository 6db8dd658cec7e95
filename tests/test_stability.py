"""The numerical stability table: extreme inputs give finite, correct answers."""
import numpy as np
import pytest

import microgd as mg
from microgd.nn import functional as F


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("x", [1e4, -1e4])
def test_sigmoid_and_tanh_saturate_cleanly(dtype, x):
    t = mg.tensor([x], requires_grad=True, dtype=dtype)
    s = t.sigmoid()
    assert s.item() == (1.0 if x > 0 else 0.0)
    s.backward(np.array([2.5], dtype))
    assert t.grad[0] == 0.0
    t.grad = None
    th = t.tanh()
    assert th.item() == np.sign(x)
    th.backward(np.array([-1.5], dtype))
    assert t.grad[0] == 0.0


@pytest.mark.parametrize("big", [1e4, -1e4])
def test_log_softmax_logsumexp_cross_entropy_at_extreme_logits(big):
    z = mg.tensor([[big, 0.0, -big]], requires_grad=True)
    ls = z.log_softmax()
    lse = z.logsumexp(axis=1)
    ce = F.cross_entropy(z, np.array([1]))
    for out in (ls, lse, ce):
        assert np.all(np.isfinite(out.data))
    np.testing.assert_allclose(lse.data, [abs(big)], rtol=1e-6)
    np.testing.assert_allclose(ce.item(), abs(big), rtol=1e-6)
    ce.backward()
    assert np.all(np.isfinite(z.grad))
    np.testing.assert_allclose(z.grad, np.eye(3)[[0 if big > 0 else 2]] - np.eye(3)[[1]],
                               atol=1e-6)


@pytest.mark.parametrize("x", [1e4, -1e4])
def test_bce_with_logits_at_extremes(x):
    z = mg.tensor([x, x], requires_grad=True)
    loss = F.binary_cross_entropy_with_logits(z, np.array([1.0, 0.0], np.float32), "sum")
    np.testing.assert_allclose(loss.item(), abs(x), rtol=1e-6)
    loss.backward()
    np.testing.assert_allclose(z.grad, [0.0 if x > 0 else -1.0, 1.0 if x > 0 else 0.0])


@pytest.mark.parametrize("x", [1e4, -1e4, 0.0, 30.0])
def test_softplus_composed_from_logsumexp(x):
    t = mg.tensor([x], requires_grad=True, dtype=np.float64)
    sp = mg.logsumexp(mg.stack([mg.tensor([0.0], dtype=np.float64), t]), axis=0)  # log(1+e^x)
    expected = max(x, 0) + np.log1p(np.exp(-abs(x)))
    np.testing.assert_allclose(sp.data, [expected], rtol=1e-12)
    sp.backward(np.array([0.7]))
    np.testing.assert_allclose(t.grad, [0.7 / (1 + np.exp(-x)) if x > -700 else 0.0])


@pytest.mark.parametrize("dtype,tiny", [(np.float64, 1e-300), (np.float32, 1e-38)])
def test_log_at_tiny_positives(dtype, tiny):
    t = mg.tensor([tiny], requires_grad=True, dtype=dtype)
    out = t.log()
    np.testing.assert_allclose(out.data, np.log(np.array([tiny], dtype)), rtol=1e-6)
    out.backward(np.array([0.5], dtype))
    assert np.isfinite(t.grad).all() and t.grad[0] == pytest.approx(0.5 / tiny, rel=1e-5)


@pytest.mark.parametrize("scale", [1e-30, 1e30])
def test_adam_with_extreme_gradients_float64(scale):
    """Adam's step is scale-free: about lr in the gradient's direction, whatever its size."""
    p = mg.nn.Parameter(np.array([1.0, -1.0]))
    opt = mg.optim.Adam([p], lr=0.01, eps=1e-300)
    p.grad = np.array([scale, -scale])
    opt.step()
    np.testing.assert_allclose(p.data, [0.99, -0.99], rtol=1e-12)


@pytest.mark.parametrize("scale", [1e-30, 1e30])
def test_adam_with_extreme_gradients_float32_stays_finite(scale):
    """In float32, g**2 underflows (1e-60) or overflows (1e60) exactly as in PyTorch: the step
    is eps-limited or zero, but nothing becomes NaN and the weights stay finite."""
    p = mg.nn.Parameter(np.array([1.0, -1.0], np.float32))
    opt = mg.optim.Adam([p], lr=0.01)
    for _ in range(3):
        p.grad = np.array([scale, -scale], np.float32)
        with np.errstate(over="ignore"):
            opt.step()
    assert np.all(np.isfinite(p.data)) and np.all(np.abs(p.data) <= 1.0)


def test_mean_over_empty_axis_is_a_clear_error():
    with pytest.raises(ValueError, match=r"mean over an empty axis is undefined \(shape "
                                         r"\(0, 3\), axis 0\)"):
        mg.tensor(np.zeros((0, 3))).mean(axis=0)
    with pytest.raises(ValueError, match="empty axis"):
        mg.tensor(np.zeros((0,))).logsumexp()
