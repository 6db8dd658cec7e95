"""microgd's image ops and layers against PyTorch's, for maintainers who have ``torch``.

    python tests/against_torch_cnn.py    # one line per check, exits 1 on a mismatch

In float64, with one random upstream gradient per check: conv1d/conv2d (stride, padding
ints/pairs/'same', dilation, groups), max/avg/adaptive pooling (padding, dilation,
ceil_mode, count_include_pad), pad in its four modes, the activations, sin ... erf, cumsum,
einsum; outputs and every input's gradient. Then BatchNorm2d over several training steps
(running statistics, num_batches_tracked, eval), and a Conv2d/BatchNorm state dict loaded
from torch's layer. (``make torch`` makes a venv that has torch: ``PYTHONPATH=.
.venv-torch/bin/python tests/against_torch_cnn.py``; tests/test_against_torch.py runs it.)
"""
from __future__ import annotations

import os
import sys
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402

import microgd as mg  # noqa: E402

F, TF = mg.nn.F, torch.nn.functional
TOL = 1e-10


def compare(name: str, ours, theirs, *arrays: np.ndarray, rng) -> float:
    """Run both on the same float64 inputs, backpropagate the same random gradient; the
    largest difference in the output and in any input's gradient."""
    ms = [mg.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    ym, yt = ours(*ms), theirs(*ts)
    assert ym.shape == tuple(yt.shape), f"{name}: shape {ym.shape} vs {tuple(yt.shape)}"
    g = rng.standard_normal(ym.shape)
    ym.backward(g)
    yt.backward(torch.tensor(g))
    worst = float(np.abs(ym.data - yt.detach().numpy()).max(initial=0))
    for m, t in zip(ms, ts):
        worst = max(worst, float(np.abs(m.grad - t.grad.numpy()).max(initial=0)))
    return worst


def op_checks(rng) -> list[tuple[str, float]]:
    x = rng.standard_normal((2, 4, 7, 8))
    w = rng.standard_normal((6, 2, 3, 2))
    b = rng.standard_normal(6)
    cases = []
    for kw in (dict(stride=(2, 3), padding=(1, 2), groups=2), dict(padding="same", groups=2,
                                                                   dilation=(2, 1)),
               dict(stride=2, padding="valid", groups=2)):
        cases.append((f"conv2d {kw}", lambda x, w, b, kw=kw: F.conv2d(x, w, b, **kw),
                      lambda x, w, b, kw=kw: TF.conv2d(x, w, b, **kw), (x, w, b)))
    w1 = rng.standard_normal((4, 4, 4))
    for kw in (dict(padding="same", dilation=3), dict(stride=2, padding=2)):
        cases.append((f"conv1d {kw}", lambda x, w, kw=kw: F.conv1d(x, w, **kw),
                      lambda x, w, kw=kw: TF.conv1d(x, w, **kw), (x[:, :, 0], w1)))
    for k, s, p, d, c in ((2, None, 0, 1, False), (3, 2, 1, 2, True), ((3, 2), (2, 3),
                                                                      (1, 0), (2, 1), True)):
        cases.append((f"max_pool2d k={k} s={s} p={p} d={d} ceil={c}",
                       lambda x, a=(k, s, p, d, c): F.max_pool2d(x, *a),
                       lambda x, a=(k, s, p, d, c): TF.max_pool2d(x, *a), (x,)))
    for k, s, p, c, inc in ((3, 2, 1, True, True), (3, 2, 1, True, False), (2, 3, 1, True,
                                                                            False)):
        cases.append((f"avg_pool2d k={k} s={s} p={p} ceil={c} include_pad={inc}",
                       lambda x, a=(k, s, p, c, inc): F.avg_pool2d(x, *a),
                       lambda x, a=(k, s, p, c, inc): TF.avg_pool2d(x, *a), (x,)))
        cases.append((f"avg_pool1d k={k} s={s} p={p} ceil={c} include_pad={inc}",
                       lambda x, a=(k, s, p, c, inc): F.avg_pool1d(x, *a),
                       lambda x, a=(k, s, p, c, inc): TF.avg_pool1d(x, *a), (x[0],)))
    cases.append(("max_pool1d", lambda x: F.max_pool1d(x, 3, 2, 1, 2, True),
                  lambda x: TF.max_pool1d(x, 3, 2, 1, 2, True), (x[0],)))
    for size in ((3, 4), 5, (None, 3)):
        cases.append((f"adaptive_avg_pool2d {size}", lambda x, s=size: F.adaptive_avg_pool2d(
            x, s), lambda x, s=size: TF.adaptive_avg_pool2d(x, s), (x,)))
    for mode in ("constant", "reflect", "replicate", "circular"):
        cases.append((f"pad {mode}", lambda x, m=mode: F.pad(x, (1, 2, 2, 3), mode=m),
                      lambda x, m=mode: TF.pad(x, (1, 2, 2, 3), mode=m), (x,)))
    z = 3 * x
    cases += [
        ("gelu", F.gelu, TF.gelu, (z,)),
        ("gelu tanh", lambda v: F.gelu(v, approximate="tanh"),
         lambda v: TF.gelu(v, approximate="tanh"), (z,)),
        ("leaky_relu", lambda v: F.leaky_relu(v, 0.2), lambda v: TF.leaky_relu(v, 0.2), (z,)),
        ("elu", lambda v: F.elu(v, 0.5), lambda v: TF.elu(v, 0.5), (z,)),
        ("silu", F.silu, TF.silu, (z,)),
        ("softplus", lambda v: F.softplus(v, 2, 5), lambda v: TF.softplus(v, 2, 5), (z,)),
        ("cumsum", lambda v: mg.cumsum(v, 2), lambda v: torch.cumsum(v, 2), (x,)),
        ("einsum", lambda a, b: mg.einsum("nchw,dc->ndwh", a, b),
         lambda a, b: torch.einsum("nchw,dc->ndwh", a, b), (x, rng.standard_normal((5, 4)))),
    ] + [(f, getattr(mg, f), getattr(torch, f), (np.abs(x),))
         for f in ("sin", "cos", "log1p", "expm1", "erf")]
    return [(name, compare(name, ours, theirs, *arrays, rng=rng))
            for name, ours, theirs, arrays in cases]


def batchnorm_checks(rng) -> list[tuple[str, float]]:
    ours = mg.nn.BatchNorm2d(3, momentum=0.3)
    theirs = torch.nn.BatchNorm2d(3, momentum=0.3).double()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    worst = 0.0
    for step in range(4):
        x = rng.standard_normal((4, 3, 5, 5)) * (step + 1) + step
        worst = max(worst, compare("", ours, theirs, x, rng=rng))
    buffers = max(float(np.abs(ours.running_mean.data - theirs.running_mean.numpy()).max()),
                  float(np.abs(ours.running_var.data - theirs.running_var.numpy()).max()))
    steps = int(ours.num_batches_tracked.data) - int(theirs.num_batches_tracked)
    ours.eval()
    theirs.eval()
    evals = compare("", ours, theirs, x, rng=rng)
    return [("BatchNorm2d, 4 training steps", worst),
            ("BatchNorm2d running statistics", buffers),
            ("BatchNorm2d num_batches_tracked", float(abs(steps))),
            ("BatchNorm2d eval", evals)]


def main() -> int:
    warnings.filterwarnings("ignore", message="Using padding='same'")  # torch's, not ours
    torch.set_default_dtype(torch.float64)
    mg.set_default_dtype(np.float64)
    rng = np.random.default_rng(0)
    failed = 0
    for name, diff in op_checks(rng) + batchnorm_checks(rng):
        ok = diff < TOL
        failed += not ok
        print(f"{'ok ' if ok else 'BAD'} {diff:.1e}  {name}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
