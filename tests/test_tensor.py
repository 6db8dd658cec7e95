"""Tensor semantics: dtypes, attributes, backward/accumulation, no_grad, detach,
higher-order gradients, and clear errors for bad input."""
import numpy as np
import pytest

import microgd as mg


# ---------------------------------------------------------------- construction and dtypes
def test_dtype_rules():
    assert mg.tensor(1.5).dtype == np.float32
    assert mg.tensor([1.0, 2.0]).dtype == np.float32
    assert mg.tensor([1, 2]).dtype == np.int64
    assert mg.tensor(np.zeros(3, np.float64)).dtype == np.float64
    assert mg.tensor(np.zeros(3, np.float16)).dtype == np.float16
    assert mg.Tensor(np.zeros(3, np.int32)).dtype == np.int32
    mg.set_default_dtype(np.float64)
    assert mg.tensor([1.0]).dtype == np.float64
    assert mg.nn.Parameter(np.zeros(2, np.float32)).dtype == np.float32


def test_python_scalars_never_promote():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    for out in (x * 2.5, 2.5 * x, x + 1, x / 3, x ** 2, 1 - x, x.pow(0.5), x.clip(0, 1)):
        assert out.dtype == np.float32
    loss = (x * 1e-3 + 7).sum()
    loss.backward()
    assert x.grad.dtype == np.float32


def test_integer_tensors_meeting_python_floats_use_the_default_float():
    i = mg.tensor([1, 2, 3])
    for out in (i * 0.5, 0.5 * i, i + 1.5, i / 2.0, 2.0 - i):
        assert out.dtype == np.float32
    assert (i * 2).dtype == np.int64 and (i + True).dtype == np.int64
    mg.set_default_dtype(np.float64)
    assert (i * 0.5).dtype == np.float64


def test_integer_tensors_in_fractional_ops_use_the_default_float():
    """PyTorch's rule: numpy would give float64 and quietly upcast a float32 graph."""
    i = mg.tensor([1, 2, 4])
    fractional = {"i / 2": lambda: i / 2, "i / i": lambda: i / i, "2 / i": lambda: 2 / i,
                  "exp": i.exp, "log": i.log, "sqrt": i.sqrt, "tanh": i.tanh,
                  "sigmoid": i.sigmoid, "mean": i.mean, "var": i.var, "softmax": i.softmax,
                  "log_softmax": i.log_softmax, "logsumexp": i.logsumexp,
                  "F.softmax": lambda: mg.nn.F.softmax(i)}
    for name, f in fractional.items():
        assert f().dtype == np.float32, name
    np.testing.assert_allclose((i / 2).data, [0.5, 1, 2])
    np.testing.assert_allclose(i.mean().data, 7 / 3, rtol=1e-6)
    np.testing.assert_allclose(i.sqrt().data, [1, np.sqrt(2), 2], rtol=1e-6)
    x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    assert (x * i.sqrt()).dtype == np.float32      # no float64 sneaks into the graph
    for whole in (-i, i.abs(), i.relu(), i.sum(), i.max(), i * 2, i ** 2):
        assert whole.dtype == np.int64
    mg.set_default_dtype(np.float64)
    assert (i / 2).dtype == i.exp().dtype == np.float64


def test_two_float_widths_promote_to_the_wider_and_gradients_keep_their_own():
    a = mg.tensor(np.ones(2, np.float32), requires_grad=True)
    b = mg.tensor(np.ones(2, np.float64), requires_grad=True)
    c = a * b
    assert c.dtype == np.float64
    c.backward(np.array([0.5, -2.0]))
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64
    np.testing.assert_allclose(a.grad, [0.5, -2.0])


def test_unary_and_reductions_keep_dtype():
    x = mg.tensor(np.ones((2, 3), np.float32))
    for out in (x.exp(), x.sum(), x.mean(axis=0), x.var(), x.softmax(), x.max()):
        assert out.dtype == np.float32


def test_attributes():
    x = mg.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    assert x.shape == (2, 3) and x.ndim == 2 and x.size == 6 and isinstance(x.size, int)
    assert len(x) == 2 and x.T.shape == (3, 2)
    assert isinstance(x.data, np.ndarray) and x.grad is None and x.requires_grad
    assert x.numpy() is x.data
    assert x.sum().item() == 15.0 and isinstance(x.sum().item(), float)
    d = x.detach()
    assert not d.requires_grad and d.data is x.data


def test_tensor_copies_and_Tensor_shares():
    a = np.zeros(3)
    assert mg.tensor(a).data is not a
    assert mg.Tensor(a).data is a


def test_ndarray_on_the_left_returns_tensor():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    out = np.array([3.0, 4.0], dtype=np.float32) * x
    assert isinstance(out, mg.Tensor) and out.requires_grad
    assert isinstance(np.ones((2, 2), np.float32) @ x, mg.Tensor)


# ---------------------------------------------------------------- backward semantics
def test_backward_accumulates_and_explicit_grad():
    x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    g = np.array([0.5, -1.0, 2.0], np.float32)
    (x * x).backward(g)
    (x * x).backward(g)
    np.testing.assert_allclose(x.grad, 2 * (2 * x.data * g))
    x.grad = None
    y = x * 2
    y.backward(np.array([1.0, 0.0, -1.0]))
    np.testing.assert_allclose(x.grad, [2.0, 0.0, -2.0])
    z = (x * 3).sum()
    x.grad = None
    z.backward(2.0)
    np.testing.assert_allclose(x.grad, [6.0, 6.0, 6.0])
    w = x * 1
    x.grad = None
    w.backward(mg.tensor([1.0, 1.0, 1.0]))
    np.testing.assert_allclose(x.grad, [1.0, 1.0, 1.0])


def test_shared_gradient_arrays_are_not_aliased():
    a = mg.tensor([1.0, 2.0], requires_grad=True)
    b = mg.tensor([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward()
    assert a.grad is not b.grad
    a.grad *= 10  # in place, as clip_grad_norm_ does
    np.testing.assert_allclose(b.grad, [1.0, 1.0])


def test_only_leaves_keep_grad_and_graph_is_freed():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    loss = (h * h).sum()
    loss.backward()
    assert h.grad is None and x.grad is not None
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        loss.backward()


def test_retain_graph_allows_second_backward():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    loss = (x * x).sum()
    loss.backward(retain_graph=True)
    loss.backward()
    np.testing.assert_allclose(x.grad, 4 * x.data)


def test_no_grad_records_nothing():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    with mg.no_grad():
        y = (x * 2).exp().sum()
        assert not mg.is_grad_enabled()
    assert mg.is_grad_enabled()
    assert not y.requires_grad and y._parents == () and y._op is None
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()


def test_detach_cuts_the_graph():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    z = (y.detach() * x).sum()  # d/dx = y (treated as a constant)
    z.backward()
    np.testing.assert_allclose(x.grad, y.data)


def test_constant_inputs_get_no_gradient():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    c = mg.tensor([5.0, 6.0])
    (x * c).sum().backward()
    assert c.grad is None


# ---------------------------------------------------------------- higher order
def test_hessian_of_quadratic_form_is_A_plus_AT(rng):
    A = rng.standard_normal((4, 4))
    x = mg.tensor(rng.standard_normal(4), requires_grad=True, dtype=np.float64)
    f = x @ (mg.tensor(A) @ x)
    (g,) = mg.grad(f, x, create_graph=True)
    np.testing.assert_allclose(g.data, (A + A.T) @ x.data)
    H = np.stack([mg.grad(g[i], x, retain_graph=True)[0].data for i in range(4)])
    np.testing.assert_allclose(H, A + A.T, rtol=1e-12)


def test_hessian_vector_product_equals_H_times_v(rng):
    x = mg.tensor(rng.standard_normal(3), requires_grad=True, dtype=np.float64)
    v = rng.standard_normal(3)

    def f(t):
        return (t.tanh() * t.exp()).sum() + (t[0] * t[1] * t[2]) + (t ** 2).sum().log()

    (g,) = mg.grad(f(x), x, create_graph=True)
    (hv,) = mg.grad((g * v).sum(), x)
    eps = 1e-5
    H = np.zeros((3, 3))
    for j in range(3):  # finite differences of the gradient
        xp = mg.tensor(x.data.copy(), requires_grad=True, dtype=np.float64)
        xm = mg.tensor(x.data.copy(), requires_grad=True, dtype=np.float64)
        xp.data[j] += eps
        xm.data[j] -= eps
        H[:, j] = (mg.grad(f(xp), xp)[0].data - mg.grad(f(xm), xm)[0].data) / (2 * eps)
    np.testing.assert_allclose(hv.data, H @ v, rtol=1e-6, atol=1e-8)


def test_third_derivative_of_polynomial():
    x = mg.tensor(1.7, requires_grad=True, dtype=np.float64)
    y = 2 * x ** 4 - 3 * x ** 3 + x  # y''' = 48x - 18
    (d1,) = mg.grad(y, x, create_graph=True)
    (d2,) = mg.grad(d1, x, create_graph=True)
    (d3,) = mg.grad(d2, x)
    assert d1.item() == pytest.approx(8 * 1.7 ** 3 - 9 * 1.7 ** 2 + 1)
    assert d2.item() == pytest.approx(24 * 1.7 ** 2 - 18 * 1.7)
    assert d3.item() == pytest.approx(48 * 1.7 - 18)


@pytest.mark.parametrize("f", [
    lambda t: (t.sigmoid() * t.softmax()).sum(),
    lambda t: (t.reshape(2, 2) @ t.reshape(2, 2).T).max(),
    lambda t: t.log_softmax().sum() * t.var(),
    lambda t: mg.concatenate([t, t[[0, 0]] ** 2]).sqrt().sum(),
    lambda t: (t.abs() + mg.maximum(t, 0.1) * t.clip(-0.5, 0.5)).mean(),
], ids=["sigmoid_softmax", "matmul_max", "logsoftmax_var", "concat_index", "abs_max_clip"])
def test_second_derivatives_against_finite_differences(rng, f):
    x = mg.tensor(rng.uniform(0.2, 1.0, 4), requires_grad=True, dtype=np.float64)
    v = rng.standard_normal(4)

    def directional(t):  # the gradient projected on v, differentiable again
        (g,) = mg.grad(f(t), t, create_graph=True)
        return (g * v).sum()

    assert mg.gradcheck(directional, [x], atol=1e-5, rtol=1e-4)


def test_grad_does_not_touch_dot_grad_and_checks_use():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = mg.tensor([1.0, 2.0], requires_grad=True)
    (g,) = mg.grad((x * x).sum(), x)
    assert x.grad is None
    np.testing.assert_allclose(g.data, [2.0, 4.0])
    with pytest.raises(RuntimeError, match="not used.*allow_unused"):
        mg.grad((x * x).sum(), [x, y])
    assert mg.grad((x * x).sum(), [x, y], allow_unused=True)[1] is None
    (gx,) = mg.grad(x * x, x, grad_outputs=np.array([1.0, -1.0]))
    np.testing.assert_allclose(gx.data, [2.0, -4.0])


def test_gradcheck_reports_the_worst_entry():
    class Wrong(mg.ops.Op):
        name = "wrong"
        forward = staticmethod(lambda a: a * a)
        backward = staticmethod(lambda g, out, needs, a: (g * a,))  # should be 2a

    x = mg.tensor([1.0, 3.0], requires_grad=True, dtype=np.float64)
    with pytest.raises(mg.GradcheckError, match=r"input 0 .* index \(1,\).*analytic 3"):
        mg.gradcheck(lambda t: Wrong.apply(t).sum(), [x])
    with pytest.raises(TypeError, match="float64"):
        mg.gradcheck(lambda t: t.sum(), [mg.tensor([1.0], requires_grad=True)])


# ---------------------------------------------------------------- bad input
def test_shape_errors_name_op_and_shapes():
    a = mg.tensor(np.ones((3, 4)))
    b = mg.tensor(np.ones((5, 2)))
    with pytest.raises(ValueError, match=r"matmul: \(3, 4\) @ \(5, 2\): inner dimensions 4 "
                                         r"and 5 differ"):
        a @ b
    with pytest.raises(ValueError, match=r"matmul: \(2, 3, 4\) @ \(5, 4, 2\): batch "
                                         r"dimensions \(2,\) and \(5,\)"):
        mg.tensor(np.ones((2, 3, 4))) @ mg.tensor(np.ones((5, 4, 2)))
    with pytest.raises(ValueError, match="matmul.*at least one dimension"):
        mg.tensor(2.0) @ a
    for op, sym in [("add", "+"), ("sub", "-"), ("mul", "*"), ("div", "/"), ("pow", "**")]:
        with pytest.raises(ValueError, match=rf"{op}: shapes \(3, 4\) and \(5, 2\) cannot be "
                                             "broadcast"):
            eval(f"a {sym} b")
    with pytest.raises(ValueError, match=r"maximum: shapes \(3, 4\) and \(5, 2\)"):
        mg.maximum(a, b)
    with pytest.raises(ValueError, match=r"reshape: .*shape \(3, 4\) \(12 elements\) into "
                                         r"shape \(5,\)"):
        a.reshape(5)
    with pytest.raises(ValueError, match="concatenate"):
        mg.concatenate([a, b], axis=0)
    with pytest.raises(ValueError, match="stack: all tensors need the same shape"):
        mg.stack([a, b])
    with pytest.raises(ValueError, match=r"broadcast_to: cannot broadcast shape \(3, 4\)"):
        a.broadcast_to((2, 5))
    assert a.squeeze(0) is a  # an axis whose size is not 1 is left as it is (PyTorch)


def test_axis_errors_name_axis_and_ndim():
    a = mg.tensor(np.ones((3, 4)))
    for f in (lambda: a.sum(axis=2), lambda: a.mean(axis=-3), lambda: a.max(axis=(0, 5)),
              lambda: a.softmax(axis=2), lambda: a.var(axis=7)):
        with pytest.raises(ValueError, match=r"axis -?\d is out of range for a tensor with 2 "
                                             r"dimensions \(shape \(3, 4\)\)"):
            f()
    with pytest.raises(ValueError, match="mean over an empty axis"):
        mg.tensor(np.ones((0, 3))).mean(axis=0)
    with pytest.raises(ValueError, match="max: cannot reduce an empty axis"):
        mg.tensor(np.ones((0, 3))).max(axis=0)


def test_indexing_errors():
    a = mg.tensor(np.ones((3, 4)))
    with pytest.raises(IndexError, match=r"getitem: index 5 is out of bounds.*shape \(3, 4\)"):
        a[5]
    with pytest.raises(IndexError, match="getitem"):
        a[np.array([0, 9])]
    with pytest.raises(IndexError, match="integers or booleans"):
        a[np.array([0.5])]


def test_requires_grad_on_integers_is_a_type_error():
    with pytest.raises(TypeError, match="requires_grad=True needs a floating-point tensor.*int64"):
        mg.tensor([1, 2], requires_grad=True)
    with pytest.raises(TypeError, match="floating-point"):
        mg.Tensor(np.arange(3), requires_grad=True)
    with pytest.raises(TypeError, match="floating-point"):
        mg.tensor([1, 2]).requires_grad_()


def test_bad_constructor_input():
    with pytest.raises(TypeError, match="expected numbers.*str"):
        mg.tensor("abc")
    with pytest.raises(ValueError, match="cannot make an array"):
        mg.tensor([[1.0, 2.0], [3.0]])
    with pytest.raises(TypeError, match="unsupported operand of type str"):
        mg.tensor([1.0]) + "a"


def test_backward_errors():
    x = mg.tensor(np.ones((3, 4)), requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match=r"backward: the output has shape \(3, 4\).*pass the "
                                           "upstream gradient"):
        y.backward()
    with pytest.raises(ValueError, match=r"backward: gradient shape \(4, 3\) does not match the "
                                         r"output shape \(3, 4\)"):
        y.backward(np.ones((4, 3)))
    with pytest.raises(RuntimeError, match="does not require grad"):
        mg.tensor([1.0]).backward()


def test_item_and_truth_errors():
    with pytest.raises(ValueError, match="only one-element"):
        mg.tensor([1.0, 2.0]).item()
    with pytest.raises(ValueError, match="ambiguous"):
        bool(mg.tensor([1.0, 2.0]))
    with pytest.raises(TypeError, match="0-d"):
        len(mg.tensor(1.0))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_second_derivatives_through_the_fused_ops(rng, reduction):
    """Linear and CrossEntropy have hand-written backward rules; they must stay
    differentiable (create_graph=True) like the primitives."""
    w = mg.tensor(rng.standard_normal((3, 4)), requires_grad=True, dtype=np.float64)
    b = mg.tensor(rng.standard_normal(3), requires_grad=True, dtype=np.float64)
    x = mg.tensor(rng.standard_normal((5, 4)), requires_grad=True, dtype=np.float64)
    target = np.array([0, 2, 1, 1, 0])
    v = rng.standard_normal((3, 4))

    def loss(w_, b_, x_):
        out = mg.nn.F.cross_entropy(mg.nn.F.linear(x_, w_, b_).tanh(), target, reduction)
        return out if reduction != "none" else (out * np.arange(1, 6)).sum()

    def directional(w_, b_, x_):  # v . dJ/dW, as a function of all three inputs
        (gw,) = mg.grad(loss(w_, b_, x_), w_, create_graph=True)
        return (gw * v).sum()

    assert mg.gradcheck(loss, [w, b, x])
    assert mg.gradcheck(directional, [w, b, x], atol=1e-5, rtol=1e-4)


def test_fused_linear_handles_vectors_and_batches(rng):
    w = mg.tensor(rng.standard_normal((3, 4)), requires_grad=True, dtype=np.float64)
    for shape in [(4,), (2, 5, 4)]:
        x = mg.tensor(rng.standard_normal(shape), requires_grad=True, dtype=np.float64)
        out = mg.nn.F.linear(x, w)
        np.testing.assert_allclose(out.data, x.data @ w.data.T)
        assert mg.gradcheck(lambda a, m: mg.nn.F.linear(a, m), [x, w])


def test_in_place_relu_backward_never_corrupts_other_gradients():
    """ReLU's backward overwrites the gradient it receives; nobody else may hold it."""
    x = mg.tensor([[-1.0, 2.0], [3.0, -4.0]], requires_grad=True, dtype=np.float64)
    w = np.array([1.0, 2.0, 3.0, 4.0])
    n = x.relu().reshape(-1)              # n's gradient reaches relu as a view
    y = (n * w).sum()
    gn, gx = mg.grad(y, [n, x], retain_graph=True)
    np.testing.assert_array_equal(gn.data, w)  # intact, though relu zeroed its copy
    np.testing.assert_array_equal(gx.data, [[0.0, 2.0], [3.0, 0.0]])
    a = mg.tensor([1.0, -1.0], requires_grad=True)
    b = mg.tensor([5.0, 5.0], requires_grad=True)
    (a.relu() + b).sum().backward()       # add hands g to relu and a copy to b
    np.testing.assert_array_equal(b.grad, [1.0, 1.0])
    np.testing.assert_array_equal(a.grad, [1.0, 0.0])
