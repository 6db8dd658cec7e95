"""In-place writes and views: a view shares its tensor's memory, so a write through either
one changes both, and the gradient follows (PyTorch's view tracking: CopySlices for the
viewed tensor, a rebuilt node for every other view). Every gradient here is checked against
central finite differences (mg.gradcheck) with random projections of the results."""

import numpy as np
import pytest

import microgd as mg


def _x(rng, shape):
    return mg.tensor(rng.standard_normal(shape), requires_grad=True, dtype=np.float64)


def test_a_view_taken_before_an_in_place_write(rng):
    """A view shares the tensor's memory, so its value moves with the write. Read before
    the write (also by the write itself: t += t[0:1]) it means the tensor as it was; read
    after it, it shows the new tensor, as in PyTorch (views of views included)."""
    g = rng.standard_normal(2)
    x = _x(rng, 3)
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
        w = rng.standard_normal(view(x).shape)

        def f(x, view=view, w=w):
            t = x * 1.0
            v = view(t)
            early = v * 1.0                           # read before: x
            t *= x                                    # now t = x^2, and v shows it
            return (v * w).sum() + (early * early * w).sum()

        assert mg.gradcheck(f, [x], atol=1e-7, rtol=1e-6)
        x.grad = None
        f(x).backward()
        gv = np.zeros(3)
        view(mg.as_tensor(gv)).data[...] = w             # w placed where the view looks
        np.testing.assert_allclose(x.grad, 2 * x.data * gv + 2 * x.data * gv, rtol=1e-12)


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


def test_a_view_written_after_its_tensor_changed_writes_the_new_tensor(rng):
    """v = b[0:2]; v.mul_(2); b.mul_(5); v.mul_(3): v shows b's new value, so the last
    write builds on it: b ends as [30, 30, 5] x (an earlier version built on v's old node
    and lost the x5 inside the window: [6, 6, 5])."""
    x = _x(rng, 3)
    g = rng.standard_normal(3)
    b = x * 1.0
    v = b[0:2]
    v.mul_(2.0)
    v.mul_(2.0)                                   # writes through the same view again
    b.mul_(5.0)
    v.mul_(3.0)
    np.testing.assert_allclose(b.data, x.data * [60.0, 60.0, 5.0])
    (b * mg.tensor(g)).sum().backward()
    np.testing.assert_allclose(x.grad, g * [60.0, 60.0, 5.0], rtol=1e-12)

    def f(x, y):
        b = x * 1.0
        u = b.reshape(3, 1)[0:2]                  # a view of a view, its tensor written
        b.add_(y)
        u.mul_(y[0:2].reshape(2, 1))
        return (b * mg.tensor(g)).sum() + (u * u).sum()

    assert mg.gradcheck(f, [x, _x(rng, 3)], atol=1e-7, rtol=1e-6)


def test_reading_a_written_view_after_its_tensor_changed(rng):
    """v.mul_(2); b.mul_(3); v read: v is b's new window, 6x (silently 2x before)."""
    x = _x(rng, 3)
    g = rng.standard_normal(2)
    b = x * 1.0
    v = b[0:2]
    v.mul_(2.0)
    b.mul_(3.0)
    (v * mg.tensor(g)).sum().backward()
    np.testing.assert_allclose(x.grad, [6 * g[0], 6 * g[1], 0.0], rtol=1e-12)


def test_a_view_can_be_used_and_written_after_a_backward_through_it(rng):
    """A view's op saves nothing backward frees (as in PyTorch, whose slice backward keeps
    only sizes), so a view kept across backward passes works in each, and writing through
    it afterwards works too (it used to crash, then to raise)."""
    x = mg.tensor(rng.standard_normal(3), requires_grad=True, dtype=np.float64)
    g1, g2, g3 = rng.standard_normal(2), rng.standard_normal(2), rng.standard_normal(3)
    b = x + 0.0
    v = b[0:2]
    (v * mg.tensor(g1)).sum().backward()
    (v * mg.tensor(g2)).sum().backward()           # the same view, a second pass
    np.testing.assert_allclose(x.grad, [*(g1 + g2), 0.0], rtol=1e-12)
    v.mul_(2.0)
    np.testing.assert_allclose(b.data, x.data * [2.0, 2.0, 1.0])
    x.grad = None
    (b * mg.tensor(g3)).sum().backward()           # b = x + 0 saved nothing either
    np.testing.assert_allclose(x.grad, g3 * [2.0, 2.0, 1.0], rtol=1e-12)
    p = mg.tensor(rng.standard_normal((3, 4)), requires_grad=True, dtype=np.float64)
    flat, pt = p.reshape(12), p.T                  # views of a parameter, kept for steps
    for _ in range(2):
        p.grad = None
        w, w2 = rng.standard_normal(12), rng.standard_normal((4, 3))
        ((flat * mg.tensor(w)).sum() + (pt * pt * mg.tensor(w2)).sum()).backward()
        np.testing.assert_allclose(p.grad, w.reshape(3, 4) + 2 * p.data * w2.T, rtol=1e-12)


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


def test_a_sibling_view_shows_a_write_through_another_view(rng):
    """u and v are both windows on t; writing v changes what u shows, and u's gradient
    follows (u[2] is v[0], doubled)."""
    x = _x(rng, 5)
    w = rng.standard_normal(3)
    t = x * 1.0
    u, v = t[0:3], t[2:5]
    v.mul_(2.0)
    (u * mg.tensor(w)).sum().backward()
    np.testing.assert_allclose(x.grad, [w[0], w[1], 2 * w[2], 0, 0], rtol=1e-12)


# Programs of writes through several views of one tensor, in random order: every view and
# the tensor are read at the end, so each must show every write before it.
_VIEWS = [lambda t: t, lambda t: t[1:3], lambda t: t.T[::-1], lambda t: t.reshape(2, 6)[1],
          lambda t: t[2, 1], lambda t: t.reshape(3, 4)[:, 1:3].T]


@pytest.mark.parametrize("seed", range(6))
def test_random_writes_through_many_views(seed):
    rng = np.random.default_rng(seed)
    steps = [(int(rng.integers(len(_VIEWS))), int(rng.integers(4))) for _ in range(6)]
    proj = [rng.standard_normal(f(np.zeros((4, 3))).shape) for f in _VIEWS]

    def f(x, y):
        t = x * 1.0
        views = [view(t) for view in _VIEWS]
        for which, op in steps:
            v = views[which]
            if op == 0:
                v.mul_(-1.5)
            elif op == 1:
                v.add_(y.reshape(2, 6)[0, 0] * y.reshape(2, 6)[1, 0])
            elif op == 2:
                v.mul_(y.reshape(-1)[which] + 2.0)
            else:                                 # (v * v would save v, which later
                c = v * 1.0                       # writes change: backward would raise)
                v.copy_(c * c * 0.5)
        return sum((v * mg.tensor(w)).sum() for v, w in zip(views, proj))

    x, y = _x(rng, (4, 3)), _x(rng, (4, 3))
    assert mg.gradcheck(f, [x, y], atol=1e-6, rtol=1e-5)


def test_a_write_through_a_view_of_a_constant(rng):
    """The viewed tensor needs no gradient, the written value does: the tensor becomes a
    node of the graph (PyTorch: requires_grad turns True, grad_fn CopySlices), and so do
    the other views of it, whenever they were taken."""
    w = rng.standard_normal(3)

    def f(y):
        b = mg.tensor(np.zeros(3), dtype=np.float64)
        v, u = b[0:2], b[1:3]
        v.add_(y * y)
        assert b.requires_grad and v.requires_grad
        uu = u * u                                # u is rebuilt on b when used: it needs
        assert u.requires_grad                    # a gradient from then on
        return (b * mg.tensor(w)).sum() + uu.sum()

    assert mg.gradcheck(f, [_x(rng, 2)], atol=1e-7, rtol=1e-6)

    def h(y):
        b = mg.tensor(np.ones(3), dtype=np.float64)
        u = b[1:3]
        b.mul_(y)                                 # u shows y[1:3] now
        return (u * mg.tensor(w[:2])).sum()

    y = _x(rng, 3)
    assert mg.gradcheck(h, [y], atol=1e-7, rtol=1e-6)
    h(y).backward()
    np.testing.assert_allclose(y.grad, [0.0, w[0], w[1]])


def test_a_view_made_under_no_grad_cannot_be_changed_while_recording(rng):
    """PyTorch forbids it: whether the write should reach the gradient of the tensor the
    view shows is ambiguous. Both inside no_grad (not recorded) or both outside is fine."""
    x = _x(rng, 4)
    b = x * 1.0
    c = mg.tensor(np.zeros(4))
    with mg.no_grad():
        views = [x[0:2], b[1:3], b.reshape(2, 2)[0], c[0:2]]
    before = (x.data.copy(), b.data.copy(), c.data.copy())
    writes = (lambda v: v.mul_(2.0), lambda v: v.add_(x[2:4]))
    for v, write in [(v, w) for v in views[:3] for w in writes] + [(views[3], writes[1])]:
        with pytest.raises(RuntimeError, match=r"view \(shape \(2,\)\) was made inside "
                           r"`no_grad\(\)` .* both inside"):
            write(v)
    for arr, was in zip((x.data, b.data, c.data), before):
        np.testing.assert_array_equal(arr, was)   # nothing written
    views[3].add_(1.0)               # nothing needs a gradient: a plain write, as in PyTorch
    np.testing.assert_array_equal(c.data, [1.0, 1.0, 0.0, 0.0])
    with mg.no_grad():
        views[1].mul_(2.0)           # both inside: not recorded (b's graph is unchanged)
    assert b._op.name == "mul"


def test_writing_many_views_costs_each_one_rebuild_and_leaves_no_cycles(rng):
    """A view is rebuilt when it is next used, not at every write into its tensor: writing
    each of n rows in turn rebuilds each row once (eagerly it was n² rebuilds, 7 s for
    800 rows, kept alive by their earlier selves). And no node refers back to a tensor
    being changed, so the graph is freed as soon as it is dropped, collector or not."""
    import gc
    import weakref

    from microgd.state import REBASED
    x = mg.tensor(rng.standard_normal((200, 3)), requires_grad=True, dtype=np.float64)
    y = x * 1.0
    rows = [y[i] for i in range(200)]
    before = REBASED[0]
    for r in rows:
        r.mul_(2.0)
    assert REBASED[0] - before <= 3 * 200   # per write: y, and the row before and after it
    g = rng.standard_normal((200, 3))
    (y * mg.tensor(g)).sum().backward()
    np.testing.assert_allclose(x.grad, 2 * g, rtol=1e-12)
    gc.disable()
    try:
        z = x * 1.0
        v = z.T[1:3]
        v.mul_(x.T[1:3])
        z.add_(1.0)
        (v * 1.0).sum()                               # v rebuilt on z's latest self
        alive = weakref.ref(z)
        del z, v
        assert alive() is None                        # freed without the collector
    finally:
        gc.enable()


def test_a_rebuilt_view_differentiates_twice(rng):
    """The node a view becomes after its tensor changed is an ordinary view op, so
    create_graph and retain_graph work through it: a Hessian-vector product against finite
    differences of the gradient, and two backward passes giving the same gradient."""
    w = rng.standard_normal(2)
    u = rng.standard_normal(3)

    def loss(x):
        b = x * x
        v = b[1:3]
        v.mul_(x[0:2])
        b.mul_(x)                                 # v is rebuilt on the new b
        return (v * v * mg.tensor(w)).sum()

    def grad_dot_u(x):
        (gx,) = mg.grad(loss(x), [x], create_graph=True)
        return (gx * mg.tensor(u)).sum()

    x = _x(rng, 3)
    assert mg.gradcheck(loss, [x], atol=1e-7, rtol=1e-6)
    assert mg.gradcheck(grad_dot_u, [x], atol=1e-6, rtol=1e-5)
    out = loss(x)
    out.backward(retain_graph=True)
    first = x.grad.copy()
    x.grad = None
    out.backward()
    np.testing.assert_allclose(x.grad, first, rtol=1e-12)


def test_a_view_not_used_since_its_tensor_changed_is_rebuilt_wherever_it_is_read(rng):
    """y = x * 1; v = y[0:2]; y.mul_(3): v now shows 3x. Its node is rebuilt when v is next
    used, and every way of using it counts: mg.grad from it or to it, a hook or
    retain_grad registered on it, clone, and being the operand of another write. (mg.grad
    gave 1 for 3 here, and a hook registered on v never ran.)"""
    g = rng.standard_normal(2)

    def stale(x):
        y = x * 1.0
        v = y[0:2]
        y.mul_(3.0)
        return v

    x = mg.tensor(rng.standard_normal(4), requires_grad=True, dtype=np.float64)
    (gx,) = mg.grad(stale(x), [x], grad_outputs=mg.tensor(g))
    np.testing.assert_allclose(gx.data, [3 * g[0], 3 * g[1], 0, 0], rtol=1e-12)
    v = stale(x)
    v.register_hook(lambda d: d * 10.0)
    v.retain_grad()
    (v * mg.tensor(g)).sum().backward()
    np.testing.assert_allclose(x.grad, [30 * g[0], 30 * g[1], 0, 0], rtol=1e-12)
    np.testing.assert_allclose(v.grad, 10 * g, rtol=1e-12)
    for use in (lambda v: v.clone(), lambda v: mg.tensor(np.zeros(2)).add_(v)):
        x.grad = None
        (use(stale(x)) * mg.tensor(g)).sum().backward()
        np.testing.assert_allclose(x.grad, [3 * g[0], 3 * g[1], 0, 0], rtol=1e-12)


def test_views_of_a_tensor_that_joins_the_graph_need_a_gradient_too(rng):
    """c = zeros(4); v = c[0:2]; c.copy_(x * 3): c now needs a gradient, and so does v, as
    in PyTorch (its flag said False, and code that checks it dropped the gradient)."""
    g = rng.standard_normal(2)
    x = mg.tensor(rng.standard_normal(4), requires_grad=True, dtype=np.float64)
    c = mg.tensor(np.zeros(4), dtype=np.float64)
    v, vv = c[0:2], c.reshape(2, 2)[1]
    with mg.no_grad():
        w = c[2:4]                                    # made under no_grad: stays out
    c.copy_(x * 3.0)
    assert c.requires_grad and v.requires_grad and vv.requires_grad and not w.requires_grad
    (gx,) = mg.grad(v, [x], grad_outputs=mg.tensor(g))
    np.testing.assert_allclose(gx.data, [3 * g[0], 3 * g[1], 0, 0], rtol=1e-12)


def test_grad_with_respect_to_a_node_skips_that_nodes_own_backward(rng):
    """mg.grad(loss, [s]) needs nothing from s's own VJP; s = sin(h) read h, which was
    written since, so running that VJP raised (PyTorch returns the gradient)."""
    x = mg.tensor(rng.standard_normal(3), requires_grad=True, dtype=np.float64)
    w = rng.standard_normal(3)
    h = x * 1.0
    s = h.sin()
    h.mul_(3.0)
    loss = (s * mg.tensor(w)).sum() + (h * h).sum()
    (gs,) = mg.grad(loss, [s])
    np.testing.assert_allclose(gs.data, w)
    with pytest.raises(TypeError, match=r"grad: expected Tensors, got Value .*backward\(\)"):
        mg.grad(mg.Value(2.0) * 3.0, mg.Value(1.0))


def test_a_view_of_a_view_is_rebuilt_on_the_first_tensor(rng):
    """After its first tensor changed, a view of a view is rebuilt on that tensor directly
    (PyTorch's AsStrided), not on the view it was taken from: so the gradient with respect
    to the middle view counts only the middle view's own uses, and a hook on it does not
    scale what flows through the inner view (it doubled it, and u's gradient with it)."""
    u = mg.tensor(rng.standard_normal(3), requires_grad=True, dtype=np.float64)
    w3, w4 = rng.standard_normal(2), rng.standard_normal(1)
    p2 = u * 1.0
    p3 = p2[0:2]
    p4 = p3[0:1]
    p2.mul_(3.0)
    loss = (p3 * mg.tensor(w3)).sum() + (p4 * mg.tensor(w4)).sum()
    (g3,) = mg.grad(loss, [p3], retain_graph=True)
    np.testing.assert_allclose(g3.data, w3, rtol=1e-12)
    p3.register_hook(lambda d: d * 2.0)
    loss.backward()
    np.testing.assert_allclose(u.grad, 3 * (np.r_[2 * w3, 0.0] + np.r_[w4, 0.0, 0.0]),
                               rtol=1e-12)
