"""Modules: registration, names, state dicts, layers, init statistics, clipping."""
import math

import numpy as np
import pytest

import microgd as mg
from microgd import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.MLP(4, [8, 8], 3)
        self.head = nn.Linear(3, 2, bias=False)
        self.extra = nn.Parameter(np.zeros(5, np.float32))
        self.blocks = nn.ModuleList([nn.Linear(2, 2), nn.Tanh()])
        self.not_a_param = np.ones(3)

    def forward(self, x):
        x = self.head(self.body(x))
        for b in self.blocks:
            x = b(x)
        return x


def test_registration_and_dotted_names():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["extra", "body.layers.0.weight", "body.layers.0.bias",
                     "body.layers.2.weight", "body.layers.2.bias", "body.layers.4.weight",
                     "body.layers.4.bias", "head.weight", "blocks.0.weight", "blocks.0.bias"]
    assert len(list(net.parameters())) == 10
    assert [type(m).__name__ for m in net.children()] == ["MLP", "Linear", "ModuleList"]
    kinds = [type(m).__name__ for m in net.modules()]
    assert kinds[0] == "Net" and kinds.count("Linear") == 5 and "Sequential" in kinds
    assert net(mg.tensor(np.ones((7, 4)))).shape == (7, 2)


def test_shared_parameters_are_listed_once_and_reassignment_unregisters():
    a = nn.Linear(2, 2)
    seq = nn.Sequential(a, a)
    assert len(list(seq.parameters())) == 2
    net = Net()
    net.head = None
    assert "head.weight" not in dict(net.named_parameters())


def test_forgetting_super_init_is_explained():
    class Bad(nn.Module):
        def __init__(self):
            self.w = nn.Parameter([1.0])

    with pytest.raises(AttributeError, match=r"super\(\).__init__\(\)"):
        Bad()


def test_linear_layout_init_and_forward(rng):
    mg.manual_seed(0)
    lin = nn.Linear(1000, 300)
    assert lin.weight.shape == (300, 1000) and lin.bias.shape == (300,)
    assert lin.weight.dtype == np.float32
    bound = 1 / math.sqrt(1000)
    assert np.abs(lin.weight.data).max() <= bound and np.abs(lin.bias.data).max() <= bound
    assert lin.weight.data.std() == pytest.approx(bound / math.sqrt(3), rel=0.02)
    x = rng.standard_normal((5, 1000)).astype(np.float32)
    np.testing.assert_allclose(lin(x).data, x @ lin.weight.data.T + lin.bias.data, rtol=1e-5)
    mg.set_default_dtype(np.float64)
    assert nn.Linear(2, 3).weight.dtype == np.float64


def test_linear_input_mismatch_is_clear():
    with pytest.raises(ValueError, match=r"linear: input of shape \(2, 3\) has 3 features.*"
                                         r"weight \(4, 5\) expects 5"):
        nn.Linear(5, 4)(mg.tensor(np.ones((2, 3))))
    with pytest.raises(ValueError, match=r"linear: bias of shape \(3,\) does not match the "
                                         r"weight \(4, 5\): expected shape \(4,\)"):
        mg.nn.F.linear(mg.tensor(np.ones((2, 5))), mg.tensor(np.ones((4, 5))),
                       mg.tensor(np.ones(3)))
    with pytest.raises(ValueError, match="weight must be 2-D"):
        mg.nn.F.linear(mg.tensor(np.ones((2, 5))), mg.tensor(np.ones(5)))


def test_mlp_structure_and_activation():
    m = nn.MLP(2, [16, 8], 3, activation="tanh")
    kinds = [type(layer).__name__ for layer in m.layers]
    assert kinds == ["Linear", "Tanh", "Linear", "Tanh", "Linear"]
    with pytest.raises(ValueError, match="activation"):
        nn.MLP(2, [3], 1, activation="swish")


def test_state_dict_save_load_round_trip(tmp_path):
    mg.manual_seed(1)
    a, b = Net(), Net()
    path = tmp_path / "ckpt.npz"
    mg.save(a.state_dict(), path)
    b.load_state_dict(mg.load(path))
    for (na, pa), (nb, pb) in zip(a.named_parameters(), b.named_parameters()):
        assert na == nb
        np.testing.assert_array_equal(pa.data, pb.data)
    x = mg.tensor(np.ones((2, 4)))
    np.testing.assert_array_equal(a(x).data, b(x).data)


def test_load_state_dict_strict_lists_every_problem_and_changes_nothing():
    net = Net()
    before = {k: v.copy() for k, v in net.state_dict().items()}
    bad = net.state_dict()
    del bad["head.weight"]
    bad["bogus"] = np.zeros(1)
    bad["extra"] = np.zeros(6)
    bad["body.layers.0.bias"] = np.full(8, 7.0)
    with pytest.raises(RuntimeError) as err:
        net.load_state_dict(bad)
    msg = str(err.value)
    assert "missing keys: head.weight" in msg and "unexpected keys: bogus" in msg
    assert "extra: checkpoint has shape (6,), model has (5,)" in msg
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v, before[k])
    del bad["extra"]
    result = net.load_state_dict({k: v for k, v in bad.items()}, strict=False)
    assert "head.weight" in result.missing_keys and result.unexpected_keys == ["bogus"]
    np.testing.assert_array_equal(net.body.layers[0].bias.data, np.full(8, 7.0))


def test_train_eval_and_dropout():
    mg.manual_seed(3)
    net = nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.25))
    x = mg.tensor(np.ones((2000, 3)))
    assert net.training and net[1].training
    net.eval()
    assert not net[1].training
    drop = nn.Dropout(0.25)
    drop.eval()
    np.testing.assert_array_equal(drop(x).data, x.data)
    drop.train()
    out = drop(x).data
    kept = out != 0
    assert kept.mean() == pytest.approx(0.75, abs=0.02)
    np.testing.assert_allclose(out[kept], 1 / 0.75)
    with pytest.raises(ValueError, match="p must be between 0 and 1"):
        nn.Dropout(1.5)


def test_zero_grad_and_flatten():
    lin = nn.Linear(2, 1)
    lin(mg.tensor(np.ones((3, 2)))).sum().backward()
    assert lin.weight.grad is not None
    lin.zero_grad()
    assert lin.weight.grad is None
    assert nn.Flatten()(mg.tensor(np.ones((4, 2, 3)))).shape == (4, 6)


@pytest.mark.parametrize("fn,check", [
    (lambda t: nn.init.uniform_(t, -2, 3), lambda a: (a.min() >= -2) and (a.max() <= 3)
     and abs(a.mean() - 0.5) < 0.02),
    (lambda t: nn.init.normal_(t, 1.0, 2.0), lambda a: abs(a.mean() - 1) < 0.02
     and abs(a.std() - 2) < 0.02),
    (nn.init.zeros_, lambda a: np.all(a == 0)),
    (nn.init.ones_, lambda a: np.all(a == 1)),
    (lambda t: nn.init.xavier_uniform_(t, gain=2.0),
     lambda a: a.max() <= 2 * math.sqrt(6 / 1000) and abs(a.std() - 2 * math.sqrt(2 / 1000))
     < 0.02 * 2 * math.sqrt(2 / 1000)),
    (nn.init.xavier_normal_, lambda a: abs(a.std() - math.sqrt(2 / 1000)) < 0.02 * math.sqrt(
        2 / 1000)),
    (lambda t: nn.init.kaiming_uniform_(t, nonlinearity="relu"),
     lambda a: a.max() <= math.sqrt(6 / 400) and abs(a.std() - math.sqrt(2 / 400))
     < 0.02 * math.sqrt(2 / 400)),
    (lambda t: nn.init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu"),
     lambda a: abs(a.std() - math.sqrt(2 / 600)) < 0.02 * math.sqrt(2 / 600)),
    (lambda t: nn.init.kaiming_uniform_(t, a=math.sqrt(5)),
     lambda a: a.max() <= 1 / math.sqrt(400) and abs(a.std() - 1 / math.sqrt(3 * 400))
     < 0.02 / math.sqrt(3 * 400)),
])
def test_init_statistics(fn, check):
    mg.manual_seed(0)
    t = nn.Parameter(np.empty((600, 400), np.float32))  # fan_in 400, fan_out 600
    assert fn(t) is t
    assert check(t.data.astype(np.float64))


def test_init_errors():
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        nn.init.xavier_uniform_(nn.Parameter(np.zeros(3)))
    with pytest.raises(ValueError, match="mode"):
        nn.init.kaiming_normal_(nn.Parameter(np.zeros((3, 3))), mode="fan_avg")


def test_clip_grad_norm_and_value():
    a = nn.Parameter(np.zeros(2))
    b = nn.Parameter(np.zeros(1))
    a.grad = np.array([3.0, 0.0])
    b.grad = np.array([4.0])
    total = nn.utils.clip_grad_norm_([a, b], max_norm=1.0)
    assert float(total) == pytest.approx(5.0)
    np.testing.assert_allclose(np.concatenate([a.grad, b.grad]), np.array([3, 0, 4]) / 5,
                               rtol=1e-5)
    assert float(nn.utils.clip_grad_norm_([a, b], max_norm=10.0)) == pytest.approx(1.0, rel=1e-5)
    a.grad = np.array([3.0, -0.5])
    nn.utils.clip_grad_value_([a], 1.0)
    np.testing.assert_array_equal(a.grad, [1.0, -0.5])
    a.grad = np.array([3.0, -7.0])
    assert float(nn.utils.clip_grad_norm_(a, 1.0, norm_type=math.inf)) == 7.0
