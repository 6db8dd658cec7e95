"""Train a scalar-Value MLP (2 -> 16 -> 16 -> 1) on the two-moons set until it gets every
training point right, then draw the computation graph of one prediction.

Every weight is a separate ``Value``: slow, but each multiply and add is visible.
Loss: the max-margin (hinge) loss mean(relu(1 - y * score)) plus 1e-4 * L2 on the weights.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import microgd as mg
from microgd.nn.scalar import MLP


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100, help="number of moons points")
    ap.add_argument("--steps", type=int, default=100, help="maximum training steps")
    ap.add_argument("--lr", type=float, default=None,
                    help="learning rate (default: decays from 1.0 to 0.1)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default="out", help="folder for the pictures")
    args = ap.parse_args(argv)

    X, y = mg.datasets.moons(args.n, noise=0.1, seed=args.seed)
    labels = [2.0 * float(v) - 1.0 for v in y]  # classes as -1 / +1 for the hinge loss
    rows = [[float(a), float(b)] for a, b in X]
    model = MLP(2, [16, 16, 1], seed=args.seed)
    print(f"scalar MLP with {len(model.parameters())} parameters on {args.n} moons points")

    start = time.perf_counter()
    for step in range(args.steps):
        scores = [model(r) for r in rows]
        losses = [(1 + -yi * si).relu() for yi, si in zip(labels, scores)]
        data_loss = sum(losses) * (1.0 / len(losses))
        reg = 1e-4 * sum(p * p for p in model.parameters())
        loss = data_loss + reg
        accuracy = sum((yi > 0) == (si.data > 0) for yi, si in zip(labels, scores)) / len(rows)

        model.zero_grad()
        loss.backward()
        lr = args.lr if args.lr is not None else 1.0 - 0.9 * step / args.steps
        for p in model.parameters():
            p.data -= lr * p.grad  # gradient descent: theta <- theta - alpha * dJ/dtheta
        if step % 10 == 0 or accuracy == 1.0:
            print(f"step {step:3d}  loss {loss.data:.4f}  accuracy {accuracy:.0%}")
        if accuracy == 1.0:
            break
    print(f"trained in {time.perf_counter() - start:.1f} s: training accuracy {accuracy:.0%}")

    os.makedirs(args.out, exist_ok=True)
    x0 = [mg.Value(rows[0][0], label="x0"), mg.Value(rows[0][1], label="x1")]
    small = MLP(2, [2, 1], seed=0)  # the whole network would be thousands of boxes
    score = small(x0)
    score.label = "score"
    score.backward()
    path = mg.draw_graph(score, format="png").render(os.path.join(args.out, "scalar_mlp_graph"),
                                                     cleanup=True)
    print(f"wrote {path}")
    return 0 if accuracy == 1.0 else 1


if __name__ == "__main__":
    sys.exit(main())
