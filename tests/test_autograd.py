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
