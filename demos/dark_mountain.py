"""Down a dark mountain: optimizers race across 2-D loss surfaces.

You stand on a mountain in the dark and can only feel the slope under your feet: that is
gradient descent. SGD, momentum, Nesterov, RMSprop, Adagrad and Adam set off from the same
spot on a bowl, Rosenbrock's valley, a saddle and a surface with two basins. Then a
learning-rate sweep (too small, right, too large, diverging), and at the saddle the
Hessian, computed by differentiating the gradient again, shows why plain GD stalls there.

Pictures: dark_mountain_race.png, dark_mountain_lr.png, dark_mountain_saddle.png.
"""
from __future__ import annotations

import sys

import numpy as np
from common import OPTIMIZERS, mg, out_path, parser, progress

from microgd.viz.surfaces import SURFACES

# learning rates that suit each optimizer on each surface (the optimizers differ in scale)
RATES = {
    "bowl": dict(sgd=0.15, momentum=0.03, nesterov=0.03, rmsprop=0.05, adagrad=1.0, adam=0.3),
    "rosenbrock": dict(sgd=2e-3, momentum=5e-4, nesterov=5e-4, rmsprop=0.03, adagrad=1.0,
                       adam=0.1),
    "saddle": dict(sgd=0.05, momentum=0.02, nesterov=0.02, rmsprop=0.01, adagrad=0.1,
                   adam=0.05),
    "local_minima": dict(sgd=0.3, momentum=0.3, nesterov=0.3, rmsprop=0.1, adagrad=0.5,
                         adam=0.2),  # same lr for the SGD family: only momentum rolls on
}


def descend(surface, optimizer: str, lr: float, steps: int, start=None) -> np.ndarray:
    """The path of (x, y) points an optimizer takes from ``start``."""
    theta = mg.nn.Parameter(np.array(start or surface.start, dtype=np.float64))
    opt = OPTIMIZERS[optimizer]([theta], lr)
    path = [theta.data.copy()]
    with np.errstate(all="ignore"):
        for _ in range(steps):
            opt.zero_grad()
            J = surface.fn(theta[0], theta[1])   # the height where we stand
            J.backward()                          # the slope under our feet
            opt.step()                            # one step downhill
            path.append(theta.data.copy())
            if not np.all(np.isfinite(theta.data)) or np.abs(theta.data).max() > 1e6:
                break
    return np.array(path)


def hessian(surface, point) -> np.ndarray:
    """Second derivatives by differentiating the gradient (create_graph=True)."""
    theta = mg.tensor(np.asarray(point, dtype=np.float64), requires_grad=True)
    (g,) = mg.grad(surface.fn(theta[0], theta[1]), theta, create_graph=True)
    rows = [mg.grad(g[i], theta, retain_graph=True)[0].data for i in range(2)]
    return np.stack(rows)


def main(argv: list[str] | None = None) -> int:
    ap = parser(__doc__, optimizer="sgd", lr=0.15, batch_size=1, epochs=150)
    ap.epilog = "--epochs is the number of steps; --batch-size does not apply (one point)"
    args = ap.parse_args(argv)
    plots = mg.viz.plots
    steps = args.epochs

    # 1. the race
    fig, axes = plots.figure(2, 2, figsize=(13, 10))
    for ax, (name, surface) in zip(axes.ravel(), SURFACES.items()):
        paths = {}
        for opt_name in progress(RATES[name], f"race on {name}", args.quiet):
            lr = RATES[name][opt_name]
            path = descend(surface, opt_name, lr, steps)
            paths[f"{opt_name} (lr {lr:g})"] = path
            end = surface.height(path[-1:, 0], path[-1:, 1])[0]
            print(f"{name:>13} {opt_name:>9}: J = {end:10.4g} at ({path[-1, 0]:+.3f}, "
                  f"{path[-1, 1]:+.3f}) after {len(path) - 1} steps")
        plots.optimizer_paths(surface, paths, ax=ax, title=f"{name}: {surface.about}")
    plots.save(fig, out_path(args, "dark_mountain_race.png"))

    # 2. the learning rate, with --optimizer on the bowl
    bowl = SURFACES["bowl"]
    rates = {"too small": args.lr / 30, "about right": args.lr, "too large": args.lr * 1.3,
             "diverges": args.lr * 1.45}
    curves, paths = {}, {}
    for label, lr in rates.items():
        path = descend(bowl, args.optimizer, lr, min(steps, 60))
        heights = bowl.height(path[:, 0], path[:, 1])
        curves[f"{label} (lr {lr:.3g})"] = heights
        paths[f"{label} (lr {lr:.3g})"] = path[:16]  # the first steps tell the story
        print(f"learning rate {lr:.3g} ({label}): J goes {heights[0]:.3g} -> {heights[-1]:.3g}")
    fig, (a1, a2) = plots.figure(1, 2, figsize=(13, 4.8))
    for k, v in curves.items():
        a1.plot(v, label=k)
    a1.set(yscale="log", xlabel="step", ylabel="J(θ)",
           title=f"{args.optimizer}: the learning rate decides everything")
    a1.set_ylim(1e-6, 1e4)
    a1.legend(fontsize=8)
    a1.grid(alpha=0.3)
    plots.optimizer_paths(bowl, paths, ax=a2, title="small steps crawl, large ones overshoot")
    plots.save(fig, out_path(args, "dark_mountain_lr.png"))

    # 3. the saddle: the gradient is zero at the origin, the Hessian has mixed signs
    saddle = SURFACES["saddle"]
    H = hessian(saddle, (0.0, 0.0))
    eig = np.linalg.eigvalsh(H)
    print(f"saddle: Hessian at the origin {H.tolist()}, eigenvalues {eig.round(6).tolist()}: "
          "one positive (a valley along x), one negative (a ridge along y)")
    start = (-2.0, 1e-6)  # almost exactly on the ridge line
    race = {name: descend(saddle, name, RATES["saddle"][name], steps * 2, start)
            for name in ("sgd", "momentum", "adam")}
    for name, path in race.items():
        print(f"saddle from {start}: {name:>8} ends at ({path[-1, 0]:+.3f}, "
              f"{path[-1, 1]:+.3f})")
    fig, (a1, a2) = plots.figure(1, 2, figsize=(13, 4.8))
    plots.optimizer_paths(saddle, race, ax=a1,
                          title=f"saddle: Hessian eigenvalues {eig[0]:+.1f}, {eig[1]:+.1f}")
    for name, path in race.items():
        heights = saddle.height(path[:, 0], path[:, 1])
        a2.plot(heights, label=name)
        below = np.flatnonzero(heights < -0.01)  # steps clearly below the saddle's J = 0
        print(f"saddle: {name:>8} " + (f"leaves the saddle's level (J = 0) after {below[0]} "
                                       "steps" if below.size else
                                       f"is still at the saddle's level after {len(path) - 1} "
                                       "steps"))
    a2.axhline(0.0, color="grey", lw=0.8, ls="--")
    a2.text(0, 0.02, "J at the saddle point", color="grey", fontsize=8)
    a2.set(xlabel="step", ylabel="J(θ)", title="near the saddle the slope vanishes: plain GD "
           "lingers on the plateau")
    a2.legend(fontsize=8)
    a2.grid(alpha=0.3)
    plots.save(fig, out_path(args, "dark_mountain_saddle.png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
