"""The scalar engine: every op against central finite differences."""
import math

import pytest

import microgd as mg


def numeric_grads(f, xs, eps=1e-6):
    grads = []
    for i in range(len(xs)):
        up = list(xs)
        down = list(xs)
        up[i] += eps
        down[i] -= eps
        grads.append((f(*[mg.Value(v) for v in up]).data - f(*[mg.Value(v) for v in down]).data)
                     / (2 * eps))
    return grads


def check(f, *xs, tol=1e-6):
    vals = [mg.Value(x) for x in xs]
    out = f(*vals)
    out.backward()
    for v, n in zip(vals, numeric_grads(f, xs)):
        assert v.grad == pytest.approx(n, rel=tol, abs=tol), (v.grad, n)


CASES = {
    "add": (lambda a, b: a + b, (1.5, -2.0)),
    "radd": (lambda a: 3 + a, (0.7,)),
    "sub": (lambda a, b: a - b, (1.5, -2.0)),
    "rsub": (lambda a: 3 - a, (0.7,)),
    "mul": (lambda a, b: a * b, (1.5, -2.0)),
    "rmul": (lambda a: 3 * a, (0.7,)),
    "div": (lambda a, b: a / b, (1.5, -2.0)),
    "rdiv": (lambda a: 3 / a, (0.7,)),
    "neg": (lambda a: -a, (0.7,)),
    "pow_number": (lambda a: a ** 3, (0.7,)),
    "pow_fraction": (lambda a: a ** 0.5, (0.7,)),
    "pow_negative_int": (lambda a: a ** -2, (-0.7,)),
    "pow_value": (lambda a, b: a ** b, (1.3, 0.4)),
    "rpow": (lambda a: 2 ** a, (0.7,)),
    "relu_pos": (lambda a: a.relu(), (0.7,)),
    "relu_neg": (lambda a: a.relu(), (-0.7,)),
    "tanh": (lambda a: a.tanh(), (0.3,)),
    "sigmoid": (lambda a: a.sigmoid(), (-0.3,)),
    "exp": (lambda a: a.exp(), (0.3,)),
    "log": (lambda a: a.log(), (0.3,)),
    "api_example": (lambda a, b: (a * b + a ** 2 - b / a).tanh() + (a - b).relu()
                    + a.exp().log() + b.sigmoid(), (2.0, -3.0)),
    "composite": (lambda a, b: ((a * b).tanh() + (a / (b * b + 1)).exp()) ** 2 - a.sigmoid(),
                  (0.4, -1.1)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradients_match_finite_differences(name):
    f, xs = CASES[name]
    check(f, *xs)


def test_api_example_values():
    a = mg.Value(2.0, label="a")
    b = mg.Value(-3.0)
    c = (a * b + a ** 2 - b / a).tanh() + (a - b).relu() + a.exp().log() + b.sigmoid()
    expected = math.tanh(-6 + 4 + 1.5) + 5 + 2 + 1 / (1 + math.exp(3))
    assert c.data == pytest.approx(expected)
    c.backward()
    assert isinstance(a.grad, float) and isinstance(a.data, float)


def test_backward_twice_doubles_every_gradient():
    a, b = mg.Value(0.5), mg.Value(-1.5)
    mid = a * b
    out = (mid + a).tanh()
    out.backward()
    first = (a.grad, b.grad, mid.grad, out.grad)
    out.backward()
    assert (a.grad, b.grad, mid.grad, out.grad) == pytest.approx([2 * g for g in first])
    assert out.grad == 2.0


def test_diamond_reuse_sums_all_paths():
    x = mg.Value(1.3)
    y = x * x + x * 3 + x  # dy/dx = 2x + 4
    y.backward()
    assert x.grad == pytest.approx(2 * 1.3 + 4)
    x2 = mg.Value(0.7)
    z = x2
    for _ in range(10):
        z = z + x2  # x2 used 11 times in total
    z.backward()
    assert x2.grad == pytest.approx(11.0)


def test_deep_chain_does_not_recurse():
    """100,000 links (200,000 nodes), far past Python's recursion limit; its speed is
    benchmark S2 (benchmarks/bench.py), not a unit-test matter."""
    x = mg.Value(1.0)
    y = x
    for _ in range(100_000):
        y = y * 1.0001 + 0
    y.backward()
    assert x.grad == pytest.approx(1.0001 ** 100_000, rel=1e-9)


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(TypeError, match="Value: expected a real number.*str 'x'"):
        mg.Value("x")
    with pytest.raises(TypeError, match="bool"):
        mg.Value(True)
    with pytest.raises(ValueError, match="log.*positive.*-1.0"):
        mg.Value(-1.0).log()
    with pytest.raises(ValueError, match="log.*positive.*0.0"):
        mg.Value(0.0).log()
    with pytest.raises(ValueError, match="negative base -2.0.*non-integer exponent 0.5"):
        mg.Value(-2.0) ** 0.5
    with pytest.raises(ValueError, match="negative base"):
        (-8) ** mg.Value(1 / 3)
    with pytest.raises(ZeroDivisionError, match="division of 1.0 by zero"):
        mg.Value(1.0) / 0
    with pytest.raises(ZeroDivisionError, match="negative power"):
        mg.Value(0.0) ** -1
    with pytest.raises(TypeError, match=r"Value \+: expected a real number.*list"):
        mg.Value(1.0) + [1]


def test_numbers_of_numpy_types_are_accepted():
    import numpy as np
    assert (mg.Value(np.float32(2.0)) * np.int64(3)).data == 6.0


def test_extreme_values_stay_finite():
    assert mg.Value(1e4).sigmoid().data == 1.0
    assert mg.Value(-1e4).sigmoid().data == 0.0
    assert mg.Value(1e4).tanh().data == 1.0
    assert mg.Value(1e4).exp().data == math.inf


def test_negative_base_integer_exponent_works():
    a = mg.Value(-2.0)
    y = a ** 3
    y.backward()
    assert y.data == -8.0 and a.grad == pytest.approx(12.0)


def test_labels_and_repr():
    a = mg.Value(2.0, label="a")
    assert a.label == "a" and "label='a'" in repr(a)
