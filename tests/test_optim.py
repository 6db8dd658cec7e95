"""Optimizers' update rules: SGD, RMSprop, Adagrad, Adam and AdamW against their update
formulas worked by hand and SGD against the closed form on a quadratic; then, for a range
of configurations, the in-place rules against the textbook formulas over 60 steps in
float64, and a step's allocations (no temporary per term). Validation, parameter groups,
state_dict round trips and schedulers are in tests/test_optim_api.py."""
import math
import tracemalloc

import numpy as np
import pytest
from optim_helpers import quadratic_param, run

import microgd as mg
from microgd import optim


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


# ----------------------------------------------------------------------------- trajectories
def reference_step(name, kw, x, g, s, t):
    """One step of torch.optim's documented algorithm, written the straightforward way (a new
    array per term); ``s`` is this parameter's state dict, ``t`` the step number from 1."""
    lr, wd = kw["lr"], kw.get("weight_decay", 0.01 if name == "AdamW" else 0)
    if name == "AdamW":
        x = x * (1 - lr * wd)
    else:
        g = g + wd * x
    if name == "SGD":
        mu, damp = kw.get("momentum", 0), kw.get("dampening", 0)
        if mu:
            s["b"] = g if t == 1 else mu * s["b"] + (1 - damp) * g
            g = g + mu * s["b"] if kw.get("nesterov") else s["b"]
        return x - lr * g
    if name == "RMSprop":
        a, mu = kw.get("alpha", 0.99), kw.get("momentum", 0)
        s["sq"] = a * s.get("sq", 0) + (1 - a) * g * g
        v = s["sq"]
        if kw.get("centered"):
            s["ga"] = a * s.get("ga", 0) + (1 - a) * g
            v = v - s["ga"] ** 2
        d = g / (np.sqrt(v) + kw.get("eps", 1e-8))
        if mu:
            s["b"] = mu * s.get("b", 0) + d
            d = s["b"]
        return x - lr * d
    if name == "Adagrad":
        s["G"] = s.get("G", kw.get("initial_accumulator_value", 0)) + g * g
        clr = lr / (1 + (t - 1) * kw.get("lr_decay", 0))
        return x - clr * g / (np.sqrt(s["G"]) + 1e-10)
    b1, b2 = kw.get("betas", (0.9, 0.999))
    s["m"] = b1 * s.get("m", 0) + (1 - b1) * g
    s["v"] = b2 * s.get("v", 0) + (1 - b2) * g * g
    s["vmax"] = np.maximum(s.get("vmax", 0), s["v"])
    v_hat = (s["vmax"] if kw.get("amsgrad") else s["v"]) / (1 - b2 ** t)
    return x - lr * (s["m"] / (1 - b1 ** t)) / (np.sqrt(v_hat) + kw.get("eps", 1e-8))


CONFIGS = [
    ("SGD", dict(lr=0.05)),
    ("SGD", dict(lr=0.05, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.05)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.3, momentum=0.7, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.7, weight_decay=0.1)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.3)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, betas=(0.3, 0.4), weight_decay=0.1)),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.1)),
    ("Adam", dict(lr=0.0)),                    # the moments move, the parameters stay
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, betas=(0.0, 0.5), amsgrad=True, weight_decay=0.2)),
    ("AdamW", dict(lr=0.0, weight_decay=0.2)),
]


@pytest.mark.parametrize("name,kw", CONFIGS, ids=[f"{n}-{kw}" for n, kw in CONFIGS])
def test_in_place_rules_follow_the_textbook_formulas_in_float64(name, kw):
    """Several parameters, two of the same shape (they share the optimizer's scratch array)
    and a 0-d one, for 60 steps of gradients that depend on the point: the in-place rule and
    the one-array-per-term reference agree to 1e-12. (The 0-d parameter caught a bug of the
    old rules: 0-d numpy arithmetic returns a scalar, so SGD's momentum buffer under weight
    decay was a copy that never moved.)"""
    rng = np.random.default_rng(0)
    shapes = [(3, 4), (4,), (), (3, 4)]
    start = [rng.standard_normal(shape) for shape in shapes]
    params = [mg.nn.Parameter(x.copy()) for x in start]
    opt = getattr(optim, name)(params, **kw)
    ref, states = [x.copy() for x in start], [{} for _ in shapes]
    for t in range(1, 61):
        noise = [rng.standard_normal(shape) for shape in shapes]
        for i, p in enumerate(params):
            p.grad = np.asarray(np.sin(3 * p.data) + 0.5 * p.data * noise[i])
            ref[i] = reference_step(name, kw, ref[i], np.sin(3 * ref[i]) + 0.5 * ref[i] * noise[i],
                                    states[i], t)
        grads = [p.grad.copy() for p in params]
        opt.step()
        for p, r, g in zip(params, ref, grads):
            np.testing.assert_allclose(p.data, r, rtol=1e-12, atol=1e-12)
            np.testing.assert_array_equal(p.grad, g)  # .grad is read, never written


def _peak_bytes(call) -> int:
    """The most memory numpy and Python held at once during ``call()`` (tracemalloc)."""
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("name,kw", CONFIGS, ids=[f"{n}-{kw}" for n, kw in CONFIGS])
def test_a_step_allocates_no_temporary_per_term(name, kw):
    """After the first step (which makes the state and the scratch array), a step allocates
    at most one array the size of the parameter: L2 weight decay's ∇J + λθ, Nesterov's μ·b
    when weight decay already holds the scratch array, or plain SGD's lr·∇J (the old rules
    made up to 9)."""
    p = mg.nn.Parameter(np.ones(100_000))
    opt = getattr(optim, name)([p], **kw)
    p.grad = np.full(100_000, 0.5)
    opt.step()
    peak = _peak_bytes(opt.step)
    plain_sgd = name == "SGD" and not kw.get("momentum") and not kw.get("weight_decay")
    extra = 1 if (kw.get("weight_decay") and name != "AdamW") or plain_sgd else 0
    assert peak < (extra + 0.5) * p.data.nbytes, (peak, p.data.nbytes)


def test_plain_sgd_on_a_huge_parameter_writes_into_its_scratch_array():
    """From 4 MB, lr·∇J goes into the scratch array, not a temporary: numpy asks the
    kernel for huge pages for a fresh array that big, zeroed on every step (T3 alone in a
    process: 122.8 ms a step with a temporary, 105.1 with the scratch array). The rule is
    unchanged: θ − lr·∇J to the last bit, ∇J untouched."""
    rng = np.random.default_rng(1)
    theta = rng.standard_normal(1 << 19)  # float64: exactly 4 MB
    p = mg.nn.Parameter(theta.copy())
    opt = optim.SGD([p], lr=0.3)
    for _ in range(2):  # the first step makes the scratch array
        p.grad = rng.standard_normal(theta.shape)
        expected = p.data - 0.3 * p.grad
        grad = p.grad.copy()
        peak = _peak_bytes(opt.step)
        np.testing.assert_array_equal(p.data, expected)
        np.testing.assert_array_equal(p.grad, grad)
    assert peak < 0.5 * p.data.nbytes, (peak, p.data.nbytes)


def test_adam_on_float16_parameters_keeps_moving():
    """The folded denominator (√v̂ + ε) / step_size is about |∇J| / lr, which overflows
    float16 (max 65504) for |∇J| = 200, lr = 1e-3: float16 takes the unfolded form."""
    p = mg.nn.Parameter(np.zeros(4, np.float16))
    opt = optim.Adam([p], lr=1e-3)
    ref, state = np.zeros(4), {}
    for t in range(1, 6):
        g = np.array([200.0, -200.0, 0.5, 3.0])
        p.grad = g.astype(np.float16)
        opt.step()
        ref = reference_step("Adam", dict(lr=1e-3), ref, g, state, t)
        np.testing.assert_allclose(p.data.astype(np.float64), ref, rtol=2e-3, atol=1e-6)
    assert np.all(np.abs(p.data) > 0)
