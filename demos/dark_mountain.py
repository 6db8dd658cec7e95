"""Down a dark mountain: optimizers race across 2-D loss surfaces.

You stand on a mountain in the dark and can only feel the slope under your feet: that is
gradient descent. SGD, momentum, Nesterov, RMSprop, Adagrad and Adam set off from the same
spot on a bowl, Rosenbrock's valley, a saddle and a surface with two basins. Then a
learning-rate sweep on the bowl with --optimizer, each rate labelled by what its run did
(too small, about right, too large, diverges), and at the saddle the Hessian, computed by
differentiating the gradient again, shows why plain GD stalls there.

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


REACH = 1e-4  # a run "gets down" once J falls below this fraction of where it started


def outcome(surface, path: np.ndarray) -> tuple[bool, int | None]:
    """(diverged, steps until J < REACH * J at the start, or None). A run diverges when it
    blows up or ends higher on the mountain than it started."""
    heights = surface.height(path[:, 0], path[:, 1])
    diverged = not np.all(np.isfinite(heights)) or heights[-1] > heights[0] or \
        np.abs(path[-1]).max() > 1e6
    below = np.flatnonzero(heights < REACH * heights[0])
    return diverged, (int(below[0]) if below.size else None)


def find_edge(surface, optimizer: str, runs: dict, steps: int, rounds: int = 6):
    """Bisect (on a log scale) between the largest rate that did not diverge and the next
    one that did, adding every rate tried to ``runs``; returns the final (lo, hi), or None
    when the sweep has no such pair."""
    bad = sorted(lr for lr, p in runs.items() if outcome(surface, p)[0])
    good = [lr for lr, p in runs.items() if bad and lr < bad[0] and not outcome(surface, p)[0]]
    if not good:
        return None
    lo, hi = max(good), bad[0]
    for _ in range(rounds):
        mid = float(np.sqrt(lo * hi))
        runs[mid] = descend(surface, optimizer, mid, steps)
        if outcome(surface, runs[mid])[0]:
            hi = mid
        else:
            lo = mid
    return lo, hi


def sweep_labels(surface, runs: dict) -> dict:
    """Label each rate by what its run did. "diverges": it blew up or ended above its
    start. Of the rest, "about right": within 1.5x the fewest steps any rate needed to get
    down (or, when none got down, the one that ended lowest); "too small" / "too large":
    the others, below or above the best rate."""
    results = {lr: outcome(surface, p) for lr, p in runs.items()}
    ok = [lr for lr, (div, _) in results.items() if not div]
    best, right = None, set()
    got_down = [lr for lr in ok if results[lr][1] is not None]
    if got_down:
        best = min(got_down, key=lambda lr: results[lr][1])
        right = {lr for lr in got_down if results[lr][1] <= 1.5 * results[best][1]}
    elif ok:
        final = {lr: surface.height(runs[lr][-1:, 0], runs[lr][-1:, 1])[0] for lr in ok}
        best = min(ok, key=final.get)
        right = {best}
    labels = {}
    for lr, (div, _) in results.items():
        labels[lr] = ("diverges" if div else "about right" if lr in right else
                      "too small" if lr < best else "too large")
    return labels


def describe(surface, lr: float, path: np.ndarray, label: str) -> str:
    heights = surface.height(path[:, 0], path[:, 1])
    diverged, reach = outcome(surface, path)
    if not np.all(np.isfinite(path[-1])) or np.abs(path[-1]).max() > 1e6:
        what = "blew up (|θ| passed 1e6)"
    elif diverged:
        what = "ended higher than it started"
    elif reach is not None:
        what = f"below {REACH:g} of its start after {reach} steps"
    else:
        what = f"never below {REACH:g} of its start"
    return (f"learning rate {lr:.6g} ({label}): J goes {heights[0]:.4g} -> {heights[-1]:.4g} "
            f"in {len(path) - 1} steps; {what}")


def pick_shown(runs: dict, labels: dict, lr_flag: float) -> list[float]:
    """The rates to draw: --lr, and one of each other label: the middle "about right", the
    slowest "too small" within 16x of the smallest "about right", the largest "too large",
    and the smallest rate that diverges 5 % above the largest that does not (so the two
    differ in the picture)."""
    by = {k: sorted(lr for lr in runs if labels[lr] == k) for k in set(labels.values())}
    by.pop(labels[lr_flag])  # --lr itself stands for its label
    shown = {lr_flag}
    right = sorted(lr for lr in runs if labels[lr] == "about right")
    if "about right" in by:
        shown.add(right[len(right) // 2])
    if "too small" in by:
        top = min(right or by["too small"])
        shown.add(min((lr for lr in by["too small"] if lr >= top / 16),
                      default=by["too small"][-1]))
    if "too large" in by:
        shown.add(by["too large"][-1])
    if "diverges" in by:
        calm = max((lr for lr in runs if labels[lr] != "diverges"), default=0.0)
        shown.add(min((lr for lr in by["diverges"] if lr >= 1.05 * calm),
                      default=by["diverges"][0]))
    return sorted(shown)


def hessian(surface, point) -> np.ndarray:
    """The matrix of second derivatives: ``mg.func.hessian`` differentiates the gradient
    again (forward mode over reverse mode, as torch.func.hessian does)."""
    theta = mg.tensor(np.asarray(point, dtype=np.float64))
    return mg.func.hessian(lambda p: surface.fn(p[0], p[1]))(theta).data


def main(argv: list[str] | None = None) -> int:
    ap = parser(__doc__, optimizer="sgd", lr=0.15, steps=150, quiet=True, helps={
        "optimizer": "the optimizer of the learning-rate sweep (the race runs them all)",
        "lr": "the sweep tries --lr/64 up to 16x --lr, and on until a rate diverges (the "
              "race uses rates tuned per optimizer)",
        "steps": "steps per run (the saddle race takes twice as many)"})
    args = ap.parse_args(argv)
    if not args.lr > 0 or args.steps < 1:
        ap.error(f"--lr must be positive and --steps at least 1, got --lr {args.lr} "
                 f"--steps {args.steps}")
    plots = mg.viz.plots
    steps = args.steps

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

    # 2. the learning rate, with --optimizer on the bowl: rates doubling from --lr/64 to
    # at least 16 * --lr (on until one diverges), each labelled by what its run did (see
    # sweep_labels), and the edge of divergence found by bisection, where "too large but
    # not diverging" lives
    bowl = SURFACES["bowl"]
    rates = [args.lr * 2.0 ** k for k in range(-6, 5)]
    runs = {lr: descend(bowl, args.optimizer, lr, steps) for lr in rates}
    while not any(outcome(bowl, p)[0] for p in runs.values()) and rates[-1] < args.lr * 4096:
        rates.append(rates[-1] * 2)  # keep doubling until a rate diverges
        runs[rates[-1]] = descend(bowl, args.optimizer, rates[-1], steps)
    edge = find_edge(bowl, args.optimizer, runs, steps)
    labels = sweep_labels(bowl, runs)
    for lr in sorted(runs):
        print(describe(bowl, lr, runs[lr], labels[lr]))
    print(f"your --lr {args.lr:g} is {labels[args.lr]} for {args.optimizer} on the bowl "
          f"({steps} steps)")
    if edge:
        print(f"the edge, by bisection: lr {edge[0]:.6g} does not diverge, {edge[1]:.6g} does")
    if args.optimizer == "sgd":
        lam = float(np.linalg.eigvalsh(hessian(bowl, bowl.minimum)).max())
        print(f"theory for plain GD on a quadratic: the steps grow without bound above "
              f"2/λ_max = 2/{lam:.3g} = {2 / lam:.3g} (λ_max: the Hessian's largest eigenvalue)")

    shown = pick_shown(runs, labels, args.lr)
    fig, (a1, a2) = plots.figure(1, 2, figsize=(13, 4.8))
    paths = {}
    for lr in shown:
        key = f"{labels[lr]} (lr {lr:.3g}{', --lr' if lr == args.lr else ''})"
        heights = bowl.height(runs[lr][:, 0], runs[lr][:, 1])
        a1.plot(heights, label=key)
        paths[key] = runs[lr][:16]  # the first steps tell the story
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
