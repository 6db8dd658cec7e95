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


def test_a_view_taken_before_an_in_place_write(rng):
    """A view shares the tensor's memory, so its value moves with the write. Read before
    the write (also by the write itself: t += t[0:1]) it means the tensor as it was; read
    after it, PyTorch would rebase the view onto the new tensor, and microgd raises rather
    than give the old tensor's gradient (views of views included)."""
    g = rng.standard_normal(2)
    x = mg.tensor(rng.standard_normal(3), requires_grad=True, dtype=np.float64)
    t = x * 1.0
    u = t.reshape(3, 1)[0:2]                          # a view of a view
    z = u * 1.0                                       # read before the write
    t *= 2.0
    z.backward(g.reshape(2, 1))
    np.testing.assert_allclose(x.grad, [g[0], g[1], 0])
    x.grad = None
    t = x * 1.0
    t += t[0:1]                                       # the write reads the view
    h = rng.standard_normal(3)
    t.backward(h)                                     # t = x + x[0]: x[0] gets all of h
    np.testing.assert_allclose(x.grad, [h[0] + h.sum(), h[1], h[2]])
    for view in (lambda t: t[0:2], lambda t: t.reshape(3, 1)[0:2], lambda t: t.T):
        t = x * 1.0
        v = view(t)
        t *= 2.0
        with pytest.raises(RuntimeError, match="view .*read after that tensor was changed"):
            (v * 1.0).sum().backward()


# How a tensor is viewed before the view is written in place: a slice, a view of a view, a
# transpose, a reshape, a slice of a transpose, a negative-step slice.
_WINDOWS = {
    "slice": lambda t: t[1:3],
    "view of a view": lambda t: t.reshape(2, 6)[:, 1:4][0],
    "transpose": lambda t: t.T,
    "reshape": lambda t: t.reshape(3, 4),
    "slice of a transpose": lambda t: t.T[1:3],
    "negative step": lambda t: t[::-1, 2:0:-1],
    "one element": lambda t: t[2, 1],            # a 0-d view, as in PyTorch (numpy copies)
    "one row": lambda t: t[3],
}


# Writes whose value needs a gradient of its own (y * y).
_WRITES = {
    "add_": lambda v, y: v.add_(y * y),
    "copy_": lambda v, y: v.copy_(y * y),
    "mul_ then sub_": lambda v, y: v.mul_(2.5).sub_(y * y),
    "mul_ by y, div_ by y + 3": lambda v, y: v.mul_(y).div_(y * y + 3.0),
}


@pytest.mark.parametrize("window", list(_WINDOWS))
@pytest.mark.parametrize("write", list(_WRITES))
def test_a_write_through_a_view_reaches_the_viewed_tensor(rng, window, write):
    """v = view(t); v.add_(y * y): t changed too, so gradients through t see the write
    (PyTorch's CopySlices): checked against central finite differences, with a random
    projection of t and of the view, for x (t = 2x) and the written operand y."""
    view = _WINDOWS[window]
    x0 = rng.standard_normal((4, 3))
    y0 = rng.standard_normal(view(mg.tensor(x0)).shape)
    wt = rng.standard_normal((4, 3))
    wv = rng.standard_normal(y0.shape)

    def f(x, y):
        t = x * 2.0
        v = view(t)
        _WRITES[write](v, y)
        return (t * wt).sum() + (v * wv).sum() + (t * t).sum()

    x = mg.tensor(x0, requires_grad=True, dtype=np.float64)
    y = mg.tensor(y0, requires_grad=True, dtype=np.float64)
    assert mg.gradcheck(f, [x, y], atol=1e-7, rtol=1e-6)
    # and by hand for the slice: t = 2x, then t[1:3] = 2.5 t[1:3] - y^2
    if window == "slice" and write == "mul_ then sub_":
        f(x, y).backward()
        t = 2 * x0
        t[1:3] = 2.5 * t[1:3] - y0 * y0
        gt = wt + 2 * t                          # d/dt of the loss (its t and t*t terms)
        gt[1:3] += wv                            # the view's own term
        gx = 2 * gt
        gx[1:3] *= 2.5
        np.testing.assert_allclose(x.grad, gx, rtol=1e-12)
        np.testing.assert_allclose(y.grad, -2 * y0 * gt[1:3], rtol=1e-12)


def test_a_write_through_a_view_differentiates_twice(rng):
    """The write-through node's VJP is itself differentiable: a Hessian-vector product
    through it (grad of <grad, u>) against finite differences of the gradient."""
    wt = rng.standard_normal((3, 4))
    u = rng.standard_normal((3, 4))

    def loss(x):
        t = x * x
        t.T[1:3].mul_(3.0).add_(x.T[1:3] ** 3)  # t[:, 1:3] = 3 x^2 + x^3, x^2 elsewhere
        return (t * t * wt).sum()

    def grad_dot_u(x):
        (gx,) = mg.grad(loss(x), [x], create_graph=True)
        return (gx * u).sum()

    x = mg.tensor(rng.standard_normal((3, 4)), requires_grad=True, dtype=np.float64)
    (recorded,) = mg.grad(loss(x), [x], create_graph=True)   # the VJP on Tensors ...
    (plain,) = mg.grad(loss(x), [x])                         # ... and on arrays
    np.testing.assert_allclose(recorded.data, plain.data, rtol=1e-12)
    assert mg.gradcheck(loss, [x], atol=1e-7, rtol=1e-6)
    assert mg.gradcheck(grad_dot_u, [x], atol=1e-6, rtol=1e-5)


def test_multiplying_in_place_by_a_tensor_that_needs_a_gradient(rng):
    """t.mul_(w): w's gradient is g times the t the write overwrote, so that value is kept
    (PyTorch keeps it too); a node that used t before the write reads it as well."""
    wt = rng.standard_normal((3, 4))

    def f(x, w):
        t = x * 1.0
        early = t * 2.0                          # made before the write: reads the old t
        t.mul_(w)
        t *= t                                   # both operands are the t before this write
        t.div_(w * w + 1.0)
        return (t * wt).sum() + (early * early).sum()

    x = mg.tensor(rng.standard_normal((3, 4)), requires_grad=True, dtype=np.float64)
    w = mg.tensor(rng.standard_normal((3, 4)), requires_grad=True, dtype=np.float64)
    assert mg.gradcheck(f, [x, w], atol=1e-7, rtol=1e-6)
    f(x, w).backward()
    x0, w0 = x.data, w.data
    np.testing.assert_allclose(                   # d/dx of (x w)^2 / (w^2 + 1) . wt + 4 x^2
        x.grad, 2 * x0 * w0 ** 2 / (w0 ** 2 + 1) * wt + 8 * x0, rtol=1e-12)


def test_writing_a_view_after_its_tensor_changed_raises_instead_of_a_wrong_gradient(rng):
    """v = b[0:2]; v.mul_(2); b.mul_(5); v.mul_(3): v's recorded graph predates b's write,
    so building on it would lose the x5 inside the window (b's gradient came out [6, 6, 5]
    instead of [30, 30, 5]). PyTorch replays the view; microgd raises, naming the fix."""
    x = mg.tensor(rng.standard_normal(3), requires_grad=True, dtype=np.float64)
    b = x * 1.0
    v = b[0:2]
    v.mul_(2.0)
    v.mul_(2.0)                                   # writes through the same view: fine
    b.mul_(5.0)
    with pytest.raises(RuntimeError, match="taken before the tensor it shows .* changed"):
        v.mul_(3.0)
    b = x * 1.0
    u = b.reshape(3, 1)[0:2]                      # a view of a view, its tensor written
    b.add_(1.0)
    with pytest.raises(RuntimeError, match="taken before the tensor it shows"):
        u.mul_(3.0)
    w = b[0:2]                                    # taken again after the change: fine
    w.mul_(3.0)
    g = rng.standard_normal(3)
    (b * mg.tensor(g)).sum().backward()
    np.testing.assert_allclose(x.grad, g * [3.0, 3.0, 1.0], rtol=1e-12)


def test_a_view_can_be_written_after_a_backward_through_it(rng):
    """backward frees what a second backward would need, but a view's index is kept:
    writing through the view afterwards used to crash inside the write."""
    x = mg.tensor(rng.standard_normal(3), requires_grad=True, dtype=np.float64)
    b = x + 0.0
    v = b[0:2]
    (v * mg.tensor(rng.standard_normal(2))).sum().backward()
    v.mul_(2.0)
    np.testing.assert_allclose(b.data, x.data * [2.0, 2.0, 1.0])
    with pytest.raises(RuntimeError, match="second time"):  # b's own graph was freed
        (b * mg.tensor(rng.standard_normal(3))).sum().backward()


def test_writing_a_view_of_a_leaf_that_requires_grad_is_an_error(rng):
    x = mg.tensor(rng.standard_normal(4), requires_grad=True)
    before = x.data.copy()
    for write in (lambda v: v.mul_(2.0), lambda v: v.zero_(), lambda v: v.add_(x[0:2])):
        with pytest.raises(RuntimeError, match="view .* of a leaf tensor that requires grad"):
            write(x[1:3])
    np.testing.assert_array_equal(x.data, before)  # untouched
    with mg.no_grad():
        x[1:3].mul_(2.0)                         # the optimizer's way: allowed
    np.testing.assert_allclose(x.data[1:3], 2 * before[1:3])


def test_a_sibling_view_read_after_a_write_through_another_view_raises(rng):
    """u and v are both windows on t; writing v changes what u shows, so reading u after
    the write raises, as for any view read after its tensor changed."""
    x = mg.tensor(rng.standard_normal(5), requires_grad=True, dtype=np.float64)
    t = x * 1.0
    u, v = t[0:3], t[2:5]
    v.mul_(2.0)
    with pytest.raises(RuntimeError, match="view .*read after that tensor was changed"):
        (u * rng.standard_normal(3)).sum().backward()


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
