"""Squiggles -> digits, with a CNN: small convolutions that look for the same stroke
everywhere in the 8x8 image, against digits.py's MLP, trained on the same split with the
same optimizer, learning rate, batch size and number of epochs.

Pictures: cnn_digits_accuracy.png (test accuracy per epoch, both nets), cnn_filters.png
(the 16 learned 3x3 kernels of the first layer), cnn_feature_maps.png (one squiggle
through each layer), cnn_graph.png (the CNN's graph, one box per module).
"""
from __future__ import annotations

import sys

import numpy as np
from common import fail, make_optimizer, mg, out_path, parser, progress
from digits import split

nn = mg.nn


def make_cnn() -> nn.Sequential:
    """Two conv blocks (3x3 kernels, batch norm, ReLU, 2x2 max-pool: 8x8 -> 4x4 -> 2x2),
    then a Linear layer from the 32 x 2 x 2 features to the 10 digits."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 2 * 2, 10))


def accuracy(model: nn.Module, X: np.ndarray, y: np.ndarray) -> float:
    model.eval()  # batch norm: the running statistics, not this batch's
    with mg.no_grad():
        acc = float((model(X).data.argmax(axis=1) == y).mean())
    model.train()
    return acc


def train(model, X, y, Xte, yte, args, label):
    """Mini-batch training; the test accuracy after every epoch."""
    opt = make_optimizer(args.optimizer, model.parameters(), args.lr)
    loader = mg.data.DataLoader(mg.data.TensorDataset(X, y), batch_size=args.batch_size,
                                shuffle=True, seed=args.seed)
    history = [accuracy(model, Xte, yte)]
    for _ in progress(range(args.epochs), label, args.quiet):
        for xb, yb in loader:
            opt.zero_grad()
            loss = nn.F.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
        history.append(accuracy(model, Xte, yte))
    return history


def draw_filters(cnn: nn.Sequential, path: str) -> None:
    w = cnn[0].weight.data[:, 0]                       # (16, 3, 3)
    fig, axes = mg.viz.plots.figure(2, 8, figsize=(8, 2.4))
    lim = np.abs(w).max()
    for k, ax in enumerate(axes.ravel()):
        ax.imshow(w[k], cmap="RdBu_r", vmin=-lim, vmax=lim)
        ax.set_title(f"kernel {k}", fontsize=7)
        ax.axis("off")
    fig.suptitle("first-layer 3x3 kernels (red +, blue −): stroke detectors")
    mg.viz.plots.save(fig, path)


def draw_feature_maps(cnn: nn.Sequential, image: np.ndarray, label: int, path: str) -> None:
    """Record each layer's output for one squiggle with forward hooks, then draw up to 16
    channels per layer."""
    names = {0: "conv 1", 2: "ReLU", 3: "max-pool", 4: "conv 2", 6: "ReLU", 7: "max-pool"}
    seen = {}
    handles = [cnn[i].register_forward_hook(
        lambda m, args, out, i=i: seen.__setitem__(i, out.data[0])) for i in names]
    cnn.eval()
    with mg.no_grad():
        digit = int(cnn(image[None]).data.argmax())
    cnn.train()
    for h in handles:
        h.remove()
    rows = [("input", image)] + [(f"{names[i]} {seen[i].shape[1]}x{seen[i].shape[2]}", seen[i])
                                 for i in names]
    fig, axes = mg.viz.plots.figure(len(rows), 16, figsize=(12, 1 + 0.8 * len(rows)))
    for (title, maps), row in zip(rows, axes):
        for k, ax in enumerate(row):
            ax.axis("off")
            if k < len(maps):
                ax.imshow(maps[k], cmap="gray_r" if title == "input" else "magma")
        row[0].set_title(title, fontsize=8, loc="left")
    fig.suptitle(f"a squiggle (a {label}) through the CNN, up to 16 channels per layer; "
                 f"predicted {digit}")
    mg.viz.plots.save(fig, path)


def main(argv: list[str] | None = None) -> int:
    ap = parser(__doc__, optimizer="sgd", lr=0.1, batch_size=32, epochs=20, seed=0,
                quiet=True)
    args = ap.parse_args(argv)
    Xtr, ytr, Xte, yte = split(args.seed)   # digits.py's split, pixels scaled to [0, 1]
    images = (Xtr.reshape(-1, 1, 8, 8), Xte.reshape(-1, 1, 8, 8))
    mg.manual_seed(args.seed)
    mlp = nn.MLP(64, [64], 10)
    mg.manual_seed(args.seed)
    cnn = make_cnn()
    sizes = {name: sum(p.size for p in m.parameters()) for name, m in
             (("MLP", mlp), ("CNN", cnn))}
    history = {
        f"MLP 64-64-10 ({sizes['MLP']:,} weights)":
            train(mlp, Xtr, ytr, Xte, yte, args, "MLP"),
        f"CNN ({sizes['CNN']:,} weights)":
            train(cnn, images[0], ytr, images[1], yte, args, "CNN"),
    }
    (mlp_name, mlp_acc), (cnn_name, cnn_acc) = [(k, v[-1]) for k, v in history.items()]
    print(f"MLP: test accuracy {mlp_acc:.1%} ({sizes['MLP']:,} weights)")
    print(f"CNN: test accuracy {cnn_acc:.1%} ({sizes['CNN']:,} weights)")
    print(f"same split ({len(ytr)} train / {len(yte)} test), optimizer {args.optimizer}, "
          f"lr {args.lr}, batch {args.batch_size}, {args.epochs} epochs")

    plots = mg.viz.plots
    fig, ax = plots.figure()
    for name, accs in history.items():
        ax.plot(range(len(accs)), 100 * np.asarray(accs), marker=".", label=name)
    ax.set(xlabel="epoch", ylabel="test accuracy (%)", ylim=(80, 100),
           title="8x8 digits: CNN vs MLP, same training budget")
    ax.grid(alpha=0.3)
    ax.legend()
    plots.save(fig, out_path(args, "cnn_digits_accuracy.png"))
    draw_filters(cnn, out_path(args, "cnn_filters.png"))
    draw_feature_maps(cnn, images[1][0], int(yte[0]), out_path(args, "cnn_feature_maps.png"))
    x = mg.tensor(images[1][:4])
    x.name = "4 squiggles (4, 1, 8, 8)"
    cnn.eval()  # a picture, not a training step: leave the running statistics alone
    graph = mg.draw_graph(cnn(x), format="png", collapse=True, show_grad=False)
    print(f"wrote {graph.render(out_path(args, 'cnn_graph'), cleanup=True)}")

    if cnn_acc < max(0.97, mlp_acc):
        return fail("CNN test accuracy >= 97% and >= the MLP's",
                    f"CNN {cnn_acc:.1%}, MLP {mlp_acc:.1%}", "train longer (--epochs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
