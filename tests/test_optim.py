"""Optimizers against their update formulas worked by hand, closed forms, schedulers,
and state_dict round trips."""
import math

import numpy as np
import pytest

import microgd as mg
from microgd import optim
from microgd.optim import lr_scheduler as sched


def quadratic_param(x0):
    return mg.nn.Parameter(np.array(x0, dtype=np.float64))


def run(opt_factory, x0, grad_fn, steps):
    p = quadratic_param(x0)
    opt = opt_factory([p])
    path = []
    for _ in range(steps):
        opt.zero_grad()
        p.grad = grad_fn(p.data)
        opt.step()
        path.append(p.data.copy())
    return np.array(path)


def test_sgd_on_half_x_squared_has_the_closed_form():
    x0 = np.array([3.0, -2.0])
    lr = 0.1
    p = quadratic_param(x0)
    opt = optim.SGD([p], lr=lr)
    for t in range(1, 21):
        opt.zero_grad()
        loss = (p * p).sum() * 0.5  # J = ½‖x‖², ∇J = x
        loss.backward()
        opt.step()
        np.testing.assert_allclose(p.data, (1 - lr) ** t * x0, rtol=1e-12)


def test_sgd_momentum_dampening_nesterov_weight_decay_by_hand():
    g = lambda x: 2 * x + 1  # noqa: E731
    lr, mu, damp, wd = 0.1, 0.9, 0.2, 0.01
    path = run(lambda ps: optim.SGD(ps, lr, momentum=mu, dampening=damp, weight_decay=wd),
               [1.0], g, 3)
    x, buf = 1.0, None
    for t in range(3):
        d = g(x) + wd * x
        buf = d if buf is None else mu * buf + (1 - damp) * d
        x = x - lr * buf
        assert path[t][0] == pytest.approx(x, rel=1e-12)
    path = run(lambda ps: optim.SGD(ps, lr, momentum=mu, nesterov=True), [1.0], g, 3)
    x, buf = 1.0, None
    for t in range(3):
        d = g(x)
        buf = d if buf is None else mu * buf + d
        x = x - lr * (d + mu * buf)
        assert path[t][0] == pytest.approx(x, rel=1e-12)


@pytest.mark.parametrize("centered", [False, True])
@pytest.mark.parametrize("momentum", [0.0, 0.5])
def test_rmsprop_by_hand(centered, momentum):
    g = lambda x: 3 * x ** 2 - 1  # noqa: E731
    lr, alpha, eps, wd = 0.01, 0.9, 1e-8, 0.1
    path = run(lambda ps: optim.RMSprop(ps, lr, alpha, eps, wd, momentum, centered), [0.7], g, 4)
    x, sq, ga, buf = 0.7, 0.0, 0.0, 0.0
    for t in range(4):
        d = g(x) + wd * x
        sq = alpha * sq + (1 - alpha) * d * d
        if centered:
            ga = alpha * ga + (1 - alpha) * d
            avg = math.sqrt(sq - ga * ga) + eps
        else:
            avg = math.sqrt(sq) + eps
        if momentum:
            buf = momentum * buf + d / avg
            x -= lr * buf
        else:
            x -= lr * d / avg
        assert path[t][0] == pytest.approx(x, rel=1e-12)


def test_adagrad_by_hand():
    g = lambda x: x - 2  # noqa: E731
    lr, decay, wd, init, eps = 0.5, 0.1, 0.01, 0.2, 1e-10
    path = run(lambda ps: optim.Adagrad(ps, lr, decay, wd, init, eps), [1.0], g, 4)
    x, s = 1.0, init
    for t in range(1, 5):
        d = g(x) + wd * x
        clr = lr / (1 + (t - 1) * decay)
        s += d * d
        x -= clr * d / (math.sqrt(s) + eps)
        assert path[t - 1][0] == pytest.approx(x, rel=1e-12)


@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("cls", ["Adam", "AdamW"])
def test_adam_and_adamw_by_hand(cls, amsgrad):
    g = lambda x: math.sin(3 * x) * 4  # noqa: E731  (changes sign: exercises amsgrad)
    lr, b1, b2, eps, wd = 0.1, 0.8, 0.95, 1e-8, 0.05
    opt_cls = getattr(optim, cls)
    path = run(lambda ps: opt_cls(ps, lr, (b1, b2), eps, wd, amsgrad), [0.4],
               lambda x: np.array([g(x[0])]), 6)
    x, m, v, vmax = 0.4, 0.0, 0.0, 0.0
    for t in range(1, 7):
        d = g(x)
        if cls == "AdamW":
            x *= 1 - lr * wd
        else:
            d += wd * x
        m = b1 * m + (1 - b1) * d
        v = b2 * v + (1 - b2) * d * d
        vmax = max(vmax, v)
        vv = vmax if amsgrad else v
        x -= lr / (1 - b1 ** t) * m / (math.sqrt(vv) / math.sqrt(1 - b2 ** t) + eps)
        assert path[t - 1][0] == pytest.approx(x, rel=1e-10)


def test_defaults_match_pytorch():
    p = [quadratic_param([1.0])]
    assert optim.Adam(p).defaults == dict(lr=0.001, betas=(0.9, 0.999), eps=1e-8,
                                          weight_decay=0, amsgrad=False)
    assert optim.AdamW(p).defaults["weight_decay"] == 0.01
    assert optim.RMSprop(p).defaults == dict(lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0,
                                             momentum=0, centered=False)
    assert optim.Adagrad(p).defaults == dict(lr=0.01, lr_decay=0, weight_decay=0,
                                             initial_accumulator_value=0, eps=1e-10)
    assert optim.SGD(p, lr=0.1).defaults == dict(lr=0.1, momentum=0, dampening=0,
                                                 nesterov=False, weight_decay=0)


def test_param_groups_and_zero_grad():
    a, b = quadratic_param([1.0]), quadratic_param([1.0])
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    a.grad, b.grad = np.array([1.0]), np.array([1.0])
    opt.step()
    assert a.data[0] == pytest.approx(0.9) and b.data[0] == pytest.approx(0.5)
    opt.zero_grad()
    assert a.grad is None and b.grad is None
    c = quadratic_param([0.0])  # no grad: skipped
    opt.add_param_group({"params": [c]})
    opt.step()
    assert c.data[0] == 0.0


@pytest.mark.parametrize("make", [
    lambda ps: optim.SGD(ps, 0.1, momentum=0.9, nesterov=True),
    lambda ps: optim.RMSprop(ps, centered=True, momentum=0.3),
    lambda ps: optim.Adagrad(ps, lr=0.3),
    lambda ps: optim.Adam(ps, lr=0.05, amsgrad=True),
    lambda ps: optim.AdamW(ps, lr=0.05),
])
def test_state_dict_round_trip_resumes_identically(tmp_path, make):
    g = lambda x: np.sin(x) + x  # noqa: E731
    p = quadratic_param([0.5, -1.0])
    opt = make([p])
    for _ in range(3):
        p.grad = g(p.data)
        opt.step()
    mg.save(opt.state_dict(), tmp_path / "opt.npz")
    saved_x = p.data.copy()
    for _ in range(3):
        p.grad = g(p.data)
        opt.step()
    expected = p.data.copy()

    q = quadratic_param(saved_x)
    opt2 = make([q])
    opt2.load_state_dict(mg.load(tmp_path / "opt.npz"))
    for _ in range(3):
        q.grad = g(q.data)
        opt2.step()
    np.testing.assert_array_equal(q.data, expected)


def test_optimizer_misconfiguration():
    p = [quadratic_param([1.0])]
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.Adam([])
    with pytest.raises(ValueError, match="learning rate must be a non-negative.*-0.1"):
        optim.SGD(p, lr=-0.1)
    with pytest.raises(ValueError, match="learning rate"):
        optim.Adam(p, lr=-1)
    with pytest.raises(ValueError, match="momentum"):
        optim.SGD(p, lr=0.1, momentum=-1)
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD(p, lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="betas"):
        optim.Adam(p, betas=(1.0, 0.9))
    with pytest.raises(ValueError, match="weight_decay"):
        optim.Adam(p, weight_decay=-1)
    with pytest.raises(TypeError, match="not a Tensor"):
        optim.SGD([np.zeros(2)], lr=0.1)
    with pytest.raises(ValueError, match="does not require grad"):
        optim.SGD([mg.tensor([1.0])], lr=0.1)


def test_schedulers_follow_closed_forms():
    def lrs(make, n=12, lr=0.5):
        opt = optim.SGD([quadratic_param([1.0])], lr=lr)
        s = make(opt)
        out = [s.get_last_lr()[0]]
        for _ in range(n):
            opt.step()
            s.step()
            out.append(s.get_last_lr()[0])
            assert opt.param_groups[0]["lr"] == out[-1]
        return np.array(out)

    e = np.arange(13)
    np.testing.assert_allclose(lrs(lambda o: sched.ExponentialLR(o, 0.9)), 0.5 * 0.9 ** e)
    np.testing.assert_allclose(lrs(lambda o: sched.StepLR(o, 5, 0.1)), 0.5 * 0.1 ** (e // 5))
    np.testing.assert_allclose(lrs(lambda o: sched.CosineAnnealingLR(o, 10, 0.01)),
                               0.01 + 0.49 * (1 + np.cos(np.pi * e / 10)) / 2)
    np.testing.assert_allclose(lrs(lambda o: sched.LambdaLR(o, lambda k: 1 / (k + 1))),
                               0.5 / (e + 1))
    np.testing.assert_allclose(lrs(lambda o: sched.ConstantLR(o, 0.5, 4)),
                               np.where(e < 4, 0.25, 0.5))
