"""House prices from ZIP code and floor area: why inputs are normalised.

Raw inputs (ZIPs ~27,500, areas ~2,000 sq ft, prices ~$400,000) make the gradients huge:
gradient descent either diverges or needs a learning rate so tiny it barely moves. With
one-hot ZIPs, standardised area and prices in units of their spread, the same network
learns in a few epochs. Finally: the price of a 3,000 sq ft house in ZIP 27513.

Pictures: house_prices_normalisation.png, house_prices_fit.png.
"""
from __future__ import annotations

import sys

import numpy as np
from common import make_optimizer, mg, out_path, parser, progress

ZIP, SQFT = 27513, 3000.0


def fit(X, y, lr, args, label, max_epochs):
    """Train an MLP with MSE; the loss of every mini-batch is recorded, so a run that
    blows up shows how fast it does."""
    mg.manual_seed(args.seed)
    model = mg.nn.MLP(X.shape[1], [32], 1)
    opt = make_optimizer(args.optimizer, model.parameters(), lr)
    loader = mg.data.DataLoader(mg.data.TensorDataset(X, y[:, None]),
                                batch_size=args.batch_size, shuffle=True, seed=args.seed)
    losses = []
    with np.errstate(all="ignore"):  # the raw run overflows on purpose
        for _ in progress(range(max_epochs), label, args.quiet):
            for xb, yb in loader:
                opt.zero_grad()
                loss = mg.nn.F.mse_loss(model(xb), yb)
                losses.append(loss.item())
                if not np.isfinite(losses[-1]) or losses[-1] > 1e30:
                    return model, losses  # diverged
                loss.backward()
                opt.step()
    return model, losses


def main(argv: list[str] | None = None) -> int:
    ap = parser(__doc__, optimizer="sgd", lr=0.05, batch_size=64, epochs=60, n=2000, seed=0,
                quiet=True, helps={"n": "number of houses"})
    args = ap.parse_args(argv)
    X, y = mg.datasets.house_prices(args.n, seed=args.seed)
    X64, y64 = X.astype(np.float64), y.astype(np.float64)

    # 1. raw numbers in, raw dollars out
    raw = {}
    for lr in (args.lr, 1e-12):
        _, losses = fit(X64.astype(np.float32), y64.astype(np.float32), lr, args,
                        f"raw lr={lr:g}", args.epochs)
        state = "diverged" if not np.isfinite(losses[-1]) or losses[-1] > 1e30 else "stalled"
        print(f"raw inputs, lr={lr:g}: {state} after {len(losses)} steps "
              f"(last batch MSE {losses[-1]:.3g} $^2)")
        raw[f"raw inputs, lr={lr:g} ({state})"] = np.asarray(losses) / y64.var()

    # 2. normalised: one-hot ZIP, standardised area, price in standard deviations
    mean_a, std_a = X64[:, 1].mean(), X64[:, 1].std()
    mean_p, std_p = y64.mean(), y64.std()

    def features(zips, areas):
        return np.concatenate([mg.datasets.one_hot_zips(zips),
                               ((np.asarray(areas, np.float64) - mean_a) / std_a)[:, None]
                               .astype(np.float32)], axis=1)

    Xn = features(X64[:, 0], X64[:, 1])
    yn = ((y64 - mean_p) / std_p).astype(np.float32)
    model, losses = fit(Xn, yn, args.lr, args, f"normalised lr={args.lr:g}", args.epochs)
    raw[f"normalised inputs, lr={args.lr:g}"] = np.asarray(losses)  # already in std units
    with mg.no_grad():
        final = mg.nn.F.mse_loss(model(Xn), yn[:, None]).item()
    print(f"normalised inputs, lr={args.lr:g}: MSE {final:.4f} (in units of price "
          f"variance) after {len(losses)} steps")

    plots = mg.viz.plots
    plots.loss_curves(raw, xlabel="step (mini-batch)", ylabel="batch MSE / variance of price",
                      title="Same network, same optimizer: raw vs normalised inputs",
                      path=out_path(args, "house_prices_normalisation.png"))

    with mg.no_grad():
        guess = model(features([ZIP], [SQFT])).item() * std_p + mean_p
    truth = float(mg.datasets.house_price_formula(ZIP, SQFT))
    print(f"ZIP {ZIP}, {SQFT:,.0f} sq ft: predicted ${guess:,.0f}, generating formula "
          f"${truth:,.0f} ({(guess - truth) / truth:+.1%})")

    fig, ax = plots.figure(figsize=(7, 4.5))
    areas = np.linspace(800, 5000, 60)
    for z in (27610, 27513, 27601):
        pick = X64[:, 0] == z
        ax.scatter(X64[pick, 1], y64[pick] / 1e3, s=6, alpha=0.4)
        with mg.no_grad():
            pred = model(features([z] * len(areas), areas)).data[:, 0] * std_p + mean_p
        ax.plot(areas, pred / 1e3, lw=2, label=f"ZIP {z}: model")
        ax.plot(areas, mg.datasets.house_price_formula(np.full(len(areas), z), areas) / 1e3,
                "k--", lw=0.8)
    ax.plot([SQFT], [guess / 1e3], "r*", ms=14, label=f"prediction for ZIP {ZIP}, 3,000 sq ft")
    ax.set(xlabel="floor area (sq ft)", ylabel="price ($1,000s)",
           title="Learned prices (lines) vs the generating formula (dashed)")
    ax.legend(fontsize=8)
    plots.save(fig, out_path(args, "house_prices_fit.png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
