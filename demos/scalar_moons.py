"""Train a scalar-Value MLP (2 -> 16 -> 16 -> 1) on the two-moons set until it gets every
training point right, draw the boundary it learned, then the computation graph of one
prediction.

Every weight is a separate ``Value``: slow, but each multiply and add is visible.
Loss: the max-margin (hinge) loss mean(relu(1 - y * score)) plus 1e-4 * L2 on the weights.
The goal is 100 % training accuracy; a run that stops short says so and exits with 1.

Pictures: scalar_moons_boundary.png, scalar_mlp_graph.png.
"""
from __future__ import annotations

import sys
import time

import numpy as np
from common import fail, mg, out_path, parser, progress

from microgd.nn.scalar import MLP


def scores_np(model: MLP, points: np.ndarray) -> np.ndarray:
    """The model's scores for many points at once, from its weights as numpy arrays (the
    same arithmetic as the Value graph, without building millions of nodes for a picture)."""
    h = np.asarray(points, np.float64)
    for layer in model.layers:
        W = np.array([[w.data for w in n.w] for n in layer.neurons])
        b = np.array([n.b.data for n in layer.neurons])
        h = h @ W.T + b
        if layer.neurons[0].nonlin:
            h = np.maximum(h, 0.0)
    return h[:, 0]


def draw_boundary(model: MLP, X: np.ndarray, y: np.ndarray, title: str, path: str) -> str:
    """Where the model says +1 and -1 over the plane, with the training points on top."""
    plots = mg.viz.plots
    pad = 0.4
    xs = np.linspace(X[:, 0].min() - pad, X[:, 0].max() + pad, 200)
    ys = np.linspace(X[:, 1].min() - pad, X[:, 1].max() + pad, 200)
    gx, gy = np.meshgrid(xs, ys)
    s = scores_np(model, np.stack([gx.ravel(), gy.ravel()], axis=1)).reshape(gx.shape)
    fig, ax = plots.figure(figsize=(7, 5))
    ax.contourf(gx, gy, s, levels=[-np.inf, 0.0, np.inf], colors=["#f4c7c3", "#c6dbef"])
    ax.contour(gx, gy, s, levels=[0.0], colors="k", linewidths=1.5)
    ax.contour(gx, gy, s, levels=[-1.0, 1.0], colors="grey", linewidths=0.8,
               linestyles="--")  # the hinge loss's margins: scores of -1 and +1
    wrong = (scores_np(model, X) > 0) != (y > 0)
    for cls, colour in ((0, "#d62728"), (1, "#1f77b4")):
        pick = y == cls
        ax.scatter(X[pick, 0], X[pick, 1], s=22, c=colour, edgecolors="k", linewidths=0.5,
                   label=f"class {cls}")
    if wrong.any():
        ax.scatter(X[wrong, 0], X[wrong, 1], s=120, facecolors="none", edgecolors="k",
                   linewidths=1.5, label="misclassified")
    ax.set(title=title, xlabel="x0", ylabel="x1")
    ax.legend(fontsize=8, loc="lower left")
    ax.text(0.99, 0.01, "solid: score 0 (the boundary); dashed: scores ±1 (the margins)",
            transform=ax.transAxes, ha="right", va="bottom", fontsize=7, color="dimgrey")
    return plots.save(fig, path)


def main(argv: list[str] | None = None) -> int:
    ap = parser(__doc__, n=100, steps=100, lr=None, seed=1, quiet=True,
                helps={"n": "number of moons points", "steps": "maximum training steps",
                       "lr": "learning rate (unset: decays from 1.0 to 0.1 over the steps)"})
    args = ap.parse_args(argv)

    X, y = mg.datasets.moons(args.n, noise=0.1, seed=args.seed)
    labels = [2.0 * float(v) - 1.0 for v in y]  # classes as -1 / +1 for the hinge loss
    rows = [[float(a), float(b)] for a, b in X]
    model = MLP(2, [16, 16, 1], seed=args.seed)
    print(f"scalar MLP with {len(model.parameters())} parameters on {args.n} moons points")

    start = time.perf_counter()
    accuracy, steps = 0.0, 0
    for step in progress(range(args.steps), "training", args.quiet):
        scores = [model(r) for r in rows]
        losses = [(1 + -yi * si).relu() for yi, si in zip(labels, scores)]
        data_loss = sum(losses) * (1.0 / len(losses))
        reg = 1e-4 * sum(p * p for p in model.parameters())
        loss = data_loss + reg
        accuracy = sum((yi > 0) == (si.data > 0) for yi, si in zip(labels, scores)) / len(rows)
        if accuracy == 1.0:  # every point right: stop before changing the weights again
            print(f"step {step:3d}  loss {loss.data:.4f}  accuracy {accuracy:.0%}")
            break

        model.zero_grad()
        loss.backward()
        lr = args.lr if args.lr is not None else 1.0 - 0.9 * step / args.steps
        for p in model.parameters():
            p.data -= lr * p.grad  # gradient descent: theta <- theta - alpha * dJ/dtheta
        steps = step + 1
        if step % 10 == 0:
            print(f"step {step:3d}  loss {loss.data:.4f}  accuracy {accuracy:.0%}")
    # score the final weights with the Value graph; the picture's numpy copy must agree
    final = np.array([model(r).data for r in rows])
    if not np.allclose(scores_np(model, X), final, rtol=1e-9, atol=1e-9):
        raise RuntimeError("scalar_moons: the numpy copy of the model disagrees with it")
    accuracy = float(np.mean((final > 0) == (y > 0)))
    print(f"trained in {time.perf_counter() - start:.1f} s ({steps} steps): "
          f"training accuracy {accuracy:.0%}")

    path = draw_boundary(model, X, y, f"learned boundary after {steps} steps: training "
                         f"accuracy {accuracy:.0%}", out_path(args, "scalar_moons_boundary.png"))
    print(f"wrote {path}")

    x0 = [mg.Value(rows[0][0], label="x0"), mg.Value(rows[0][1], label="x1")]
    small = MLP(2, [2, 1], seed=0)  # the whole network would be thousands of boxes
    score = small(x0)
    score.label = "score"
    score.backward()
    path = mg.draw_graph(score, format="png").render(out_path(args, "scalar_mlp_graph"),
                                                     cleanup=True)
    print(f"wrote {path}")
    if accuracy < 1.0:
        return fail("100% training accuracy", f"{accuracy:.0%} after {steps} steps",
                    "Try more --steps or another --lr or --seed.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
