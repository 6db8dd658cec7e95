"""detect_anomaly names the first op, its module, shapes; off by default."""
import numpy as np
import pytest

import microgd as mg


class Blowup(mg.nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = mg.nn.Sequential(mg.nn.Linear(2, 3), mg.nn.ReLU(), mg.nn.Linear(3, 2))

    def forward(self, x):
        return self.layers(x)


def test_forward_nan_names_op_module_and_shapes():
    model = Blowup()
    model.layers[2].weight.data[...] = np.inf  # poison the last layer
    model.layers[2].bias.data[...] = -np.inf
    x = mg.tensor([[1.0, 2.0]])
    with mg.detect_anomaly(), np.errstate(all="ignore"):
        with pytest.raises(mg.AnomalyError) as err:
            model(x)
    msg = str(err.value)
    assert "forward of linear in Blowup.layers.2 (Linear)" in msg
    assert "input shapes: (1, 3), (2, 3), (2,)" in msg
    assert "input 1 already contained non-finite values" in msg


def test_backward_inf_names_the_op_and_where_it_was_created():
    t = mg.tensor([0.0, 4.0], requires_grad=True)
    with mg.detect_anomaly():
        y = t.sqrt().sum()  # d sqrt / dt = inf at 0
        with pytest.raises(mg.AnomalyError) as err, np.errstate(all="ignore"):
            y.backward()
    msg = str(err.value)
    assert "backward of sqrt produced Inf in the gradient for its input 0 (shape (2,))" in msg
    assert "test_anomaly.py" in msg and "upstream gradient was finite" in msg


def test_nan_from_finite_inputs_is_caught_at_its_source():
    x = mg.tensor([-1.0, 1.0], requires_grad=True)
    with mg.detect_anomaly(), np.errstate(all="ignore"):
        h = x * 2
        with pytest.raises(mg.AnomalyError, match="forward of log.*NaN.*all its inputs were "
                                                  "finite"):
            h.log()


def test_off_by_default_and_set_detect_anomaly():
    assert not mg.is_anomaly_enabled()
    with np.errstate(all="ignore"):
        out = mg.tensor([0.0]).log()  # no error when off
    assert np.isneginf(out.data[0])
    mg.set_detect_anomaly(True)
    try:
        assert mg.is_anomaly_enabled()
        with pytest.raises(mg.AnomalyError), np.errstate(all="ignore"):
            mg.tensor([0.0]).log()
    finally:
        mg.set_detect_anomaly(False)
    with mg.detect_anomaly():
        assert mg.is_anomaly_enabled()
    assert not mg.is_anomaly_enabled()


def test_anomaly_mode_leaves_healthy_training_alone():
    mg.manual_seed(0)
    model = mg.nn.MLP(4, [8], 3)
    x = mg.tensor(np.random.default_rng(0).standard_normal((5, 4)), dtype=np.float32)
    with mg.detect_anomaly():
        loss = mg.nn.F.cross_entropy(model(x), np.array([0, 1, 2, 0, 1]))
        loss.backward()
    assert all(np.isfinite(p.grad).all() for p in model.parameters())


def test_anomaly_mode_judges_the_gradient_a_layer_received_not_what_it_wrote_over_it():
    """LayerNorm writes dx into the upstream gradient it owns; anomaly mode must still say
    that the gradient it received was finite when its own dx overflowed."""
    import numpy as np
    x = mg.tensor(np.array([[1.0, 1.001]], np.float32), requires_grad=True)
    with mg.detect_anomaly():
        y = mg.nn.functional.layer_norm(x, (2,)) * 1.0
        with np.errstate(over="ignore"), pytest.raises(RuntimeError, match="was finite"):
            y.backward(np.array([[3e38, -3e38]], np.float32))
