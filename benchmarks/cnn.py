"""The C1 CNN training step: microgd against a hand-written numpy reference (and PyTorch
when importable), from the same initial weights (``python benchmarks/cnn.py``).

C1: input (64, 1, 8, 8) float32, Conv2d(1,16,3,p=1)-ReLU-MaxPool2d(2)-Conv2d(16,32,3,p=1)-
ReLU-MaxPool2d(2)-Flatten-Linear(128,10), cross-entropy, SGD(lr=0.05): the network the
shared yardstick (``../shared/bench/bench.py --workloads C1``) measures; its paired ratios
are the figures that count, this script is for looking closer:

- ``--profile``: where a microgd step spends its time (forward, backward, update; then the
  functions that cost most, cProfile's own time);
- ``--memory``: RSS and live Tensors over 2,000 steps (they must stay flat).
"""
from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import statistics
import subprocess
import sys
import time

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

from bench import time_interleaved  # noqa: E402

import microgd as mg  # noqa: E402

LR = 0.05
KEYS = ("0.weight", "0.bias", "3.weight", "3.bias", "7.weight", "7.bias")


def make_model(nn):
    """C1 from torch.nn or microgd.nn: same code, same state-dict keys (KEYS)."""
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(128, 10))


def problem(seed: int = 11):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((64, 1, 8, 8)).astype(np.float32)   # continuous: no pool ties
    y = rng.integers(0, 10, 64)
    mg.manual_seed(seed)
    return X, y, make_model(mg.nn)


# --------------------------------------------------------------------------- numpy reference
def im2col3x3(x):
    """Windows of x (N, H, W, C), zero-padded by 1, as (N*H*W, 9*C), columns (kh, kw, c)."""
    n, h, w, c = x.shape
    xp = np.zeros((n, h + 2, w + 2, c), x.dtype)
    xp[:, 1:h + 1, 1:w + 1] = x
    win = sliding_window_view(xp, (3, 3), axis=(1, 2))            # (N, H, W, C, 3, 3)
    return win.transpose(0, 1, 2, 4, 5, 3).reshape(n * h * w, 9 * c)


def pool2x2(a):
    """2x2/2 max-pool of (N, H, W, C) by its four taps; the first maximum's tap index."""
    taps = [a[:, i::2, j::2] for i in (0, 1) for j in (0, 1)]
    out, idx = taps[0].copy(), np.zeros(taps[0].shape, np.uint8)
    for k in (1, 2, 3):
        beats = taps[k] > out
        np.maximum(out, taps[k], out=out)
        idx[beats] = k
    return out, idx


def unpool2x2(g, idx):
    n, h, w, c = g.shape
    d = np.empty((n, 2 * h, 2 * w, c), g.dtype)
    for k, (i, j) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1))):
        np.multiply(g, idx == k, out=d[:, i::2, j::2])
    return d


class NumpyCNN:
    """C1 by hand, channels-last inside: each conv one GEMM on im2col columns, its input
    gradient a "full" convolution (the padded output gradient's columns times the flipped
    kernel), manual backward, SGD in place. Weights in PyTorch's layouts (KEYS order)."""

    def __init__(self, params: list, X: np.ndarray, y: np.ndarray, lr: float) -> None:
        self.params, self.X, self.y, self.lr = [p.copy() for p in params], X, y, lr

    def forward_backward(self):
        W1, b1, W2, b2, W3, b3 = self.params
        n, rows, y = len(self.X), np.arange(len(self.X)), self.y
        cols1 = im2col3x3(self.X.transpose(0, 2, 3, 1))
        a1 = cols1 @ W1.transpose(2, 3, 1, 0).reshape(9, 16) + b1
        np.maximum(a1, 0, out=a1)
        p1, i1 = pool2x2(a1.reshape(n, 8, 8, 16))
        cols2 = im2col3x3(p1)
        a2 = cols2 @ W2.transpose(2, 3, 1, 0).reshape(144, 32) + b2
        np.maximum(a2, 0, out=a2)
        p2, i2 = pool2x2(a2.reshape(n, 4, 4, 32))
        flat = p2.transpose(0, 3, 1, 2).reshape(n, 128)              # (c, h, w): Flatten's
        z = flat @ W3.T + b3
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        s = e.sum(axis=1, keepdims=True)
        loss = float(np.log(s).mean() - z[rows, y].mean())
        e /= s
        e[rows, y] -= 1
        e /= n                                                       # dL/dz
        gW3, gb3 = e.T @ flat, e.sum(axis=0)
        d2 = unpool2x2((e @ W3).reshape(n, 32, 2, 2).transpose(0, 2, 3, 1), i2)
        d2 = d2.reshape(n * 16, 32) * (a2 > 0)
        gW2 = (cols2.T @ d2).reshape(3, 3, 16, 32).transpose(3, 2, 0, 1)
        gb2 = d2.sum(axis=0)
        flipped = W2[:, :, ::-1, ::-1].transpose(2, 3, 0, 1).reshape(288, 16)
        dp1 = im2col3x3(d2.reshape(n, 4, 4, 32)) @ flipped
        d1 = unpool2x2(dp1.reshape(n, 4, 4, 16), i1).reshape(n * 64, 16) * (a1 > 0)
        gW1 = (cols1.T @ d1).reshape(3, 3, 1, 16).transpose(3, 2, 0, 1)
        gb1 = d1.sum(axis=0)
        return loss, [gW1, gb1, gW2, gb2, gW3, gb3]

    def step(self) -> float:
        loss, grads = self.forward_backward()
        for p, g in zip(self.params, grads):
            p -= self.lr * g
        return loss


# --------------------------------------------------------------------------- steppers
def microgd_step(model, X, y):
    opt = mg.optim.SGD(model.parameters(), lr=LR)
    Xt = mg.tensor(X)

    def step():
        opt.zero_grad()
        loss = mg.nn.F.cross_entropy(model(Xt), y)
        loss.backward()
        opt.step()
    return step


def torch_step(model, X, y):
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "2")))
    net = make_model(torch.nn)
    net.load_state_dict({k: torch.from_numpy(v) for k, v in model.state_dict().items()})
    opt = torch.optim.SGD(net.parameters(), lr=LR)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(net(Xt), yt)
        loss.backward()
        opt.step()
    return step


def gradient_check(model, ref) -> float:
    """Largest difference between microgd's gradients and the reference's, and the losses."""
    model.zero_grad()
    loss = mg.nn.F.cross_entropy(model(mg.tensor(ref.X)), ref.y)
    loss.backward()
    ref_loss, grads = ref.forward_backward()
    ours = dict(model.named_parameters())
    worst = abs(loss.item() - ref_loss)
    for k, g in zip(KEYS, grads):
        worst = max(worst, float(np.abs(ours[k].grad - g).max()))
    model.zero_grad()
    return worst


# --------------------------------------------------------------------------- reports
def timing(rounds: int) -> None:
    X, y, model = problem()
    ref = NumpyCNN([p.data for p in model.parameters()], X, y, LR)
    print(f"gradients: microgd vs numpy reference, max |difference| "
          f"{gradient_check(model, ref):.1e}")
    steppers = {"microgd": microgd_step(model, X, y), "numpy": ref.step}
    t = torch_step(model, X, y)
    if t is not None:
        steppers["torch"] = t
    times = time_interleaved(steppers, rounds, steps=50, warmup=20)
    med = {k: statistics.median(v) for k, v in times.items()}
    for k, v in times.items():
        print(f"{k:>8}: median {med[k] * 1e3:.3f} ms/step (min {min(v) * 1e3:.3f}, max "
              f"{max(v) * 1e3:.3f}); x numpy {med[k] / med['numpy']:.2f}, paired "
              f"{statistics.median(a / b for a, b in zip(v, times['numpy'])):.2f}")


def profile(steps: int) -> None:
    """Phase times (forward, backward, update) and cProfile's costliest functions."""
    X, y, model = problem()
    opt = mg.optim.SGD(model.parameters(), lr=LR)
    Xt = mg.tensor(X)
    phases = {"forward + loss": [], "backward": [], "zero_grad + step": []}
    for i in range(steps + 20):
        t0 = time.perf_counter()
        loss = mg.nn.F.cross_entropy(model(Xt), y)
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        opt.step()
        opt.zero_grad()
        t3 = time.perf_counter()
        if i >= 20:
            for k, a, b in zip(phases, (t0, t1, t2), (t1, t2, t3)):
                phases[k].append(b - a)
    total = sum(statistics.median(v) for v in phases.values())
    for k, v in phases.items():
        print(f"{k:>18}: {statistics.median(v) * 1e3:.3f} ms ({statistics.median(v) / total:.0%})")
    step = microgd_step(model, X, y)
    prof = cProfile.Profile()
    prof.runcall(lambda: [step() for _ in range(steps)])
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(18)
    print(out.getvalue().split("\n", 4)[-1])


MEMORY = """
import gc, json, sys, tracemalloc
sys.path.insert(0, {here!r})
import cnn, microgd as mg
X, y, model = cnn.problem()
step = cnn.microgd_step(model, X, y)
def rss():
    for line in open('/proc/self/status'):
        if line.startswith('VmRSS:'):
            return int(line.split()[1]) * 1024
def state():
    gc.collect()
    return rss(), tracemalloc.get_traced_memory()[0], sum(isinstance(o, mg.Tensor)
                                                          for o in gc.get_objects())
tracemalloc.start()   # numpy reports its array memory to tracemalloc: exact bytes held
seen, done = [], 0
for mark in (100, {steps} // 2, {steps}):
    while done < mark:
        step()
        done += 1
    seen.append(state())
print(json.dumps(seen))
"""


def memory(steps: int) -> None:
    """Bytes held (tracemalloc: exact, numpy's arrays included), RSS (moves with the C
    allocator's heap, which grows and shrinks within every step) and live Tensors after
    100 steps, half-way and at the end. (Somewhere in the first thousand steps Python
    makes one ~1 MiB allocation of its own, once; flat means flat from there on.)"""
    r = subprocess.run([sys.executable, "-c", MEMORY.format(here=HERE, steps=steps)],
                       capture_output=True, text=True, check=True)
    seen = json.loads(r.stdout.strip().splitlines()[-1])
    marks = (100, steps // 2, steps)
    print("memory after " + ", ".join(
        f"{m} steps: held {held / 2**10:.0f} KiB, RSS {rss / 2**20:.1f} MiB, {t} Tensors"
        for m, (rss, held, t) in zip(marks, seen)))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--profile", action="store_true", help="where microgd's step goes")
    ap.add_argument("--memory", action="store_true", help="RSS over 2,000 steps")
    args = ap.parse_args(argv)
    timing(args.rounds)
    if args.profile:
        profile(300)
    if args.memory:
        memory(2000)
    return 0


if __name__ == "__main__":
    sys.exit(main())
