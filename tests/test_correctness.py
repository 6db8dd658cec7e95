"""Regression tests for the silently wrong answers of issue 12, each against a closed form
or PyTorch's documented value (random upstream gradients throughout)."""
import os
import subprocess
import sys

import numpy as np
import pytest

import microgd as mg

F = mg.nn.F


def test_transpose_with_mixed_sign_axes_backpropagates_the_inverse_permutation(rng):
    x = mg.tensor(rng.standard_normal((3, 4, 5, 6)), requires_grad=True, dtype=np.float64)
    y = mg.transpose(x, (-2, -1, 1, 0))
    g = rng.standard_normal(y.shape)
    y.backward(g)
    np.testing.assert_array_equal(y.data, np.transpose(x.data, (2, 3, 1, 0)))
    np.testing.assert_array_equal(x.grad, np.transpose(g, np.argsort((2, 3, 1, 0))))


def test_bce_with_logits_at_logit_zero_has_gradient_sigmoid_minus_target():
    x = mg.tensor(np.zeros(3), requires_grad=True, dtype=np.float64)
    t = np.array([1.0, 0.0, 0.5])
    F.binary_cross_entropy_with_logits(x, t).backward()
    np.testing.assert_allclose(x.grad, (0.5 - t) / 3)     # PyTorch: -0.1667 for target 1


def test_bce_with_logits_gradient_everywhere_and_finite_at_extremes(rng):
    x = mg.tensor([-1e4, -3.0, 0.0, 2.0, 1e4], requires_grad=True, dtype=np.float64)
    t = rng.uniform(size=5)
    w = rng.standard_normal(5)
    loss = F.binary_cross_entropy_with_logits(x, t, reduction="none")
    (loss * w).sum().backward()
    sig = 1 / (1 + np.exp(-x.data))
    np.testing.assert_allclose(x.grad, (sig - t) * w)
    assert np.isfinite(loss.data).all()


def test_bce_at_p_zero_has_pytorchs_huge_gradient_not_zero():
    p = mg.tensor([0.0, 1.0, 0.3], requires_grad=True, dtype=np.float64)
    y = np.array([1.0, 0.0, 1.0])
    loss = F.binary_cross_entropy(p, y, reduction="none")
    np.testing.assert_allclose(loss.data, [100.0, 100.0, -np.log(0.3)])  # log clamped at -100
    g = np.array([1.0, 2.0, 3.0])
    loss.backward(g)
    np.testing.assert_allclose(p.grad, [-1e12, 2e12, 3 * (0.3 - 1) / (0.3 * 0.7)])


def test_pow_backward_at_base_zero_is_zero_as_in_pytorch():
    x = mg.tensor([0.0, 2.0], requires_grad=True, dtype=np.float64)
    (x ** 0.0).backward(np.array([1.5, 1.5]))
    np.testing.assert_array_equal(x.grad, [0.0, 0.0])       # d/dx x^0 = 0, also at 0
    y = mg.tensor([0.5, 2.0], requires_grad=True, dtype=np.float64)
    base = mg.tensor([0.0, 0.0], dtype=np.float64)
    (base ** y).backward(np.array([1.0, 1.0]))
    np.testing.assert_array_equal(y.grad, [0.0, 0.0])       # d/dy 0^y = 0 for y >= 0
    h = mg.tensor([0.0, 3.0], requires_grad=True, dtype=np.float64)
    (g,) = mg.grad((h ** 2.0).sum(), h, create_graph=True)
    (hh,) = mg.grad((g * mg.tensor([1.0, 1.0], dtype=np.float64)).sum(), h)
    np.testing.assert_array_equal(hh.data, [2.0, 2.0])      # no NaN in the second derivative


@pytest.mark.parametrize("a,b,expected", [
    (np.int32, np.float32, np.float32), (np.int64, np.float32, np.float32),
    (np.float32, np.float64, np.float64), (np.int32, np.int64, np.int64),
    (np.bool_, np.int32, np.int32), (np.bool_, np.float32, np.float32),
    (np.uint8, np.int8, np.int16),
])
def test_tensor_tensor_promotion_is_pytorchs(a, b, expected):
    x = mg.tensor(np.ones(2, dtype=a))
    y = mg.tensor(np.ones(2, dtype=b))
    for out in (x + y, y + x, x * y, mg.maximum(x, y), mg.where(np.ones(2, bool), x, y)):
        assert out.dtype == expected


def test_scalars_never_widen_a_tensor_of_their_kind():
    assert (mg.tensor(np.ones(2, np.float32)) * 2.5).dtype == np.float32
    assert (mg.tensor(np.ones(2, np.int32)) * 2).dtype == np.int32
    assert (mg.tensor(np.ones(2, np.int32)) * 2.5).dtype == mg.get_default_dtype()
    assert mg.concatenate([mg.tensor(np.ones(2, np.int32)),
                           mg.tensor(np.ones(2, np.float32))]).dtype == np.float32


def test_promotion_keeps_gradients_in_the_parameters_dtype(rng):
    w = mg.tensor(rng.standard_normal(3).astype(np.float32), requires_grad=True)
    idx = mg.tensor(np.array([1, 2, 3], dtype=np.int32))
    y = w * idx
    assert y.dtype == np.float32
    y.backward(rng.standard_normal(3))
    assert w.grad.dtype == np.float32


def test_cross_entropy_on_an_empty_batch_is_a_clear_error():
    logits = mg.tensor(np.zeros((0, 3)), requires_grad=True)
    with pytest.raises(ValueError, match=r"cross_entropy: the batch is empty \(input shape "
                                         r"\(0, 3\)\)"):
        F.cross_entropy(logits, np.zeros(0, dtype=np.int64))
    total = F.cross_entropy(logits, np.zeros(0, dtype=np.int64), reduction="sum")
    assert total.item() == 0.0


@pytest.mark.parametrize("axis", [0, -1])
def test_zero_d_tensors_accept_axis_zero_and_minus_one(axis):
    x = mg.tensor(np.float64(1.5), requires_grad=True)
    for fn, expected in [(lambda t: t.sum(axis=axis), 1.5), (lambda t: t.mean(axis=axis), 1.5),
                         (lambda t: t.max(axis=axis), 1.5), (lambda t: t.softmax(axis), 1.0),
                         (lambda t: t.logsumexp(axis=axis), 1.5),
                         (lambda t: t.log_softmax(axis), 0.0)]:
        out = fn(x)
        assert out.shape == () and out.item() == pytest.approx(expected)


def test_squeeze_of_an_axis_whose_size_is_not_one_leaves_it():
    x = mg.tensor(np.ones((1, 3, 1)))
    assert x.squeeze(1).shape == (1, 3, 1)
    assert x.squeeze((0, 1)).shape == (3, 1)
    assert x.squeeze(-1).shape == (1, 3)


def test_bool_minus_bool_and_int_to_negative_power_say_what_is_wrong():
    m = mg.tensor(np.array([True, False]))
    with pytest.raises(TypeError, match="sub: subtracting two bool tensors is not supported"):
        m - m
    with pytest.raises(ValueError, match="pow: integers to negative integer powers are not "
                                         "allowed"):
        mg.tensor(np.array([1, 2])) ** -2


def test_error_classes_fit_pytorch_and_numpy_conventions():
    a = mg.tensor(np.ones((3, 4)))
    with pytest.raises(IndexError):
        a.sum(axis=5)
    with pytest.raises(ValueError):
        a.sum(axis=5)
    with pytest.raises(RuntimeError):
        a + mg.tensor(np.ones((5, 2)))
    with pytest.raises(ValueError):
        a @ mg.tensor(np.ones((5, 2)))
    assert issubclass(mg.ShapeError, RuntimeError) and issubclass(mg.AxisError, IndexError)


def test_anomaly_mode_finds_the_users_line_in_a_checkout_named_microgd(tmp_path):
    """The creation site is the innermost frame outside the package's own folder, so a
    user's script under any folder called 'microgd' still counts as the user's."""
    folder = tmp_path / "microgd" / "work"
    folder.mkdir(parents=True)
    script = folder / "script.py"
    script.write_text(
        "import numpy as np, microgd as mg\n"
        "z = mg.tensor(np.array([0.0]), requires_grad=True)\n"
        "with mg.detect_anomaly():\n"
        "    w = z.sqrt()\n"
        "    try:\n"
        "        w.backward(np.ones(1))\n"
        "    except mg.AnomalyError as e:\n"
        "        print(e)\n")
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(mg.__file__)))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         env=env, cwd=folder, timeout=60)
    assert "script.py:4 in <module>" in out.stdout, out.stdout + out.stderr
