"""The optimizer API around the update rules (those are in tests/test_optim.py): PyTorch's
defaults, parameter groups and zero_grad, misconfigured optimizers and invalid
hyperparameters (each error names the optimizer, the argument and the value, and changes
nothing), parameters that appear twice or are not leaves, gradients of the wrong shape or
dtype at step, step's grad mode, state_dict round trips and load_state_dict's checks, and
the learning-rate schedulers against their closed forms."""
import math

import numpy as np
import pytest
from optim_helpers import quadratic_param

import microgd as mg
from microgd import optim
from microgd.optim import lr_scheduler as sched


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
