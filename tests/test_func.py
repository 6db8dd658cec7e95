"""mg.func against central finite differences (float64) and against mg.grad."""
import numpy as np
import pytest

import microgd as mg

F = mg.func
EPS = 1e-6


def numeric_jacobian(f, args, k):
    """d f / d args[k] by central differences, shape out.shape + args[k].shape."""
    base = [np.array(a, dtype=np.float64) for a in args]
    y0 = np.asarray(f(*[mg.tensor(a) for a in base]).data)
    jac = np.zeros(y0.shape + base[k].shape)
    for idx in np.ndindex(base[k].shape):
        plus = [a.copy() for a in base]
        minus = [a.copy() for a in base]
        plus[k][idx] += EPS
        minus[k][idx] -= EPS
        yp = f(*[mg.tensor(a) for a in plus]).data
        ym = f(*[mg.tensor(a) for a in minus]).data
        jac[(Ellipsis,) + idx] = (yp - ym) / (2 * EPS)
    return jac


def _functions(rng):
    A = rng.standard_normal((4, 3))
    return {
        "tanh-linear": (lambda x, y: mg.tensor(A) @ (x * y).tanh(), 2),
        "softmax": (lambda x, y: (x - y).softmax(), 2),
        "product-exp": (lambda x, y: (x.exp() * y.sum()) + y * y, 2),
    }


@pytest.mark.parametrize("name", ["tanh-linear", "softmax", "product-exp"])
@pytest.mark.parametrize("argnums", [0, 1, (0, 1), -1])
def test_jacrev_and_jacfwd_match_finite_differences(rng, name, argnums):
    f, n = _functions(rng)[name]
    args = [rng.standard_normal(3) for _ in range(n)]
    tensors = [mg.tensor(a) for a in args]
    for transform in (F.jacrev, F.jacfwd):
        got = transform(f, argnums=argnums)(*tensors)
        nums = (argnums,) if isinstance(argnums, int) else argnums
        got = (got,) if isinstance(argnums, int) else got
        for k, jac in zip(nums, got):
            np.testing.assert_allclose(jac.data, numeric_jacobian(f, args, k % n),
                                       rtol=1e-5, atol=1e-7)


def test_grad_agrees_with_mg_grad_and_finite_differences(rng):
    x = mg.tensor(rng.standard_normal(4), dtype=np.float64)
    w = rng.standard_normal(4)

    def f(t):
        return ((t * t).tanh() * mg.tensor(w)).sum()

    got = F.grad(f)(x)
    leaf = mg.tensor(x.data, requires_grad=True)
    (expected,) = mg.grad(f(leaf), leaf)
    np.testing.assert_allclose(got.data, expected.data)
    np.testing.assert_allclose(got.data, numeric_jacobian(f, [x.data], 0), rtol=1e-6)


def test_vjp_and_jvp_against_the_jacobian(rng):
    A = rng.standard_normal((2, 3))

    def f(x):
        return mg.tensor(A) @ x.tanh()

    x = mg.tensor(rng.standard_normal(3), dtype=np.float64)
    J = numeric_jacobian(f, [x.data], 0)
    u, v = rng.standard_normal(2), rng.standard_normal(3)
    out, vjp_fn = F.vjp(f, x)
    np.testing.assert_allclose(out.data, A @ np.tanh(x.data))
    np.testing.assert_allclose(vjp_fn(u)[0].data, u @ J, rtol=1e-6)
    np.testing.assert_allclose(vjp_fn(2 * u)[0].data, 2 * u @ J, rtol=1e-6)  # reusable
    out, jv = F.jvp(f, (x,), (mg.tensor(v),))
    np.testing.assert_allclose(jv.data, J @ v, rtol=1e-6)


def test_hessian_of_the_saddle_and_of_a_two_argument_function(rng):
    def saddle(p):
        x, y = p[0], p[1]
        return x * x * 0.5 - y * y * 0.5 + y ** 4 * 0.25

    H = F.hessian(saddle)(mg.tensor(np.array([0.0, 0.0])))
    np.testing.assert_allclose(H.data, [[1.0, 0.0], [0.0, -1.0]])
    a = mg.tensor(rng.standard_normal(3), dtype=np.float64)
    b = mg.tensor(rng.standard_normal(3), dtype=np.float64)
    H = F.hessian(lambda a, b: (a * a * b).sum(), argnums=(0, 1))(a, b)
    np.testing.assert_allclose(H[0][0].data, np.diag(2 * b.data))
    np.testing.assert_allclose(H[0][1].data, np.diag(2 * a.data))
    np.testing.assert_allclose(H[1][1].data, np.zeros((3, 3)))


def test_transforms_compose_and_leave_inputs_alone(rng):
    x = mg.tensor(rng.standard_normal(3), dtype=np.float64)
    third = F.grad(lambda t: F.grad(lambda s: F.grad(lambda r: (r ** 4).sum())(s).sum())(t)
                   .sum())(x)
    np.testing.assert_allclose(third.data, 24 * x.data)
    assert not x.requires_grad and x.grad is None


def test_func_errors_say_what_is_wrong(rng):
    x = mg.tensor(rng.standard_normal(3))
    with pytest.raises(ValueError, match="grad: the function must return a one-element"):
        F.grad(lambda t: t * 2)(x)
    with pytest.raises(ValueError, match="argnums 3 out of range for 1 arguments"):
        F.jacrev(lambda t: t, argnums=3)(x)
    with pytest.raises(TypeError, match="must return a Tensor"):
        F.grad(lambda t: 1.0)(x)
    with pytest.raises(ValueError, match="jvp: 1 primals but 2 tangents"):
        F.jvp(lambda t: t, (x,), (x, x))
