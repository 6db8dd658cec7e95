"""The demo tour: run every demo with quick settings, pictures into --out, and an
index.html that shows them all with one-line captions. This is what ``make demo`` runs."""
from __future__ import annotations

import argparse
import html
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# (script, quick arguments, {picture file: caption}); an .html file is linked, not shown
TOUR = [
    ("graph_tour.py", [], {
        "graph_scalar.png": "c = tanh(a·b + a²) after backward: every value with its gradient.",
        "graph_mlp.png": "A small MLP: nodes clustered by the module call that made them, "
                         "parameters named by their path.",
        "graph_mlp_collapsed.png": "The same MLP with each Linear collapsed to one box.",
        "graph_loss.png": "The loss after backward, parameters coloured by |gradient|.",
        "replay_quickstart.gif": "Backprop on c = tanh(a·b + a²), one node per frame in the "
                                 "walk's order: upstream gradient × local derivative on each "
                                 "edge, += where a's two uses meet.",
        "explain_quickstart.png": "dc/da as a sum over the two paths from c to a (each "
                                  "edge: its local derivative); explain_quickstart.txt has "
                                  "the sum, a.grad and a finite difference.",
        "replay_quickstart.html": "The same replay as a page: play, step, back, click a step.",
        "explore_mlp.html": "Explore the MLP's loss graph in a browser (no Graphviz): hover "
                            "for values and gradient statistics, click a module to collapse "
                            "it, search, pan and zoom.",
        "explore_cnn.html": "Explore the digits CNN's graph.",
        "explore_transformer.html": "Explore the sorting transformer's graph: its two "
                                    "identical blocks start folded as one 'Block × 2' box.",
    }),
    ("scalar_moons.py", ["--quiet"], {
        "scalar_moons_boundary.png": "The boundary the scalar-Value MLP learned: every "
                                     "training point on its side (100 % accuracy).",
        "scalar_mlp_graph.png": "A tiny scalar-Value MLP: one node per neuron (Σ w·x + b), "
                                "each weight with its gradient.",
    }),
    ("digits.py", ["--epochs", "20", "--quiet"], {
        "digits_gd_epochs.png": "Batch vs stochastic vs mini-batch gradient descent, per epoch.",
        "digits_gd_seconds.png": "The same runs against wall-clock time.",
        "digits_confusion.png": "Which digits the MLP confuses (test set).",
        "digits_misclassified.png": "Squiggles it got wrong: true → predicted.",
        "digits_samples.png": "Squiggle → digit.",
    }),
    ("cnn_digits.py", ["--epochs", "20", "--quiet"], {
        "cnn_digits_accuracy.png": "A small CNN against the MLP on the same digits, same "
                                   "budget: test accuracy per epoch (the CNN ends at 97 % "
                                   "or more, and above the MLP).",
        "cnn_filters.png": "The first layer's 16 learned 3x3 kernels.",
        "cnn_feature_maps.png": "One squiggle through each layer: convolution, ReLU, "
                                "max-pool, twice.",
        "cnn_graph.png": "The CNN's graph with each module collapsed to one box.",
    }),
    ("house_prices.py", ["--epochs", "40", "--quiet"], {
        "house_prices_normalisation.png": "Raw inputs diverge or crawl; normalised ones learn.",
        "house_prices_fit.png": "Learned prices vs the generating formula; the star is ZIP "
                                "27513 at 3,000 sq ft.",
    }),
    ("dark_mountain.py", ["--quiet"], {
        "dark_mountain_race.png": "Six optimizers racing down four loss surfaces.",
        "dark_mountain_lr.png": "A learning-rate sweep with plain GD on the bowl, each rate "
                                "labelled by what its run did: too small, about right, too "
                                "large, diverges.",
        "dark_mountain_saddle.png": "At a saddle the gradient vanishes; the Hessian has "
                                    "eigenvalues of both signs.",
    }),
    ("vanishing_exploding.py", ["--quiet"], {
        "vanishing_grad_norms.png": "Per-layer gradient norms: sigmoid layers vanish, "
                                    "ReLU with He init does not.",
        "vanishing_graph.png": "Both deep nets' graphs on one |gradient| colour scale: the "
                               "sigmoid's early layers get vanishing (blue) gradients, "
                               "ReLU+He's stay the same size.",
        "exploding_clipping.png": "Weights initialised too large: gradients explode; "
                                  "clip_grad_norm_ tames them.",
    }),
    ("attention.py", ["--quiet"], {
        "attention_maps.png": "A two-block transformer sorting 6 digits: each head's "
                              "attention weights on one held-out sequence, computed from "
                              "the data (each row sums to 1; nothing above the diagonal).",
        "attention_loss.png": "Its training loss on the sorted half; held-out exact match "
                              "reaches 95 % or more.",
        "attention_graph.png": "The transformer's graph with each block collapsed to one "
                               "box, parameters labelled by |gradient|.",
    }),
]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=" ".join(__doc__.split()))
    ap.add_argument("--out", default="out", help="folder for pictures and index.html")
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    failed, shown = [], []
    for script, extra, pictures in TOUR:
        print(f"== {script}", flush=True)
        start = time.perf_counter()
        r = subprocess.run([sys.executable, os.path.join(HERE, script), "--out", args.out,
                            *extra])
        print(f"== {script}: {'ok' if r.returncode == 0 else 'FAILED'} in "
              f"{time.perf_counter() - start:.1f} s\n", flush=True)
        if r.returncode != 0:
            failed.append(script)
        shown += [(name, caption, script) for name, caption in pictures.items()
                  if os.path.exists(os.path.join(args.out, name))]
    rows = "\n".join(
        (f'<figure><a class="page" href="{html.escape(n)}">{html.escape(n)}</a>'
         if n.endswith(".html") else f'<figure><img src="{html.escape(n)}" alt="{html.escape(n)}">')
        + f"<figcaption><b>{html.escape(s)}</b>: {html.escape(c)}</figcaption></figure>"
        for n, c, s in shown)
    with open(os.path.join(args.out, "index.html"), "w") as f:
        f.write("<!doctype html><meta charset=utf-8><title>microgd demo tour</title>"
                "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}"
                "img{max-width:100%;border:1px solid #ccc}figure{margin:2em 0}</style>"
                f"<h1>microgd: gradient descent, made visible</h1>\n{rows}\n")
    print(f"wrote {os.path.join(args.out, 'index.html')} ({len(shown)} pictures)")
    if failed:
        print(f"failed demos: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
