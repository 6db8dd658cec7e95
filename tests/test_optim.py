"""Optimizers against their update formulas worked by hand, closed forms, schedulers,
and state_dict round trips."""
import math
import tracemalloc

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


# ----------------------------------------------------------------------------- validation
BAD_HYPERPARAMETERS = [  # (optimizer, keyword arguments, argument named in the message, value)
    *[(name, dict(lr=lr), "learning rate", str(lr))
      for name in ("SGD", "RMSprop", "Adagrad", "Adam", "AdamW") for lr in (math.nan, -0.5)],
    ("Adam", dict(lr=math.inf), "learning rate must be finite", "inf"),
    *[(name, dict(weight_decay=-0.1), "weight_decay", "-0.1")
      for name in ("SGD", "RMSprop", "Adagrad", "Adam", "AdamW")],
    ("SGD", dict(momentum=-0.9), "momentum", "-0.9"),
    ("SGD", dict(momentum=math.nan), "momentum", "nan"),
    ("SGD", dict(dampening=math.nan), "dampening", "nan"),
    ("RMSprop", dict(momentum=-1), "momentum", "-1"),
    ("RMSprop", dict(alpha=-0.5), "alpha", "-0.5"),
    ("RMSprop", dict(eps=-1e-8), "eps", "-1e-08"),
    ("Adagrad", dict(lr_decay=-0.1), "lr_decay", "-0.1"),
    ("Adagrad", dict(initial_accumulator_value=-1), "initial_accumulator_value", "-1"),
    ("Adagrad", dict(eps=math.nan), "eps", "nan"),
    ("Adam", dict(eps=-1e-8), "eps", "-1e-08"),
    ("AdamW", dict(eps=math.inf), "eps must be finite", "inf"),
    *[("Adam", dict(betas=b), "betas must be in [0, 1)", str(tuple(b)))
      for b in [(1.0, 0.9), (0.9, -0.1), (math.nan, 0.9), (0.9, 0.99, 0.5)]],
    ("SGD", dict(nesterov=True, momentum=0.9, dampening=0.1), "Nesterov", "dampening = 0"),
]


@pytest.mark.parametrize("name,kw,arg,value", BAD_HYPERPARAMETERS)
def test_invalid_hyperparameters_raise_naming_optimizer_argument_and_value(name, kw, arg, value):
    p = [quadratic_param([1.0])]
    kw = {"lr": 0.1, **kw}
    with pytest.raises(ValueError) as info:
        getattr(optim, name)(p, **kw)
    message = str(info.value)
    assert message.startswith(f"{name}: ") and arg in message and value in message, message


def test_invalid_hyperparameter_in_a_group_names_the_group_and_changes_nothing():
    a, b = quadratic_param([1.0]), quadratic_param([2.0])
    opt = optim.Adam([a], lr=0.1)
    with pytest.raises(ValueError, match=r"Adam: learning rate must be a non-negative number, "
                                         r"got nan \(param group 1\)"):
        opt.add_param_group({"params": [b], "lr": math.nan})
    with pytest.raises(ValueError, match=r"betas must be in \[0, 1\), got \(0.9, 1.5\) "
                                         r"\(param group 0\)"):
        optim.Adam([{"params": [b], "betas": [0.9, 1.5]}])
    with pytest.raises(TypeError, match="SGD: momentum must be a number, got str '0.9'"):
        optim.SGD([b], lr=0.1, momentum="0.9")
    assert len(opt.param_groups) == 1
    opt.add_param_group({"params": [b], "betas": [0.5, 0.6]})  # a list is taken as a tuple
    assert opt.param_groups[1]["betas"] == (0.5, 0.6)


def test_a_parameter_may_appear_only_once():
    a, b = quadratic_param([1.0]), quadratic_param([2.0])
    with pytest.raises(ValueError, match=r"SGD: a parameter appears twice in one group: "
                                         r"parameter 2 of group 0 \(shape \(1,\)\) is "
                                         r"parameter 0 of group 0"):
        optim.SGD([a, b, a], lr=0.1)
    with pytest.raises(ValueError, match=r"appears in more than one group: parameter 0 of "
                                         r"group 1 \(shape \(1,\)\) is parameter 1 of group 0"):
        optim.SGD([{"params": [b, a]}, {"params": [a]}], lr=0.1)
    opt = optim.Adam([a])
    with pytest.raises(ValueError, match="appears in more than one group"):
        opt.add_param_group({"params": [b, a]})
    assert len(opt.param_groups) == 1  # the failed group was not half added
    with pytest.raises(TypeError, match="not a set"):
        optim.SGD({a, b}, lr=0.1)


def test_a_non_leaf_tensor_cannot_be_optimized():
    a = quadratic_param([1.0, 2.0])
    with pytest.raises(ValueError, match=r"SGD: can't optimize a non-leaf Tensor: parameter 1 "
                                         r"of group 0 \(shape \(2,\)\) was computed by mul"):
        optim.SGD([a, a * 2.0], lr=0.1)
    with pytest.raises(TypeError, match=r"parameter 0 of group 0 is a ndarray, not a Tensor"):
        optim.SGD([np.zeros(2)], lr=0.1)


@pytest.mark.parametrize("name", ["SGD", "Adam"])
def test_a_gradient_of_the_wrong_shape_or_dtype_raises_at_step_and_changes_nothing(name):
    a = quadratic_param([1.0, 2.0])
    b = mg.nn.Parameter(np.ones((2, 3), np.float32))
    opt = getattr(optim, name)([{"params": [a]}, {"params": [b]}], lr=0.1)
    a.grad = np.ones(2)
    b.grad = np.ones((1, 3), np.float32)  # broadcastable: in-place numpy would accept it
    with pytest.raises(mg.ShapeError, match=rf"{name}.step: parameter 0 of group 1 \(shape "
                                            r"\(2, 3\)\) has a .grad of shape \(1, 3\).*"
                                            "nothing was updated"):
        opt.step()
    b.grad = np.ones((2, 3))  # float64 into float32 loses precision
    with pytest.raises(TypeError, match=rf"{name}.step: parameter 0 of group 1 \(shape \(2, 3\)"
                                        r"\) is float32 but its .grad is float64"):
        opt.step()
    b.grad = mg.tensor(np.ones((2, 3), np.float32))
    with pytest.raises(TypeError, match=r"has a .grad of type Tensor \(assign its .data\)"):
        opt.step()
    np.testing.assert_array_equal(a.data, [1.0, 2.0])  # nothing moved, no state was made
    assert opt.state == {}


def test_a_gradient_that_casts_safely_is_used_as_its_parameters_dtype():
    a, b = quadratic_param([1.0, 2.0]), quadratic_param(0.5)
    opt = optim.SGD([a, b], lr=0.5)
    a.grad = np.array([1.0, 3.0], np.float32)  # float32 into float64: exact
    b.grad = np.float64(1.0)                   # what numpy returns for 0-d arithmetic
    opt.step()
    np.testing.assert_array_equal(a.data, [0.5, 0.5])
    assert a.data.dtype == np.float64 and b.data.shape == () and b.data == 0.0


def test_step_records_no_graph_and_restores_the_grad_mode():
    seen = []

    class Probe(optim.Optimizer):
        def __init__(self, params, fail=False):
            self.fail = fail
            super().__init__(params, dict(lr=0.1))

        def update(self, p, grad, state, group):
            seen.append(mg.is_grad_enabled())
            if self.fail:
                raise RuntimeError("boom")

    p = quadratic_param([1.0])
    p.grad = np.ones(1)
    loss = Probe([p]).step(lambda: (seen.append(mg.is_grad_enabled()), 7)[1])
    assert loss == 7 and seen == [True, False] and mg.is_grad_enabled()
    with pytest.raises(RuntimeError, match="boom"):
        Probe([p], fail=True).step()
    assert mg.is_grad_enabled()
    with mg.no_grad():
        Probe([p]).step()
        assert not mg.is_grad_enabled()


def test_load_state_dict_checks_everything_before_assigning():
    p = quadratic_param([0.5, -1.0])
    opt = optim.Adam([p], lr=0.1)
    p.grad = np.ones(2)
    opt.step()
    good = opt.state_dict()
    bad_state = {**good, "state": {0: {**good["state"][0], "exp_avg": np.zeros(3)}}}
    with pytest.raises(ValueError, match=r"state 'exp_avg' of parameter 0 is a float64 array "
                                         r"of shape \(3,\).*nothing was loaded"):
        opt.load_state_dict(bad_state)
    bad_group = {**good, "param_groups": [{**good["param_groups"][0], "lr": math.nan}]}
    with pytest.raises(ValueError, match=r"learning rate must be a non-negative number, got "
                                         r"nan \(param group 0 of the loaded state dict\)"):
        opt.load_state_dict(bad_group)
    assert opt.param_groups[0]["lr"] == 0.1
    np.testing.assert_array_equal(opt.state[p]["exp_avg"], good["state"][0]["exp_avg"])


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
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, betas=(0.0, 0.5), amsgrad=True, weight_decay=0.2)),
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
    tracemalloc.start()
    try:
        opt.step()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    plain_sgd = name == "SGD" and not kw.get("momentum") and not kw.get("weight_decay")
    extra = 1 if (kw.get("weight_decay") and name != "AdamW") or plain_sgd else 0
    assert peak < (extra + 0.5) * p.data.nbytes, (peak, p.data.nbytes)


def test_state_dict_holds_the_rule_state_not_the_scratch_array():
    a, b = quadratic_param(np.ones((2, 3))), quadratic_param(np.ones((2, 3)))
    opt = optim.Adam([a, b], amsgrad=True)
    a.grad, b.grad = np.ones((2, 3)), np.ones((2, 3))
    opt.step()
    saved = opt.state_dict()["state"]
    assert sorted(saved) == [0, 1]
    for s in saved.values():
        assert sorted(s) == ["exp_avg", "exp_avg_sq", "max_exp_avg_sq", "step"]
        assert all(not np.shares_memory(v, w) for v in s.values() for w in opt.state[a].values()
                   if isinstance(v, np.ndarray) and isinstance(w, np.ndarray))
