"""Shared bits of the demos: the command-line flags, optimizers by name, a progress bar.

Every demo takes ``--out``; each other flag is declared by the demo that honours it, so
``--help`` lists only what changes the run (a flag that is accepted and ignored misleads).
"""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable
from typing import Any

try:
    import microgd as mg  # installed: `make` installs the checkout, or a wheel
except ImportError:  # run straight from a checkout that was never installed
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import microgd as mg

OPTIMIZERS = {
    "sgd": lambda ps, lr: mg.optim.SGD(ps, lr=lr),
    "momentum": lambda ps, lr: mg.optim.SGD(ps, lr=lr, momentum=0.9),
    "nesterov": lambda ps, lr: mg.optim.SGD(ps, lr=lr, momentum=0.9, nesterov=True),
    "rmsprop": lambda ps, lr: mg.optim.RMSprop(ps, lr=lr),
    "adagrad": lambda ps, lr: mg.optim.Adagrad(ps, lr=lr),
    "adam": lambda ps, lr: mg.optim.Adam(ps, lr=lr),
    "adamw": lambda ps, lr: mg.optim.AdamW(ps, lr=lr),
}

# the flags a demo may declare: name -> (type, help); the default comes from the demo
FLAGS: dict[str, tuple[type, str]] = {
    "optimizer": (str, "optimizer"),
    "lr": (float, "learning rate α"),
    "batch_size": (int, "examples per gradient step"),
    "epochs": (int, "passes over the training data"),
    "steps": (int, "gradient steps"),
    "n": (int, "number of data points"),
    "seed": (int, "random seed (data, initial weights, shuffling)"),
}


def parser(doc: str, *, quiet: bool = False, helps: dict[str, str] | None = None,
           **defaults: Any) -> argparse.ArgumentParser:
    """A parser with ``--out`` plus exactly the flags this demo honours.

    Each keyword in ``defaults`` (a name from ``FLAGS``: ``lr=0.1``, ``batch_size=32``...)
    declares that flag with that default; ``quiet=True`` declares ``--quiet`` (for demos
    with progress bars); ``helps`` replaces a flag's help text where the demo uses it in
    its own way.
    """
    ap = argparse.ArgumentParser(description=" ".join(doc.strip().split("\n\n")[0].split()),
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    helps = helps or {}
    unknown = set(defaults) - set(FLAGS)
    if unknown:
        raise ValueError(f"demos.common.parser: unknown flags {sorted(unknown)}; "
                         f"known: {sorted(FLAGS)} (add others with ap.add_argument)")
    for name, default in defaults.items():
        kind, text = FLAGS[name]
        extra = {"choices": sorted(OPTIMIZERS)} if name == "optimizer" else {}
        ap.add_argument("--" + name.replace("_", "-"), type=kind, default=default,
                        help=helps.get(name, text), **extra)
    ap.add_argument("--out", default="out", help="folder for the pictures")
    if quiet:
        ap.add_argument("--quiet", action="store_true", help="no progress bars")
    return ap


def make_optimizer(name: str, params: Iterable[Any], lr: float) -> mg.optim.Optimizer:
    return OPTIMIZERS[name](list(params), lr)


def progress(iterable: Iterable[Any], desc: str, quiet: bool = False, total: int | None = None):
    from tqdm import tqdm
    return tqdm(iterable, desc=desc, disable=quiet, leave=False, total=total,
                file=sys.stderr, dynamic_ncols=True)


def out_path(args: Any, name: str) -> str:
    os.makedirs(args.out, exist_ok=True)
    return os.path.join(args.out, name)


def fail(goal: str, reached: str, hint: str = "") -> int:
    """Say on stderr that the demo stopped short of its goal; the exit status to return."""
    print(f"{os.path.basename(sys.argv[0])}: did not reach the goal ({goal}): {reached}"
          + (f". {hint}" if hint else ""), file=sys.stderr)
    return 1
