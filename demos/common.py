"""Shared bits of the demos: the command-line flags, optimizers by name, a progress bar."""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import microgd as mg  # noqa: E402

OPTIMIZERS = {
    "sgd": lambda ps, lr: mg.optim.SGD(ps, lr=lr),
    "momentum": lambda ps, lr: mg.optim.SGD(ps, lr=lr, momentum=0.9),
    "nesterov": lambda ps, lr: mg.optim.SGD(ps, lr=lr, momentum=0.9, nesterov=True),
    "rmsprop": lambda ps, lr: mg.optim.RMSprop(ps, lr=lr),
    "adagrad": lambda ps, lr: mg.optim.Adagrad(ps, lr=lr),
    "adam": lambda ps, lr: mg.optim.Adam(ps, lr=lr),
    "adamw": lambda ps, lr: mg.optim.AdamW(ps, lr=lr),
}


def parser(doc: str, *, optimizer: str, lr: float, batch_size: int, epochs: int
           ) -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=doc.strip().splitlines()[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--optimizer", default=optimizer, choices=sorted(OPTIMIZERS))
    ap.add_argument("--lr", type=float, default=lr, help="learning rate alpha")
    ap.add_argument("--batch-size", type=int, default=batch_size)
    ap.add_argument("--epochs", type=int, default=epochs)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="out", help="folder for the pictures")
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
