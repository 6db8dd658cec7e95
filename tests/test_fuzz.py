"""Gradient fuzzing: random compositions of 2-4 ops over random broadcast-compatible shapes,
checked against central finite differences in float64; second derivatives checked along
random directions. CI runs a bounded number of examples; `make fuzz` runs thousands."""
import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import microgd as mg

# shape-preserving steps (the second operand broadcasts against the first)
STEPS = {
    "add": lambda t, y: t + y,
    "sub": lambda t, y: y - t,
    "mul": lambda t, y: t * y,
    "div": lambda t, y: t / (y * y + 1.0),
    "rdiv": lambda t, y: y / (t * t + 0.5),
    "pow": lambda t, y: (t.tanh() + 1.5) ** (y.tanh() + 1.5),
    "maximum": lambda t, y: mg.maximum(t, y),
    "where": lambda t, y: mg.where(t.data > y.data, t * 2.0, y),
    "tanh": lambda t, y: t.tanh(),
    "sigmoid": lambda t, y: t.sigmoid(),
    "exp": lambda t, y: (t.tanh() * 2.0).exp(),
    "log": lambda t, y: (t * t + 1.0).log(),
    "sqrt": lambda t, y: (t * t + 0.25).sqrt(),
    "relu": lambda t, y: t.relu() + t * 0.1,
    "abs": lambda t, y: t.abs(),
    "square": lambda t, y: t ** 2,
    "neg_scale": lambda t, y: -t * 0.5 + 1.0,
    "clip": lambda t, y: t.clip(-1.5, 1.5),
}
# a last step may change the shape
FINALS = {
    "none": lambda t: t,
    "sum": lambda t: t.sum(axis=-1) if t.ndim else t,
    "mean": lambda t: t.mean(),
    "max": lambda t: t.max(axis=0) if t.ndim else t,
    "logsumexp": lambda t: t.logsumexp(axis=-1, keepdims=True) if t.ndim else t,
    "softmax": lambda t: t.softmax(axis=-1) if t.ndim else t,
    "var": lambda t: t.var() if t.size > 1 else t,
    "transpose": lambda t: t.T,
    "flatten_index": lambda t: t.flatten()[np.array([0, 0, -1])],
    "matmul_self": lambda t: (t.reshape(1, -1) @ t.reshape(-1, 1)),
}


def inputs(shapes, seed):
    rng = np.random.default_rng(seed)
    return [mg.tensor(rng.standard_normal(s), requires_grad=True, dtype=np.float64)
            for s in shapes]


def composition(steps, final):
    def f(x, y):
        t = x
        for name in steps:
            t = STEPS[name](t, y)
        return FINALS[final](t)
    return f


@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3,
                                                max_side=3),
       steps=st.lists(st.sampled_from(sorted(STEPS)), min_size=1, max_size=3),
       final=st.sampled_from(sorted(FINALS)), seed=st.integers(0, 2 ** 20))
def test_random_compositions_match_finite_differences(shapes, steps, final, seed):
    x, y = inputs(shapes.input_shapes, seed)
    assert mg.gradcheck(composition(steps, final), [x, y], atol=1e-5, rtol=1e-4)


@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=1, max_dims=2,
                                                max_side=3),
       steps=st.lists(st.sampled_from(sorted(set(STEPS) - {"relu", "abs", "maximum", "where",
                                                           "clip"})),
                      min_size=1, max_size=3),
       final=st.sampled_from(["sum", "mean", "logsumexp", "softmax", "var", "matmul_self"]),
       seed=st.integers(0, 2 ** 20))
def test_second_derivatives_along_random_directions(shapes, steps, final, seed):
    x, y = inputs(shapes.input_shapes, seed)
    f = composition(steps, final)
    v = np.random.default_rng(seed + 7).standard_normal(x.shape)

    def directional(a):  # v . grad f(a), itself differentiable
        out = f(a, y)
        (g,) = mg.grad(out.sum() if out.size > 1 else out, a, create_graph=True)
        return (g * v).sum()

    assert mg.gradcheck(directional, [x], atol=1e-4, rtol=1e-3)
