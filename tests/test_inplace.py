"""In-place ops (API.md §2): they write into the tensor's own buffer, with PyTorch's rules
for leaves that require grad and a version check for values saved for backward."""
import numpy as np
import pytest

import microgd as mg


def test_the_tutorial_update_changes_the_parameter_under_no_grad(rng):
    p = mg.tensor(rng.standard_normal(3), requires_grad=True)
    before, buffer = p.data.copy(), p.data
    (p * p).backward(np.ones(3))  # d(p^2)/dp = 2p, checked below
    with mg.no_grad():
        p -= 0.1 * p.grad
    assert p.data is buffer                       # the same array, changed in place
    np.testing.assert_allclose(p.data, before - 0.1 * 2 * before, rtol=1e-6)
    assert p.is_leaf and p.requires_grad


@pytest.mark.parametrize("op", ["+=", "-=", "*=", "/="])
def test_augmented_assignment_on_a_leaf_needing_grad_is_an_error_outside_no_grad(op):
    p = mg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad .*no_grad"):
        exec(f"p {op} 1.0", {"p": p})
    np.testing.assert_array_equal(p.data, [1.0, 2.0])  # untouched


@pytest.mark.parametrize("method,args,expected", [
    ("add_", (2.0,), [3.0, 4.0]), ("sub_", (1.0,), [0.0, 1.0]), ("mul_", (3.0,), [3.0, 6.0]),
    ("div_", (2.0,), [0.5, 1.0]), ("zero_", (), [0.0, 0.0]), ("fill_", (7.0,), [7.0, 7.0]),
    ("copy_", (np.array([5.0, 6.0]),), [5.0, 6.0]),
])
def test_each_method_writes_in_place_and_returns_the_tensor(method, args, expected):
    t = mg.tensor([1.0, 2.0])
    buffer = t.data
    assert getattr(t, method)(*args) is t
    assert t.data is buffer
    np.testing.assert_allclose(t.data, expected)
    leaf = mg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=f"{method}: a leaf tensor that requires grad"):
        getattr(leaf, method)(*args)
    with mg.no_grad():
        getattr(leaf, method)(*args)
    np.testing.assert_allclose(leaf.data, expected)


def test_add_with_alpha_is_pytorchs_add_():
    t = mg.tensor([1.0, 2.0])
    t.add_(np.array([1.0, 1.0]), alpha=-0.5)
    np.testing.assert_allclose(t.data, [0.5, 1.5])


def test_a_saved_value_changed_in_place_makes_backward_raise(rng):
    x = mg.tensor(rng.standard_normal(4), requires_grad=True)
    y = x.exp()               # exp's backward reads its output
    z = (y + 2.0).sum()       # add's reads nothing
    with mg.no_grad():
        y += 1.0
    with pytest.raises(RuntimeError, match="modified by an in-place operation: its output"):
        z.backward()


def test_an_input_changed_through_a_view_is_caught_too(rng):
    c = mg.tensor(rng.standard_normal((2, 3)))
    x = mg.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    loss = (x * c).sum()      # mul's backward for x reads c
    view = mg.Tensor(c.data[0])  # shares c's buffer
    view += 1.0
    with pytest.raises(RuntimeError, match="modified by an in-place operation: its input 1"):
        loss.backward()


def test_changing_a_value_backward_does_not_read_is_fine(rng):
    c = mg.tensor(rng.standard_normal(3))
    x = mg.tensor(rng.standard_normal(3), requires_grad=True)
    y = x + c                 # add's backward reads neither input
    c += 5.0
    g = rng.standard_normal(3)
    y.backward(g)
    np.testing.assert_allclose(x.grad, g)


def test_in_place_on_a_non_leaf_is_recorded_and_differentiates(rng):
    """y = 2x; y += w; y *= 3 (w constant): the graph follows the writes, as PyTorch's."""
    x = mg.tensor(rng.standard_normal(3), requires_grad=True, dtype=np.float64)
    w = mg.tensor(rng.standard_normal(3), requires_grad=True, dtype=np.float64)
    y = x * 2.0
    y += w
    y *= 3.0
    assert not y.is_leaf and y.grad_fn == "mul"
    g = rng.standard_normal(3)
    y.backward(g)
    np.testing.assert_allclose(y.data, 3 * (2 * x.data + w.data))
    np.testing.assert_allclose(x.grad, 6 * g)
    np.testing.assert_allclose(w.grad, 3 * g)


def test_a_node_used_before_an_in_place_write_keeps_the_value_it_used(rng):
    """z used x before x *= 2: z's gradient goes to the earlier x, not through the write
    (PyTorch: d/da of (3a + 1)·g1 + (2·3a)·g2 is 3·g1 + 6·g2). This was once 6·g1 + 6·g2."""
    a = mg.tensor(rng.standard_normal(4), requires_grad=True, dtype=np.float64)
    g1, g2 = rng.standard_normal(4), rng.standard_normal(4)
    x = a * 3.0
    z = x + 1.0
    x *= 2.0
    w = x * 1.0
    ((z * mg.tensor(g1)).sum() + (w * mg.tensor(g2)).sum()).backward()
    np.testing.assert_allclose(a.grad, 3 * g1 + 6 * g2)
    # twice in a row, with users in between: each keeps the x it saw
    b = mg.tensor(rng.standard_normal(4), requires_grad=True, dtype=np.float64)
    x = b * 1.0
    u0 = x * 1.0
    x += 1.0
    u1 = x * 1.0
    x *= 5.0
    u2 = x * 1.0
    (gu0,) = mg.grad((u0 * mg.tensor(g2)).sum(), b, retain_graph=True)
    np.testing.assert_allclose(gu0.data, g2)
    (u0 * mg.tensor(g1) + u1 * mg.tensor(g2) + u2).sum().backward()
    np.testing.assert_allclose(b.grad, g1 + g2 + 5.0)


def test_dividing_in_place_then_writing_again(rng):
    """t.div_(w); t.add_(1): w's gradient is -g t/w^2 with the t before the division; it is
    computed from that t (kept, as for mul_), not from the quotient, which the next write
    changes (this raised "modified by an in-place operation" before)."""
    p = mg.tensor(rng.standard_normal((2, 3)))

    def f(x, w):
        t = x * 1.0
        t.div_(w)
        t.add_(1.0)
        t.mul_(w)
        return (t * p).sum()

    x = mg.tensor(rng.standard_normal((2, 3)), requires_grad=True, dtype=np.float64)
    w = mg.tensor(rng.uniform(1.0, 2.0, (2, 3)), requires_grad=True, dtype=np.float64)
    assert mg.gradcheck(f, [x, w], atol=1e-7, rtol=1e-6)
    f(x, w).backward()                            # t = x + w: both get p
    np.testing.assert_allclose(x.grad, p.data, rtol=1e-12)
    np.testing.assert_allclose(w.grad, p.data, rtol=1e-12)


def test_a_tensor_written_in_place_with_itself(rng):
    """t += t is 2t (both operands are t as it was): it once looped forever in backward."""
    x = mg.tensor(rng.standard_normal(3), requires_grad=True, dtype=np.float64)
    g = rng.standard_normal(3)
    t = x * 1.0
    t += t
    np.testing.assert_allclose(t.data, 2 * x.data)
    t.backward(g)
    np.testing.assert_allclose(x.grad, 2 * g)


def test_copy_routes_the_gradient_to_the_source(rng):
    src = mg.tensor(rng.standard_normal(3), requires_grad=True, dtype=np.float64)
    x = mg.tensor(rng.standard_normal(3), requires_grad=True, dtype=np.float64)
    y = x * 1.0
    y.copy_(src * 2.0)
    g = rng.standard_normal(3)
    y.backward(g)
    np.testing.assert_allclose(src.grad, 2 * g)
    np.testing.assert_allclose(x.grad, 0 * g)


def test_in_place_errors_name_the_op_and_what_is_wrong():
    t = mg.tensor(np.ones(3))
    with pytest.raises(mg.ShapeError, match=r"add_: the result has shape \(2, 3\), but the "
                                            r"tensor changed in place has shape \(3,\)"):
        t += np.ones((2, 3))
    i = mg.tensor(np.ones(3, dtype=np.int64))
    with pytest.raises(TypeError, match="mul_: a result of dtype float32 cannot be written "
                                        "into a tensor of dtype int64"):
        i *= 2.5
    i += 2                     # integers stay integers
    np.testing.assert_array_equal(i.data, [3, 3, 3])
    with pytest.raises(mg.ShapeError, match=r"copy_: a source of shape \(2,\) cannot be "
                                            r"broadcast to the destination's shape \(3,\)"):
        t.copy_(np.ones(2))
    frozen = mg.Tensor(np.broadcast_to(np.ones(3), (2, 3)))
    with pytest.raises(ValueError, match="add_: the tensor's array is read-only"):
        frozen += 1.0


def test_np_array_copies_and_asarray_shares():
    t = mg.tensor([1.0, 2.0])
    a = np.array(t)
    a[0] = 100.0
    assert t.data[0] == 1.0
    b = np.asarray(t)
    assert b is t.data or np.shares_memory(b, t.data)
    assert t.numpy() is t.data
    assert np.array(t, dtype=np.float64).dtype == np.float64


@pytest.mark.parametrize("make_opt", [lambda ps: mg.optim.SGD(ps, lr=0.1),
                                      lambda ps: mg.optim.Adam(ps, lr=0.01)])
def test_an_optimizer_step_between_forward_and_backward_is_an_error(make_opt):
    """PyTorch's optimizers bump the parameters' version counters; ours mark them written,
    so a graph built with the old weights cannot silently take the new ones."""
    rng = np.random.default_rng(3)
    lin = mg.nn.Linear(3, 2)
    opt = make_opt(lin.parameters())
    x = mg.tensor(rng.standard_normal((4, 3)).astype(np.float32))
    w = rng.standard_normal((4, 2)).astype(np.float32)
    (lin(x) * w).sum().backward()
    stale = (lin(x) * w).sum()
    opt.step()
    with pytest.raises(RuntimeError, match=r"modified by an in-place operation: its input 1 "
                       r"\(shape \(2, 3\).*\.step\(\) updated it in place; call backward\(\) "
                       r"before step\(\)"):
        stale.backward()
    # the right order keeps working, step after step, with the exact gradient
    for _ in range(3):
        opt.zero_grad()
        loss = (lin(x) * w).sum()
        loss.backward()
        np.testing.assert_allclose(lin.weight.grad, w.T @ x.data, rtol=1e-6)
        opt.step()
    # a graph that never read the weights' values (only the bias gets a gradient through
    # an add) is not affected
    b_only = (lin.bias * w[0]).sum()
    opt.step()
    b_only.backward()


def test_the_step_check_follows_a_replaced_parameter_array_and_in_place_edits():
    """An optimizer registers each parameter buffer once; a new p.data is registered at the
    next step, and a tensor in-place write in between keeps its own record."""
    lin = mg.nn.Linear(3, 2)
    opt = mg.optim.SGD(lin.parameters(), lr=0.1)
    x = mg.tensor(np.ones((4, 3), np.float32))
    w = np.arange(8, dtype=np.float32).reshape(4, 2)
    (lin(x) * w).sum().backward()
    opt.step()
    lin.weight.data = lin.weight.data.copy()       # the documented escape hatch
    stale = (lin(x) * w).sum()
    opt.step()                                     # registers the new buffer, writes it
    with pytest.raises(RuntimeError, match=r"SGD\.step\(\) updated it in place"):
        stale.backward()
    fresh = (lin(x) * w).sum()
    with mg.no_grad():
        lin.weight.mul_(1.0)                       # a tensor in-place write, after the step
    with pytest.raises(RuntimeError, match=r"compute out of place"):
        fresh.backward()


def test_hooks_registered_before_a_write_see_the_value_they_were_registered_on(rng):
    """As in PyTorch: a hook belongs to the value it was registered on, so one registered
    before y.mul_(3) gets the gradient of y before the write (3g), one registered after it
    the gradient of the new y (g); retain_grad() follows the latest value and keeps what
    its hooks return, wherever it was registered among them (PyTorch runs it last); a hook
    on a view taken before its tensor changed stays with that earlier view (PyTorch does
    not run it when only the rebuilt view is used)."""
    x = mg.tensor(rng.standard_normal(3), requires_grad=True, dtype=np.float64)
    g = rng.standard_normal(3)
    seen = {}

    def spy(key, scale):  # a hook that records its gradient and scales it
        return lambda d: (seen.__setitem__(key, d.data.copy()), d * scale)[1]

    y = x * 1.0
    y.register_hook(spy("before", 2.0))
    y.mul_(3.0)
    y.retain_grad()                                   # before the hook: still sees its 10x
    handle = y.register_hook(spy("after", 10.0))
    (y * mg.tensor(g)).sum().backward()
    np.testing.assert_allclose(seen["after"], g)
    np.testing.assert_allclose(seen["before"], 30.0 * g)
    np.testing.assert_allclose(x.grad, 60.0 * g)
    np.testing.assert_allclose(y.grad, 10.0 * g)  # the latest value's, after its hooks
    handle.remove()
    x.grad = None
    seen.clear()
    y = x * 1.0
    v = y[0:2]
    v.register_hook(spy("view", 2.0))
    y.mul_(3.0)
    (v * mg.tensor(g[:2])).sum().backward()           # v rebuilt on the new y
    assert "view" not in seen
    np.testing.assert_allclose(x.grad, [3 * g[0], 3 * g[1], 0.0])


# Ops whose backward reads only their input (Op.reads_output = False): writing their output
# in place is harmless, as in PyTorch (it raised "modified by an in-place operation").
_INPUT_ONLY = {
    "sin": lambda x: x.sin(), "cos": lambda x: x.cos(), "log1p": lambda x: x.log1p(),
    "erf": lambda x: x.erf(), "log": lambda x: x.log(), "abs": lambda x: x.abs(),
    "softplus": lambda x: x.softplus(),
    "maximum": lambda x: mg.maximum(x, x * x), "gelu": lambda x: mg.nn.functional.gelu(x),
    "gelu tanh": lambda x: mg.nn.functional.gelu(x, approximate="tanh"),
    "leaky_relu": lambda x: mg.nn.functional.leaky_relu(x, 0.1),
    "silu": lambda x: mg.nn.functional.silu(x),
}


@pytest.mark.parametrize("op", list(_INPUT_ONLY))
def test_writing_the_output_of_an_op_that_reads_only_its_input(rng, op):
    p = mg.tensor(rng.standard_normal((2, 3)))

    def f(x, w):
        y = _INPUT_ONLY[op](x)
        y.mul_(2.5)                               # overwrites the op's output
        y.add_(w)
        return (y * p).sum()

    x = mg.tensor(rng.uniform(0.3, 1.5, (2, 3)) * rng.choice([-1, 1], (2, 3)),
                  requires_grad=True, dtype=np.float64)
    if op in ("log", "log1p"):
        x.data = np.abs(x.data)
    w = mg.tensor(rng.standard_normal((2, 3)), requires_grad=True, dtype=np.float64)
    assert mg.gradcheck(f, [x, w], atol=1e-7, rtol=1e-6)


@pytest.mark.parametrize("through_view", [False, True])
def test_grad_runs_only_the_nodes_between_the_output_and_the_inputs(rng, through_view):
    """mg.grad(loss, [y]) needs only the VJPs on paths from loss to y, as in PyTorch's
    autograd.grad. Here sin read y before y was written; it lies on no such path, so its
    changed input does not matter (the whole-graph walk raised at it)."""
    x = mg.tensor(rng.standard_normal(4), requires_grad=True, dtype=np.float64)
    g, h = rng.standard_normal(4), rng.standard_normal(4)
    y = x * 1.0
    s = y.sin()
    (y[1:3] if through_view else y).mul_(2.0)
    loss = (s * mg.tensor(h)).sum() + (y * mg.tensor(g)).sum()
    (gy,) = mg.grad(loss, [y], retain_graph=True)
    np.testing.assert_allclose(gy.data, g)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        mg.grad(loss, [x])                        # through sin: its input did change


def test_relu_reads_its_output_as_in_pytorch(rng):
    """ReLU's backward masks with its output (PyTorch saves the output), so its input may
    change in place afterwards, and changing its output raises."""
    p = mg.tensor(rng.standard_normal(5))

    def f(x):
        h = x * 1.0
        y = h.relu()
        h.mul_(3.0)                               # the input, after relu used it
        return (y * p).sum() + (h * p).sum()

    x = mg.tensor(rng.standard_normal(5), requires_grad=True, dtype=np.float64)
    assert mg.gradcheck(f, [x], atol=1e-7, rtol=1e-6)
    y = (x * 1.0).relu()
    loss = (y * p).sum()
    y.add_(1.0)
    with pytest.raises(RuntimeError, match="its output .* relu used it"):
        loss.backward()
