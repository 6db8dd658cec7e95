"""Looking inside backprop (API.md §8): graphs that survive backward, retain_grad, tensor and
module hooks, and switches that are per thread."""
import threading

import numpy as np
import pytest

import microgd as mg


def _mlp_graph(rng):
    x = mg.tensor(rng.standard_normal((4, 3)))
    w = mg.tensor(rng.standard_normal((3, 2)), requires_grad=True)
    h = (x @ w).relu()
    return w, h, (h * mg.tensor(rng.standard_normal((4, 2)))).sum()


def test_the_graph_survives_backward_and_can_be_drawn(rng):
    w, h, y = _mlp_graph(rng)
    y.backward()
    dot = mg.draw_graph(y).source
    for op in ("matmul", "relu", "mul", "sum"):
        assert op in dot
    assert y.grad_fn == "sum" and h.grad_fn == "relu"
    with pytest.raises(RuntimeError, match="backpropagate through a graph a second time"):
        y.backward()
    np.testing.assert_allclose(w.grad, w.grad)  # the first backward's gradients are kept


def test_a_value_graph_draws_after_backward_too():
    a = mg.Value(2.0, label="a")
    b = a * a + a
    b.backward()
    assert "a" in mg.draw_graph(b).source and a.grad == 5.0


def test_retain_grad_keeps_a_non_leafs_gradient(rng):
    w, h, y = _mlp_graph(rng)
    h.retain_grad()
    assert h.retains_grad
    y.backward()
    assert h.grad is not None and h.grad.shape == h.shape
    # d y / d h is the random weight the sum multiplied h by
    (mult,) = [p for p in y._parents[0]._parents if p is not h]
    np.testing.assert_allclose(h.grad, mult.data)


def test_a_hook_sees_the_summed_gradient_once_and_can_replace_it(rng):
    x = mg.tensor(rng.standard_normal(3), requires_grad=True, dtype=np.float64)
    h = x * 2.0
    y = h * h + h           # h used three times: the hook sees the total, once
    seen = []
    handle = h.register_hook(lambda g: seen.append(g.data.copy()))
    g = rng.standard_normal(3)
    y.backward(g, retain_graph=True)
    assert len(seen) == 1
    np.testing.assert_allclose(seen[0], g * (2 * h.data + 1))
    handle.remove()
    x.grad = None
    h.register_hook(lambda grad: grad * 0.0)   # replace: nothing reaches x
    y.backward(g)
    np.testing.assert_allclose(x.grad, np.zeros(3))


@pytest.mark.parametrize("layer", ["relu", "gelu", "layer_norm"])
def test_a_gradient_a_hook_kept_is_never_overwritten(rng, layer):
    """ReLU, GELU and LayerNorm write their input's gradient into the gradient they receive
    (it is theirs); a hook that kept that array, or returned it, must still see its values."""
    f = {"relu": lambda t: t.relu(), "gelu": mg.nn.functional.gelu,
         "layer_norm": lambda t: mg.nn.functional.layer_norm(t, (8,))}[layer]
    x = mg.tensor(rng.standard_normal((4, 8)), requires_grad=True)
    w = rng.standard_normal((4, 8))
    kept = []
    y = f(x * 1.0)
    y.register_hook(lambda g: kept.append(g.data))
    y.register_hook(lambda g: kept.append(g.data) or g)
    (y * mg.tensor(w)).sum().backward()
    for arr in kept:
        np.testing.assert_array_equal(arr, w)
    first = x.grad.copy()
    x.grad = None
    (f(x * 1.0) * mg.tensor(w)).sum().backward()  # and the hooks changed no gradient
    np.testing.assert_array_equal(x.grad, first)


def test_a_hook_on_a_leaf_changes_what_is_accumulated(rng):
    x = mg.tensor(rng.standard_normal(3), requires_grad=True, dtype=np.float64)
    x.register_hook(lambda g: g * 10.0)
    g = rng.standard_normal(3)
    (x * 3.0).backward(g)
    np.testing.assert_allclose(x.grad, 30.0 * g)


def test_hooks_fire_in_mg_grad_too(rng):
    x = mg.tensor(rng.standard_normal(3), requires_grad=True, dtype=np.float64)
    h = x.exp()
    calls = []
    h.register_hook(lambda g: calls.append(1))
    mg.grad((h * 2.0).sum(), x)
    assert calls == [1]


def test_module_forward_hooks_observe_and_replace(rng):
    model = mg.nn.Sequential(mg.nn.Linear(3, 4), mg.nn.ReLU(), mg.nn.Linear(4, 2))
    seen = []
    h1 = model[1].register_forward_hook(lambda m, args, out: seen.append(out.shape))
    h2 = model[0].register_forward_pre_hook(lambda m, args: (args[0] * 0.0,))
    out = model(rng.standard_normal((5, 3)))
    assert seen == [(5, 4)]
    first, last = model[0], model[2]   # the input was zeroed: only the biases remain
    hidden = np.maximum(first.bias.data, 0)
    expected = hidden @ last.weight.data.T + last.bias.data
    np.testing.assert_allclose(out.data, np.broadcast_to(expected, (5, 2)), rtol=1e-5)
    h1.remove()
    h2.remove()
    model(rng.standard_normal((5, 3)))
    assert seen == [(5, 4)]


def test_no_grad_in_one_thread_does_not_leak_into_another():
    """An evaluation thread looping over no_grad() blocks while a training thread records:
    every tensor the training thread makes must require grad."""
    w = mg.tensor(np.ones(3), requires_grad=True)
    stop = threading.Event()
    leaks = []

    def evaluate():
        while not stop.is_set():
            with mg.no_grad():
                (w * 2.0).sum()

    def train():
        for _ in range(2000):
            if not (w * 2.0).requires_grad:
                leaks.append(1)
            with mg.no_grad():       # the optimizer's switch is per thread too
                pass

    other = threading.Thread(target=evaluate)
    other.start()
    try:
        trainers = [threading.Thread(target=train) for _ in range(2)]
        for t in trainers:
            t.start()
        for t in trainers:
            t.join()
    finally:
        stop.set()
        other.join()
    assert leaks == []
    assert mg.is_grad_enabled()


def test_anomaly_mode_and_module_scope_are_per_thread():
    flags = {}

    def look():
        flags["anomaly"] = mg.is_anomaly_enabled()
        flags["scope"] = mg.tensor([1.0])._scope

    with mg.detect_anomaly():
        t = threading.Thread(target=look)
        t.start()
        t.join()
    assert flags == {"anomaly": False, "scope": None}


def test_retain_grads_colours_the_inside_of_a_network(rng):
    model = mg.nn.MLP(3, [4], 2)
    loss = (model(rng.standard_normal((5, 3))) * mg.tensor(rng.standard_normal((5, 2)))).sum()
    mg.viz.retain_grads(loss).backward()
    inner = [n for n in mg.autograd.reachable(loss)[0]
             if isinstance(n, mg.Tensor) and n._op is not None]
    assert inner and all(n.grad is not None and n.grad.shape == n.shape for n in inner)
    np.testing.assert_allclose(loss.grad, np.ones(()))
    source = mg.draw_graph(loss, color_by_grad=True).source
    assert source.count("fillcolor") > len(list(model.parameters())) + 1
