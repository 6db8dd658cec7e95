"""Op behaviour the table in tests/op_table_rows.py cannot express: extreme inputs where
only finiteness and a stable formula can be compared, and inputs that mix Tensors that
require grad with ones that do not. Every op's forward, gradient, second derivative,
dtypes and axes are checked from the table (tests/test_op_table.py)."""
import numpy as np
import pytest

import microgd as mg


@pytest.mark.parametrize("big", [1e4, -1e4])
def test_softmax_family_is_stable_at_extreme_logits(rng, big):
    """exp(1e4) overflows in any dtype; subtracting the max first keeps values and
    gradients finite and right (float32, the default dtype)."""
    x = mg.tensor([[big, 0.0, -big], [big, big, 0.0]], requires_grad=True)
    a = x.data.astype(np.float64)
    lse = np.logaddexp.reduce(a, axis=1)
    probs = np.exp(a - lse[:, None])
    np.testing.assert_allclose(x.logsumexp(axis=1).data, lse, rtol=1e-6)
    np.testing.assert_allclose(x.softmax().data, probs, atol=1e-7)
    np.testing.assert_allclose(x.log_softmax().data, a - lse[:, None], rtol=1e-6)
    g = rng.standard_normal((2, 3)).astype(np.float32)
    x.log_softmax(axis=-1).backward(g)
    # d log_softmax: g - softmax * sum(g) along the axis
    np.testing.assert_allclose(x.grad, g - probs * g.sum(axis=1, keepdims=True),
                               rtol=1e-5, atol=1e-6)


def test_concatenate_with_a_constant_of_another_width(rng):
    """Only the input that requires grad gets a gradient: its own slice of g."""
    a = mg.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    b = mg.tensor(rng.standard_normal((2, 5)))
    out = mg.concatenate([a, b], axis=-1)
    np.testing.assert_array_equal(out.data, np.concatenate([a.data, b.data], axis=1))
    g = rng.standard_normal((2, 8))
    out.backward(g)
    np.testing.assert_array_equal(a.grad, g[:, :3])
    assert b.grad is None
