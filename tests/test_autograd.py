"""The one backprop walk: order, accumulation, depth, both engines."""
import numpy as np
import pytest

import microgd as mg
from microgd.autograd import topological_order


def test_topological_order_visits_each_node_after_its_users():
    a = mg.Value(1.0)
    b = a * 2
    c = a + b
    d = c * b
    order = topological_order([d])
    pos = {id(n): i for i, n in enumerate(order)}
    for node in order:
        for p in node._parents:
            assert pos[id(node)] < pos[id(p)]
    assert len(order) == len({id(n) for n in order})


def test_tensor_and_value_share_the_walk():
    import microgd.autograd as ag
    calls = []
    original = ag._walk

    def spy(heap, *args):
        calls.append(type(heap[0][2]).__name__)
        return original(heap, *args)

    ag._walk = spy
    try:
        v = mg.Value(2.0)
        (v * v).backward()
        t = mg.tensor([1.0, 2.0], requires_grad=True)
        (t * t).sum().backward()
    finally:
        ag._walk = original
    assert calls == ["Value", "Tensor"]


def test_tensor_deep_chain_has_no_recursion_limit():
    x = mg.tensor(np.float64(1.0), requires_grad=True)
    y = x
    for _ in range(20_000):
        y = y * 1.0001
    y.backward()
    assert x.grad == pytest.approx(1.0001 ** 20_000)


def test_unpickled_and_copied_graphs_keep_their_order():
    """The walk's order is the creation numbers (state.next_seq). A graph pickled in another
    process carries that process's numbers: unpickled (or deep-copied) nodes are moved below
    every number handed out, keeping their order, in-place writes included; a shallow copy
    keeps the original's number and parents."""
    import copy
    import pickle
    rng = np.random.default_rng(0)
    x = mg.tensor(rng.standard_normal(3), requires_grad=True, dtype=np.float64)
    t = x * 1.0
    y = (t * 3.0).tanh()                              # used t before the write below
    t *= 2.0
    loss = y.sum() + t.sum()
    expected = 3 * (1 - np.tanh(3 * x.data) ** 2) + 2
    for x2, loss2 in (pickle.loads(pickle.dumps((x, loss))), copy.deepcopy((x, loss))):
        assert x2._seq < loss2._parents[0]._seq < loss2._seq < mg.tensor(0.0)._seq
        (loss2 * 1.0).backward()
        np.testing.assert_allclose(x2.grad, expected)
    twin = copy.copy(y)
    assert twin._seq == y._seq and twin._parents is y._parents and twin is not y
    v = mg.Value(2.0)
    u = v * v + v
    v2, u2 = pickle.loads(pickle.dumps((v, u)))
    assert v2._seq < u2._seq
    u2.backward()
    assert v2.grad == 5.0 and v.grad == 0.0


def test_set_grad_enabled_as_a_call_a_block_and_a_decorator():
    """As in PyTorch: called, it sets the mode at once; as a block, it restores the mode it
    found; as a decorator, it sets nothing until the function runs."""
    try:
        mg.set_grad_enabled(False)
        assert not mg.is_grad_enabled()
        with mg.set_grad_enabled(True):
            assert mg.is_grad_enabled()
        assert not mg.is_grad_enabled()
    finally:
        mg.set_grad_enabled(True)

    @mg.set_grad_enabled(False)
    def inside():
        return mg.is_grad_enabled()

    assert mg.is_grad_enabled() and not inside() and mg.is_grad_enabled()
