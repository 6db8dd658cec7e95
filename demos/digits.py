"""Squiggles -> digits: an MLP learns the 8x8 handwritten digits, and batch, stochastic and
mini-batch gradient descent race each other (loss against epochs and against seconds).

Pictures: digits_gd_variants.png (loss vs epochs and vs wall time), digits_confusion.png,
digits_misclassified.png, digits_samples.png.
"""
from __future__ import annotations

import sys
import time

import numpy as np
from common import make_optimizer, mg, out_path, parser, progress


def split(seed: int):
    X, y = mg.datasets.digits()
    X = X / 16.0  # pixel counts 0..16 -> 0..1
    order = np.random.default_rng(seed).permutation(len(X))
    cut = int(0.75 * len(X))
    return X[order[:cut]], y[order[:cut]], X[order[cut:]], y[order[cut:]]


def accuracy(model, X, y) -> float:
    with mg.no_grad():
        return float((model(X).data.argmax(axis=1) == y).mean())


def train(X, y, batch_size, epochs, optimizer, lr, seed, quiet, label):
    """Train; record the full training loss about four times per epoch, against epochs
    and against seconds spent training (the evaluations are not counted)."""
    mg.manual_seed(seed)
    model = mg.nn.MLP(64, [64], 10)
    opt = make_optimizer(optimizer, model.parameters(), lr)
    loader = mg.data.DataLoader(mg.data.TensorDataset(X, y), batch_size=batch_size,
                                shuffle=True, seed=seed)
    every = max(1, len(loader) // 4)
    with mg.no_grad():
        losses = [mg.nn.F.cross_entropy(model(X), y).item()]
    marks, seconds, spent = [0.0], [0.0], 0.0
    for epoch in progress(range(epochs), label, quiet):
        start = time.perf_counter()
        for i, (xb, yb) in enumerate(loader, 1):
            opt.zero_grad()
            loss = mg.nn.F.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()  # theta <- theta - alpha * (direction from dJ/dtheta)
            if i % every == 0 or i == len(loader):
                spent += time.perf_counter() - start
                with mg.no_grad():
                    losses.append(mg.nn.F.cross_entropy(model(X), y).item())
                marks.append(epoch + i / len(loader))
                seconds.append(spent)
                start = time.perf_counter()
    return model, losses, marks, seconds


def main(argv: list[str] | None = None) -> int:
    ap = parser(__doc__, optimizer="sgd", lr=0.1, batch_size=32, epochs=20, seed=0,
                quiet=True, helps={"batch_size": "the mini-batch variant's batch size"})
    args = ap.parse_args(argv)
    plots = mg.viz.plots
    Xtr, ytr, Xte, yte = split(args.seed)
    n = len(Xtr)
    variants = {f"batch (all {n})": n, "stochastic (1)": 1,
                f"mini-batch ({args.batch_size})": args.batch_size}
    runs, epochs, times, models = {}, {}, {}, {}
    for name, bs in variants.items():
        model, losses, marks, secs = train(Xtr, ytr, bs, args.epochs, args.optimizer, args.lr,
                                           args.seed, args.quiet, name)
        runs[name], epochs[name], times[name], models[name] = losses, marks, secs, model
        steps = args.epochs * -(-n // bs)
        print(f"{name:>22}: {steps:6d} steps in {secs[-1]:5.2f} s, train loss {losses[-1]:.4f},"
              f" test accuracy {accuracy(model, Xte, yte):.1%}")
    plots.loss_curves(runs, xs=epochs, xlabel="epoch (passes over the data)",
                      ylabel="training loss J(θ)",
                      title="Batch vs stochastic vs mini-batch gradient descent",
                      path=out_path(args, "digits_gd_epochs.png"))
    plots.loss_curves(runs, xs=times, xlabel="seconds", ylabel="training loss J(θ)",
                      title="... and against wall-clock time",
                      path=out_path(args, "digits_gd_seconds.png"))

    best = models[f"mini-batch ({args.batch_size})"]
    acc = accuracy(best, Xte, yte)
    with mg.no_grad():
        pred = best(Xte).data.argmax(axis=1)
    matrix = np.zeros((10, 10), int)
    np.add.at(matrix, (yte, pred), 1)
    plots.confusion_matrix(matrix, [str(d) for d in range(10)],
                           title=f"test accuracy {acc:.1%}",
                           path=out_path(args, "digits_confusion.png"))
    wrong = np.flatnonzero(pred != yte)[:24]
    plots.image_grid(Xte[wrong], [f"{yte[i]} → {pred[i]}" for i in wrong],
                     title="misclassified squiggles (true → predicted)",
                     path=out_path(args, "digits_misclassified.png"))
    plots.image_grid(Xte[:16], [f"predicted {pred[i]}" for i in range(16)],
                     title="squiggle → digit", path=out_path(args, "digits_samples.png"))
    print(f"mini-batch MLP: test accuracy {acc:.1%} on {len(yte)} held-out digits")
    return 0


if __name__ == "__main__":
    sys.exit(main())
