"""Vanishing and exploding gradients, seen layer by layer.

A deep sigmoid network: the sigmoid's slope is at most 1/4, so the gradient shrinks at
every layer on its way back and the early layers barely learn. The same depth with ReLU
and He (Kaiming) init keeps the gradient's size steady. Then an exploding setup (weights
initialised too large) whose gradients blow up, tamed by clip_grad_norm_.

Pictures: vanishing_grad_norms.png, vanishing_graph.png (both networks' graphs, parameters
coloured by gradient size on one shared scale), exploding_clipping.png.
"""
from __future__ import annotations

import os
import sys
import tempfile

import matplotlib
import matplotlib.image
import numpy as np
from common import make_optimizer, mg, out_path, parser, progress

DEPTH, WIDTH = 8, 32


def deep_mlp(activation: str, init: str | None, seed: int, scale: float = 1.0):
    mg.manual_seed(seed)
    model = mg.nn.MLP(64, [WIDTH] * (DEPTH - 1), 10, activation=activation)
    for layer in model.layers:
        if isinstance(layer, mg.nn.Linear):
            if init == "he":
                mg.nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
                mg.nn.init.zeros_(layer.bias)
            elif init == "large":
                mg.nn.init.normal_(layer.weight, 0.0, scale)
    return model


def linears(model):
    return [m for m in model.layers if isinstance(m, mg.nn.Linear)]


def train(model, X, y, args, label, clip: float | None = None):
    opt = make_optimizer(args.optimizer, model.parameters(), args.lr)
    loader = mg.data.DataLoader(mg.data.TensorDataset(X, y), batch_size=args.batch_size,
                                shuffle=True, seed=args.seed)
    norms = {f"layer {i}": [] for i in range(DEPTH)}
    for i, lin in enumerate(linears(model)):  # a hook sees each weight's gradient as it is made
        lin.weight.register_hook(
            lambda g, series=norms[f"layer {i}"]: series.append(float(np.linalg.norm(g.data))))
    losses = []
    with np.errstate(all="ignore"):
        for _ in progress(range(args.epochs), label, args.quiet):
            for xb, yb in loader:
                opt.zero_grad()
                loss = mg.nn.F.cross_entropy(model(xb), yb)
                loss.backward()
                if clip is not None:
                    mg.nn.utils.clip_grad_norm_(model.parameters(), clip)
                opt.step()
                losses.append(loss.item())
    return norms, losses


def draw_graphs(X, y, args) -> str:
    """The deep sigmoid and ReLU+He networks as graphs, each module one box, parameters
    coloured by |grad| on ONE scale (``mg.viz.grad_range`` of both), so a colour means
    the same gradient size in every layer of both; composed side by side in one picture."""
    nets = {f"{DEPTH} sigmoid layers, default init": ("sigmoid", None),
            f"{DEPTH} ReLU layers, He init": ("relu", "he")}
    losses, params = {}, {}
    for title, (activation, init) in nets.items():
        model = deep_mlp(activation, init, args.seed)
        losses[title] = mg.nn.F.cross_entropy(model(X), y)
        losses[title].backward()  # the graph stays drawable after backward
        params[title] = dict(model.named_parameters())
    scale = mg.viz.grad_range(*losses.values())
    print(f"graph colours: one |grad| scale for both networks, {scale[0]:.0e} to {scale[1]:.0e}")
    images = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, (title, loss) in enumerate(losses.items()):
            dot = mg.draw_graph(loss, format="png", rankdir="TB", show_data=False,
                                grad_range=scale, params=params[title],
                                collapse=[mg.nn.Linear, mg.nn.Sigmoid, mg.nn.ReLU])
            dot.attr(ranksep="0.25", nodesep="0.2")
            images[title] = matplotlib.image.imread(dot.render(os.path.join(tmp, str(i)),
                                                               cleanup=True))
    height = max(im.shape[0] for im in images.values())
    width = sum(im.shape[1] for im in images.values())
    fig, axes = mg.viz.plots.figure(1, 2, figsize=(width / 100, height / 100 + 0.6),
                                    gridspec_kw={"width_ratios": [im.shape[1] for im in
                                                                  images.values()]})
    for ax, (title, im) in zip(axes, images.items()):
        ax.imshow(im)
        ax.set_title(title, fontsize=14)
        ax.axis("off")
    return mg.viz.plots.save(fig, out_path(args, "vanishing_graph.png"))


def main(argv: list[str] | None = None) -> int:
    ap = parser(__doc__, optimizer="sgd", lr=0.05, batch_size=64, epochs=3, seed=0,
                quiet=True)
    args = ap.parse_args(argv)
    plots = mg.viz.plots
    X, y = mg.datasets.digits()
    X = X / 16.0

    sig_norms, sig_loss = train(deep_mlp("sigmoid", None, args.seed), X, y, args, "sigmoid")
    relu_norms, relu_loss = train(deep_mlp("relu", "he", args.seed), X, y, args, "relu+he")
    for name, norms in (("sigmoid, default init", sig_norms), ("ReLU, He init", relu_norms)):
        first, last = np.mean(norms["layer 0"]), np.mean(norms[f"layer {DEPTH - 1}"])
        print(f"{name:>22}: mean |dJ/dW| first layer {first:.2e}, last layer {last:.2e} "
              f"(ratio {first / last:.1e})")
    print(f"final loss: sigmoid {sig_loss[-1]:.3f}, ReLU+He {relu_loss[-1]:.3f}")

    fig, (a1, a2) = plots.figure(1, 2, figsize=(13, 4.6), sharey=True)
    for ax, norms, title in ((a1, sig_norms, f"{DEPTH} sigmoid layers: gradients vanish"),
                             (a2, relu_norms, f"{DEPTH} ReLU layers, He init: they do not")):
        colours = matplotlib.colormaps["viridis"](np.linspace(0, 1, DEPTH))
        for (name, series), c in zip(norms.items(), colours):
            ax.plot(series, color=c, label=name, lw=1.2)
        ax.set(yscale="log", xlabel="step", title=title)
        ax.grid(alpha=0.3)
    a1.set_ylabel("|dJ/dW| per layer")
    a2.legend(fontsize=7, ncol=2)
    plots.save(fig, out_path(args, "vanishing_grad_norms.png"))

    # both networks' graphs after one backward, side by side on one gradient colour scale
    path = draw_graphs(X[:16], y[:16], args)
    print(f"wrote {path}")

    # exploding: weights drawn too large (std 0.4, He would be 0.25); a few huge gradient
    # steps throw the network where every ReLU is dead. Clipping the norm keeps steps sane.
    curves = {}
    for clip in (None, 5.0):
        label = "no clipping" if clip is None else f"clip_grad_norm_(max_norm={clip})"
        model = deep_mlp("relu", "large", args.seed, scale=0.4)
        norms, losses = train(model, X, y, args, label, clip=clip)
        curves[label] = losses
        with mg.no_grad():
            acc = float((model(X).data.argmax(axis=1) == y).mean())
        print(f"exploding init, {label}: largest |dJ/dW| {np.nanmax(norms['layer 0']):.2e}, "
              f"loss {losses[0]:.3g} -> {losses[-1]:.3g}, training accuracy {acc:.0%}")
    fig = plots.loss_curves(curves, xlabel="step", ylabel="training loss",
                            title="Exploding gradients: weights initialised too large")
    ax = fig.axes[0]
    ax.axhline(np.log(10), color="grey", ls="--", lw=0.8)
    ax.text(0.3, 0.45, "dashed: chance level, ln 10 (a network whose ReLUs all died)",
            transform=ax.transAxes,
            color="grey", fontsize=8)
    plots.save(fig, out_path(args, "exploding_clipping.png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
