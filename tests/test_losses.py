"""Every loss against its numpy formula, for every reduction, plus gradients."""
import numpy as np
import pytest

import microgd as mg
from microgd.nn import functional as F


def reduce(x, reduction):
    return {"mean": np.mean, "sum": np.sum, "none": lambda a: a}[reduction](x)


REDUCTIONS = ["mean", "sum", "none"]


def pair(rng, shape=(6, 3)):
    x = mg.tensor(rng.standard_normal(shape), requires_grad=True, dtype=np.float64)
    y = rng.standard_normal(shape)
    return x, y


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_regression_losses(rng, reduction):
    x, y = pair(rng)
    d = x.data - y
    cases = {
        "mse": (F.mse_loss, mg.nn.MSELoss, d ** 2),
        "l1": (F.l1_loss, mg.nn.L1Loss, np.abs(d)),
        "huber": (F.huber_loss, mg.nn.HuberLoss,
                  np.where(np.abs(d) < 1.0, 0.5 * d ** 2, np.abs(d) - 0.5)),
    }
    for fn, cls, ref in cases.values():
        np.testing.assert_allclose(fn(x, y, reduction=reduction).data, reduce(ref, reduction))
        np.testing.assert_allclose(cls(reduction=reduction)(x, y).data, reduce(ref, reduction))
        assert mg.gradcheck(lambda t, fn=fn: fn(t, y, reduction=reduction), [x])
    delta = 0.3
    ref = np.where(np.abs(d) < delta, 0.5 * d ** 2, delta * (np.abs(d) - 0.5 * delta))
    np.testing.assert_allclose(F.huber_loss(x, y, reduction, delta=delta).data,
                               reduce(ref, reduction))


def log_softmax_np(z):
    m = z.max(axis=-1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=-1, keepdims=True))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_and_nll(rng, reduction):
    x = mg.tensor(rng.standard_normal((7, 4)), requires_grad=True, dtype=np.float64)
    t = rng.integers(0, 4, 7)
    ref = -log_softmax_np(x.data)[np.arange(7), t]
    np.testing.assert_allclose(F.cross_entropy(x, t, reduction).data, reduce(ref, reduction))
    np.testing.assert_allclose(mg.nn.CrossEntropyLoss(reduction)(x, mg.tensor(t)).data,
                               reduce(ref, reduction))
    logp = log_softmax_np(x.data)
    np.testing.assert_allclose(F.nll_loss(mg.tensor(logp), t, reduction).data,
                               reduce(-logp[np.arange(7), t], reduction))
    np.testing.assert_allclose(mg.nn.NLLLoss(reduction)(mg.tensor(logp), t).data,
                               reduce(-logp[np.arange(7), t], reduction))
    assert mg.gradcheck(lambda z: F.cross_entropy(z, t, reduction), [x])


def test_cross_entropy_gradient_is_softmax_minus_onehot(rng):
    x = mg.tensor(rng.standard_normal((5, 3)), requires_grad=True, dtype=np.float64)
    t = np.array([0, 2, 1, 1, 0])
    F.cross_entropy(x, t, reduction="sum").backward()
    sm = np.exp(log_softmax_np(x.data))
    np.testing.assert_allclose(x.grad, sm - np.eye(3)[t])
    single = mg.tensor([1.0, 2.0, 3.0])
    assert F.cross_entropy(single, 2).item() == pytest.approx(-log_softmax_np(single.data)[2])


@pytest.mark.parametrize("big", [1e4, -1e4])
def test_cross_entropy_finite_at_extreme_logits(big):
    x = mg.tensor([[big, 0.0, -big], [0.0, big, 0.0]], requires_grad=True)
    loss = F.cross_entropy(x, np.array([2, 1]))
    assert np.isfinite(loss.item())
    loss.backward()
    assert np.all(np.isfinite(x.grad))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropies(rng, reduction):
    z = mg.tensor(rng.standard_normal((5, 2)), requires_grad=True, dtype=np.float64)
    y = (rng.random((5, 2)) > 0.5).astype(np.float64)
    p = 1 / (1 + np.exp(-z.data))
    ref = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    np.testing.assert_allclose(F.binary_cross_entropy_with_logits(z, y, reduction).data,
                               reduce(ref, reduction))
    np.testing.assert_allclose(mg.nn.BCEWithLogitsLoss(reduction)(z, y).data,
                               reduce(ref, reduction))
    probs = mg.tensor(p, requires_grad=True)
    np.testing.assert_allclose(F.binary_cross_entropy(probs, y, reduction).data,
                               reduce(ref, reduction))
    np.testing.assert_allclose(mg.nn.BCELoss(reduction)(probs, y).data, reduce(ref, reduction))
    assert mg.gradcheck(lambda t: F.binary_cross_entropy_with_logits(t, y, reduction), [z])
    assert mg.gradcheck(lambda t: F.binary_cross_entropy(t, y, reduction), [probs])


def test_bce_with_logits_stable_and_bce_clamps_like_pytorch():
    z = mg.tensor([1e4, -1e4, 1e4, -1e4], requires_grad=True)
    y = np.array([1.0, 0.0, 0.0, 1.0], np.float32)
    loss = F.binary_cross_entropy_with_logits(z, y, reduction="none")
    np.testing.assert_allclose(loss.data, [0, 0, 1e4, 1e4])
    g = np.array([0.5, -2.0, 3.0, 1.5], np.float32)   # an upstream gradient of its own
    loss.backward(g)
    np.testing.assert_allclose(z.grad, np.array([0, 0, 1, -1]) * g)
    p = mg.tensor([0.0, 1.0], dtype=np.float64)
    np.testing.assert_allclose(F.binary_cross_entropy(p, [1.0, 0.0], "none").data, [100, 100])


def test_loss_errors():
    x = mg.tensor(np.zeros((4, 10)))
    with pytest.raises(ValueError, match=r"cross_entropy: target contains label 10 but there "
                                         r"are 10 classes \(valid labels are 0..9\)"):
        F.cross_entropy(x, np.array([1, 2, 10, 0]))
    with pytest.raises(ValueError, match="label -1"):
        F.cross_entropy(x, np.array([1, 2, -1, 0]))
    with pytest.raises(TypeError, match="integer class labels.*float"):
        F.cross_entropy(x, np.array([1.0, 2.0, 3.0, 0.0]))
    with pytest.raises(ValueError, match=r"needs a target of shape \(4,\), got \(3,\)"):
        F.cross_entropy(x, np.array([1, 2, 3]))
    with pytest.raises(ValueError, match="reduction must be one of"):
        F.mse_loss(x, x, reduction="avg")
    with pytest.raises(ValueError, match="reduction must be one of"):
        mg.nn.MSELoss(reduction="avg")
    with pytest.raises(ValueError, match=r"mse_loss: input shape \(4, 10\) and target shape "
                                         r"\(4, 1\) differ"):
        F.mse_loss(x, np.zeros((4, 1)))
    with pytest.raises(ValueError, match="probabilities in"):
        F.binary_cross_entropy(mg.tensor([1.5]), [1.0])
