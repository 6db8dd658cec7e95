"""How fast can an eager engine on numpy be at T1? The least Python one can do, measured.

The shared yardstick's T1 (an MLP 64-32-10, batch 32, SGD) takes microgd ~1.65x the
hand-written numpy reference, whose forward and backward are straight-line numpy. This
script times three ways of doing the same step, interleaved, from the same weights:

- ``reference``: the yardstick's numpy reference (forward, manual backward, update);
- ``floor``: a tape engine with nothing but the tape: each op appends (VJP, output,
  inputs) to a list, backward walks it in reverse, the update is ``θ −= lr·∇J``. No
  graph numbering, scopes, hooks, views, in-place checks, anomaly mode or input checks;
  it runs microgd's own numpy calls (fused linear, fused cross-entropy);
- ``microgd``: ``opt.zero_grad(); F.cross_entropy(model(X), y).backward(); opt.step()``.

``floor`` minus ``reference`` is what being eager costs at all; ``microgd`` minus
``floor`` is what microgd's features cost per step (docs/performance.md, session 8).

    python benchmarks/eager_floor.py [--steps 20000] [--rounds 5]
"""
from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402  (the project's benchmark: its problem and interleaved timing)

mg = bench.mg

LR = 0.1


class Node:
    """A value of the floor engine: its array, its gradient, whether it wants one, and
    whether it is a leaf (a parameter keeps ``.grad``; an op's output does not)."""

    __slots__ = ("data", "grad", "requires_grad", "leaf")

    def __init__(self, data: np.ndarray, requires_grad: bool = False, leaf: bool = True
                 ) -> None:
        self.data, self.grad, self.requires_grad, self.leaf = data, None, requires_grad, leaf


class Tape:
    """The floor engine: ops record (VJP, output, inputs, saved) and backward replays them."""

    def __init__(self) -> None:
        self.records: list = []

    def linear(self, x: Node, w: Node, b: Node) -> Node:
        out = x.data @ w.data.T
        out += b.data
        return self._record(out, _linear_vjp, (x, w, b), None)

    def relu(self, x: Node) -> Node:
        return self._record(np.maximum(x.data, 0), _relu_vjp, (x,), None)

    def cross_entropy(self, x: Node, target: np.ndarray) -> Node:
        z = x.data - x.data.max(axis=1, keepdims=True)
        e = np.exp(z)
        s = e.sum(axis=1, keepdims=True)
        rows = np.arange(len(target))
        loss = (np.log(s[:, 0]) - z[rows, target]).sum() / len(target)
        e /= s  # softmax, kept for backward
        return self._record(np.asarray(loss), _cross_entropy_vjp, (x,), (e, target))

    def _record(self, data: np.ndarray, vjp: Callable, inputs: tuple, saved: Any) -> Node:
        out = Node(data, True, leaf=False)
        self.records.append((vjp, out, inputs, saved))
        return out

    def backward(self, loss: Node, grad: float = 1.0) -> None:
        """Reverse tape order is a valid order here: each output was recorded after its
        inputs. Gradients of intermediate nodes live in a dict for the walk only."""
        grads = {id(loss): np.array(grad, loss.data.dtype)}
        for vjp, out, inputs, saved in reversed(self.records):
            g = grads.pop(id(out), None)
            if g is None:
                continue
            for node, pg in zip(inputs, vjp(g, out, inputs, saved)):
                if pg is None or not node.requires_grad:
                    continue
                if node.leaf:
                    node.grad = pg if node.grad is None else node.grad + pg
                else:
                    key = id(node)
                    grads[key] = grads[key] + pg if key in grads else pg
        self.records.clear()


def _linear_vjp(g: np.ndarray, out: Node, inputs: tuple, saved: Any) -> tuple:
    x, w, _ = inputs
    gx = g @ w.data if x.requires_grad else None
    return gx, g.T @ x.data, g.sum(axis=0)


def _relu_vjp(g: np.ndarray, out: Node, inputs: tuple, saved: Any) -> tuple:
    np.multiply(g, out.data > 0, out=g)
    return (g,)


def _cross_entropy_vjp(g: np.ndarray, out: Node, inputs: tuple, saved: Any) -> tuple:
    probs, target = saved
    scale = float(g) / len(target)
    d = probs * scale
    d[np.arange(len(target)), target] -= scale
    return (d,)


def problem(seed: int = 0) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """T1's shapes and data, with microgd's default init: [W1, b1, W2, b2], X, y."""
    x, y, model, _ = bench.make_problem([64, 32, 10], 32, seed)
    return [p.data.copy() for p in model.parameters()], x, y


def reference_step(params: list[np.ndarray], x: np.ndarray, y: np.ndarray) -> Callable:
    rows = np.arange(len(y))

    def step() -> float:
        w1, b1, w2, b2 = params
        h = x @ w1.T
        h += b1
        np.maximum(h, 0, out=h)
        z = h @ w2.T
        z += b2
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        s = e.sum(axis=1, keepdims=True)
        loss = np.log(s).mean() - z[rows, y].mean()
        e /= s
        e[rows, y] -= 1.0
        e *= 1.0 / len(y)
        grads = [None, None, e.T @ h, e.sum(axis=0)]
        g = e @ w2
        g *= (h > 0).astype(g.dtype)
        grads[0], grads[1] = g.T @ x, g.sum(axis=0)
        for p, gp in zip(params, grads):
            gp *= LR
            p -= gp
        return float(loss)
    return step


def floor_step(params: list[np.ndarray], x: np.ndarray, y: np.ndarray) -> tuple[Callable, list]:
    leaves = [Node(p.copy(), True) for p in params]
    tape, xn = Tape(), Node(x)

    def step() -> Node:
        for p in leaves:
            p.grad = None
        w1, b1, w2, b2 = leaves
        loss = tape.cross_entropy(tape.linear(tape.relu(tape.linear(xn, w1, b1)), w2, b2), y)
        tape.backward(loss)
        for p in leaves:
            p.data -= LR * p.grad
        return loss
    return step, leaves


def microgd_step(params: list[np.ndarray], x: np.ndarray, y: np.ndarray) -> tuple[Callable, list]:
    model = mg.nn.Sequential(mg.nn.Linear(64, 32), mg.nn.ReLU(), mg.nn.Linear(32, 10))
    plist = list(model.parameters())
    for p, value in zip(plist, params):
        p.data[...] = value
    opt = mg.optim.SGD(plist, lr=LR)
    xt, yt = mg.tensor(x), mg.tensor(y)
    F = mg.nn.functional

    def step() -> mg.Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(model(xt), yt)
        loss.backward()
        opt.step()
        return loss
    return step, plist


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20000, help="steps per timed block")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved blocks per way")
    args = ap.parse_args(argv)
    params, x, y = problem()
    steps = {
        "reference": reference_step([p.copy() for p in params], x, y),
        "floor": floor_step(params, x, y)[0],
        "microgd": microgd_step(params, x, y)[0],
    }
    seconds = bench.time_interleaved(steps, args.rounds, args.steps,
                                     warmup=min(args.steps, 500))
    times = {name: [t * 1e6 for t in ts] for name, ts in seconds.items()}
    ref = statistics.median(times["reference"])
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"{name:10s} {med:7.1f} µs a step (min {min(ts):.1f}, max {max(ts):.1f}), "
              f"{med / ref:.2f}x the reference")
    return times


if __name__ == "__main__":
    main()
