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
    _, _, (_, slots) = x.__reduce_ex__(4)[:3]         # a pickle from before views were
    slots = {k: v for k, v in slots.items() if k != "_view"}  # tracked has no _view
    old = object.__new__(mg.Tensor)
    old.__setstate__((None, slots))
    np.testing.assert_allclose((old * 2.0).data, 2 * x.data)
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
    off = mg.set_grad_enabled(False)
    mg.set_grad_enabled(True)                     # changed after the call ...
    with off:                                     # ... entering sets it again
        assert not mg.is_grad_enabled()
    assert mg.is_grad_enabled()


@pytest.mark.parametrize("seed", range(8))
def test_random_graphs_match_finite_differences(seed):
    """Random DAGs of Values (one- and two-input ops, reused nodes, chains and fans): the
    walk's gradient of every input against central finite differences. They exercise its
    shortcut (a node handing its gradient to one new waiting node while nothing else waits
    skips the heap) and its heap, in every mix, and the one-object Value (a one-input node
    keeps its parent in a slot, not a tuple)."""
    rng = np.random.default_rng(seed)
    plan = []
    for k in range(40):
        i, j = (int(v) for v in rng.integers(0, 3 + k, 2))
        plan.append((int(rng.integers(0, 6)), i, j, float(rng.uniform(0.5, 1.5))))

    def step(op, a, b, c):
        if op == 0:
            return a * c + 0.1
        if op == 1:
            return (a * 0.3).tanh()
        if op == 2:
            return a + b
        if op == 3:
            return a * b * 0.5
        if op == 4:
            return (a * 0.2).exp() - b
        return (a * a + 1.0).log()

    def f(xs):
        nodes = list(xs)
        for op, i, j, c in plan:
            nodes.append(step(op, nodes[i], nodes[j], c))
        return sum(nodes[-10:], nodes[0] * 0.0)

    x0 = rng.uniform(-1, 1, 3)
    xs = [mg.Value(v) for v in x0]
    out = f(xs)
    out.backward()
    h = 1e-6
    for k in range(3):
        up, down = x0.copy(), x0.copy()
        up[k] += h
        down[k] -= h
        numeric = (f([mg.Value(v) for v in up]).data
                   - f([mg.Value(v) for v in down]).data) / (2 * h)
        assert xs[k].grad == pytest.approx(numeric, rel=1e-5, abs=1e-7)
    # the same graph of Tensors, without retain_graph: a node finished twice (before all
    # its users handed their share) would raise, as its saved values are freed
    ts = [mg.tensor(v, requires_grad=True, dtype=np.float64) for v in x0]
    f(ts).backward()
    np.testing.assert_allclose([t.grad for t in ts], [x.grad for x in xs], rtol=1e-12)


def test_a_value_keeps_one_object_per_one_input_node():
    """Its parent sits in the node itself: no tuple per node (the cycle collector walks
    every object, again and again while a graph grows). ``_parents`` still reads, sets,
    pickles and copies as a tuple."""
    import copy
    import gc
    import pickle
    x = mg.Value(0.5)
    y = (x * 2.0).tanh()
    assert y._in is not None and not isinstance(y._in, tuple) and y._parents[0]._parents == (x,)
    before = len(gc.get_objects())
    chain = x
    for _ in range(1000):
        chain = chain * 1.0001
    assert len(gc.get_objects()) - before <= 1010      # one tracked object per link
    y2 = copy.copy(y)
    assert y2._parents == y._parents
    x3, y3 = pickle.loads(pickle.dumps((x, y)))
    y3.backward()
    assert x3.grad == pytest.approx(2 * (1 - np.tanh(1.0) ** 2))
    z = mg.Value(1.0)
    z._parents = (x,)                                  # the setter keeps the layout
    assert z._in is x and z._parents == (x,)
