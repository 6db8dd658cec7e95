"""Every public op, checked from one table (tests/op_table_rows.py), as minitorch's
MathTest and tinygrad's helper_test_op do. Adding an op is adding a row there.

For every row, every spelling of its op (``x.sum``, ``mg.sum`` ...) and every case (input
shapes x options such as ``axis``):

- forward in float64 matches the numpy reference, shape included;
- forward in float32 matches it too and keeps the dtype (float32 in, float32 out, and
  float32 gradients that agree with float64's);
- the gradient of ``y.backward(g)`` with a RANDOM upstream gradient ``g`` matches central
  finite differences of the numpy reference in float64 (an all-ones ``g``, as ``.sum()``
  gives, cannot see a permuted or misplaced gradient);
- the second derivative: ``mg.grad(..., create_graph=True)`` then a Hessian-vector product
  in a random direction, against finite differences of the gradient.

Where finite differences cannot judge (at a kink, at a clamp) a row gives PyTorch's
closed-form VJP instead.

Coverage (a test below fails if a public op has no row):

- arithmetic ``+ - * / **`` between Tensors with broadcasting (7 shape pairs, 0-d
  included), with a number or an ndarray on either side (reflected forms), ``x.pow``,
  unary ``-x`` ``+x``; pow at base 0 (``x**0`` at 0, ``0.0**y``);
- ``mg.maximum`` ``mg.minimum`` between Tensors (broadcasting) and with a number, ties
  split in half; ``mg.where`` with an array or Tensor condition;
- ``exp log sqrt abs relu tanh sigmoid softplus`` as methods, ``mg.`` functions and ``F.``
  activations; ``abs``/``relu`` at 0, ``softplus`` at +-30; ``clip`` with both, one bound,
  and at the bounds; ``astype`` to float64, float32, int64; ``clone``;
- comparisons ``== != < <= > >=``, ``argmax``/``argmin`` with axes (forward only);
- reductions ``sum mean max min var (ddof 0, 1) logsumexp`` and ``softmax log_softmax``
  (methods, ``mg.`` and ``F.``) with axis None, positive, negative, mixed-sign tuples,
  keepdims, and 0-d tensors with axis 0 / -1; ``max`` ties share the gradient;
- ``reshape`` (tuple and star forms), ``transpose`` (positive, negative and mixed-sign
  permutations of a (3, 4, 5, 6) tensor, tuple and star forms, none), ``.T``,
  ``swapaxes``, ``flatten``, ``squeeze`` (incl. an axis whose size is not 1, and 0-d),
  ``unsqueeze`` (incl. 0-d), ``broadcast_to``, as methods and ``mg.`` functions;
  ``mg.concatenate`` (a tensor used twice, unequal sizes), ``mg.stack`` (incl. 0-d
  tensors); all with negative axes;
- indexing: ints, negative ints, slices, negative steps, ``...``, ``None``, integer
  arrays with repeated indices (1-D and 2-D), mixed basic/advanced, boolean masks,
  Tensor indices;
- ``@`` / ``mg.matmul`` / ``x.matmul``: 1-D, 2-D, batched and broadcast batches, with an
  ndarray on either side; ``F.linear`` with and without bias, 1-D to 3-D inputs;
- ``F.dropout`` (eval, p=0, p=1), ``F.one_hot``;
- losses ``mse_loss l1_loss huber_loss (delta 1, 0.5) cross_entropy (batch and one
  example) nll_loss binary_cross_entropy binary_cross_entropy_with_logits``, each with
  reduction mean/sum/none; BCE at p = 0 and 1, BCE-with-logits at logit 0.
"""
from __future__ import annotations

import inspect
from dataclasses import replace

import numpy as np
import pytest
from op_table_rows import ROWS as BASIC_ROWS
from op_table_rows_cnn import ROWS as IMAGE_ROWS
from op_table_rows_nn import ROWS as FUNCTIONAL_ROWS
from op_table_rows_seq import ROWS as SEQUENCE_ROWS

import microgd as mg
from microgd.nn import functional as F

# F.linear/dropout/one_hot's and the losses' rows live in tests/op_table_rows_nn.py, the image
# ops' in _cnn.py, the sequence ops' in _seq.py
ROWS = BASIC_ROWS + FUNCTIONAL_ROWS + IMAGE_ROWS + SEQUENCE_ROWS

EPS = 1e-6        # finite-difference step for gradients
EPS_HVP = 1e-5    # ... for the Hessian-vector product (differences of gradients)


def _show(v):
    """Short, one-line test ids: small arrays by value, masks by dtype and shape."""
    if isinstance(v, (np.ndarray, mg.Tensor)):
        kind = "tensor" if isinstance(v, mg.Tensor) else "array"
        return f"{kind}{v.tolist()}" if v.size <= 6 else f"{kind}<{v.dtype}{list(v.shape)}>"
    if isinstance(v, slice):
        step = "" if v.step is None else f":{v.step}"
        return f"{'' if v.start is None else v.start}:{'' if v.stop is None else v.stop}{step}"
    if isinstance(v, (tuple, list)):
        inner = ",".join(_show(p) for p in v)
        return f"({inner})" if isinstance(v, tuple) else f"[{inner}]"
    return "..." if v is Ellipsis else repr(v)


def _case_id(row, shapes, options):
    shown = ",".join(str(s).replace(" ", "") for s in shapes)
    opts = ",".join(f"{k}={_show(v)}".replace(" ", "") for k, v in options.items())
    return f"{row.name}|{shown}" + (f"|{opts}" if opts else "")


def spellings(row):
    """The row itself and one row per other spelling of its op (``also``)."""
    return [row] + [replace(row, name=name, mg=call, also={}) for name, call in row.also.items()]


def _params(keep):
    return [pytest.param(r, shapes, options, id=_case_id(r, shapes, options))
            for row in ROWS if keep(row) for r in spellings(row) for shapes, options in r.cases]


ALL = _params(lambda row: True)
DIFFERENTIABLE = _params(lambda row: row.grad)
TWICE = _params(lambda row: row.grad and row.hessian and row.vjp is None)


def close(actual, expected, rtol, atol, what):
    """allclose with NaN never equal to NaN (a NaN gradient is a bug, not a match)."""
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, equal_nan=False,
                               err_msg=what)


def tensors(arrays, dtype, requires_grad):
    return [mg.tensor(a.astype(dtype), requires_grad=requires_grad) for a in arrays]


def check_forward(row, shapes, options, rng, dtype, rtol, atol):
    arrays = [a.astype(dtype).astype(np.float64) for a in row.domain(rng, shapes)]
    xs = tensors(arrays, dtype, requires_grad=row.grad)
    out = row.mg(*xs, **options)
    expected = np.asarray(row.np(*arrays, **options))
    assert isinstance(out, mg.Tensor), f"{row.name} returned {type(out).__name__}"
    assert out.shape == expected.shape, f"{row.name}: shape {out.shape} vs {expected.shape}"
    assert out.dtype == np.dtype(row.out_dtype or dtype), f"{row.name}: dtype {out.dtype}"
    if out.dtype.kind in "biu":
        np.testing.assert_array_equal(out.data, expected)
    else:
        close(out.data, expected, rtol, atol, f"{row.name} forward in {np.dtype(dtype)}")
    return xs, out


def upstream(rng, out):
    return rng.standard_normal(out.shape).astype(out.dtype)


def numerical_vjp(fn, arrays, g, eps=EPS):
    """Central differences of sum(g * fn(*arrays)) with respect to every input entry."""
    def loss():
        return float(np.sum(g * fn(*arrays)))

    arrays = [np.array(a, dtype=np.float64) for a in arrays]  # contiguous copies, ours to perturb
    grads = []
    for a in arrays:
        d = np.zeros_like(a)
        flat, dflat = a.reshape(-1), d.reshape(-1)  # views: writing perturbs a
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + eps
            up = loss()
            flat[i] = old - eps
            down = loss()
            flat[i] = old
            dflat[i] = (up - down) / (2 * eps)
        grads.append(d)
    return grads


def grad_or_zeros(t):
    return np.zeros(t.shape) if t.grad is None else t.grad


# ------------------------------------------------------------------ the four checks
@pytest.mark.parametrize("row,shapes,options", ALL)
def test_forward_float64(row, shapes, options, rng):
    check_forward(row, shapes, options, rng, np.float64, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("row,shapes,options", ALL)
def test_forward_float32_keeps_dtype(row, shapes, options, rng):
    xs, out = check_forward(row, shapes, options, rng, np.float32, rtol=1e-5, atol=1e-5)
    if not row.grad:
        return
    g = upstream(rng, out)
    out.backward(g)
    xs64 = tensors([x.data for x in xs], np.float64, requires_grad=True)
    row.mg(*xs64, **options).backward(g.astype(np.float64))
    for i, (x, x64) in enumerate(zip(xs, xs64)):
        assert grad_or_zeros(x).dtype == np.float32, f"{row.name}: input {i}'s grad dtype"
        ref = grad_or_zeros(x64)
        close(grad_or_zeros(x), ref, rtol=1e-4, atol=1e-5 * (1 + np.abs(ref).max(initial=0)),
              what=f"{row.name}: float32 gradient of input {i} vs float64")


@pytest.mark.parametrize("row,shapes,options", DIFFERENTIABLE)
def test_gradient_with_random_upstream(row, shapes, options, rng):
    arrays = row.domain(rng, shapes)
    xs = tensors(arrays, np.float64, requires_grad=True)
    out = row.mg(*xs, **options)
    g = upstream(rng, out)
    out.backward(g)
    if row.vjp is not None:
        expected = row.vjp(g, *arrays, **options)
    else:
        expected = numerical_vjp(lambda *a: row.np(*a, **options), arrays, g)
    for i, (x, e) in enumerate(zip(xs, expected)):
        close(grad_or_zeros(x), e, rtol=1e-5, atol=1e-6,
              what=f"{row.name}: gradient of input {i}")


@pytest.mark.parametrize("row,shapes,options", TWICE)
def test_second_derivative(row, shapes, options, rng):
    """H v for L = sum(w * y) + sum(y * y) / 2: the first term is the op's own second
    derivative, the second makes the upstream gradient depend on x, so even a linear op's
    backward must be recorded correctly under create_graph."""
    arrays = row.domain(rng, shapes)
    shape = np.shape(row.np(*arrays, **options))
    w = rng.standard_normal(shape)
    v = [rng.standard_normal(a.shape) for a in arrays]

    def gradient(arrays, create_graph):
        xs = tensors(arrays, np.float64, requires_grad=True)
        y = row.mg(*xs, **options)
        loss = (y * w).sum() + (y * y).sum() * 0.5
        gs = mg.grad(loss, xs, create_graph=create_graph, allow_unused=True)
        assert all(g is None or isinstance(g, mg.Tensor) for g in gs), \
            f"{row.name}: mg.grad returned {[type(g).__name__ for g in gs]}, not Tensors"
        return xs, [mg.tensor(np.zeros(x.shape)) if g is None else g for x, g in zip(xs, gs)]

    xs, gs = gradient(arrays, create_graph=True)
    gv = sum((g * vi).sum() for g, vi in zip(gs, v))
    if gv.requires_grad:
        hv = [np.zeros(x.shape) if h is None else h.data
              for x, h in zip(xs, mg.grad(gv, xs, allow_unused=True))]
    else:  # the gradient does not depend on x at all
        hv = [np.zeros(x.shape) for x in xs]
    _, up = gradient([a + EPS_HVP * d for a, d in zip(arrays, v)], create_graph=False)
    _, down = gradient([a - EPS_HVP * d for a, d in zip(arrays, v)], create_graph=False)
    for i, (h, u, d) in enumerate(zip(hv, up, down)):
        fd = (u.data - d.data) / (2 * EPS_HVP)
        close(h, fd, rtol=1e-4, atol=1e-5 * (1 + np.abs(fd).max(initial=0)),
              what=f"{row.name}: Hessian-vector product, input {i}")


# ------------------------------------------------------------------ the table is complete
NOT_OPS = {  # public Tensor members that are not ops on values (tested elsewhere)
    "backward", "detach", "item", "numpy", "tolist", "zero_grad", "data", "grad",
    "requires_grad", "name", "shape", "ndim", "dtype", "size", "is_leaf", "grad_fn",
    "retain_grad", "retains_grad", "register_hook",
}
OPERATORS = {
    "__add__": "x+y", "__radd__": "2.5+x", "__sub__": "x-y", "__rsub__": "2.5-x",
    "__mul__": "x*y", "__rmul__": "2.5*x", "__truediv__": "x/y", "__rtruediv__": "2.5/x",
    "__pow__": "x**y", "__rpow__": "2.5**x", "__matmul__": "x@y", "__rmatmul__": "arr@x",
    "__neg__": "-x", "__pos__": "+x", "__getitem__": "x[", "__eq__": "x==y",
    "__ne__": "x!=y", "__lt__": "x<y", "__le__": "x<=y", "__gt__": "x>y", "__ge__": "x>=y",
}


def public_ops():
    """Every op a user can call: mg.* functions defined in microgd.ops, Tensor methods and
    operators, and the functions of mg.nn.functional. In-place methods (ending in ``_``)
    mutate and are tested on their own."""
    names = [f"mg.{n}" for n, f in vars(mg).items()
             if inspect.isfunction(f) and f.__module__.startswith("microgd.ops")]
    for n in dir(mg.Tensor):
        if n in OPERATORS:
            names.append(OPERATORS[n])
        elif not n.startswith("_") and not n.endswith("_") and n not in NOT_OPS:
            names.append(f"x.{n}")
    names += [f"F.{n}" for n, f in vars(F).items()
              if inspect.isfunction(f) and f.__module__ == F.__name__ and not n.startswith("_")]
    return names


def test_every_public_op_has_a_row():
    names = [r.name for row in ROWS for r in spellings(row)]
    missing = [op for op in public_ops()
               if not any(name == op or name.startswith((op + " ", op + "(", op + "["))
                          or (op.endswith("[") and name.startswith(op)) for name in names)]
    assert not missing, f"ops with no row in tests/op_table_rows*.py: {missing}"
