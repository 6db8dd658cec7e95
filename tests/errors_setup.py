"""The objects docs/errors.md's snippets refer to (shared by the doc test)."""
import os

import numpy as np

import microgd as mg


def without_dot(fn):
    """Run fn with no Graphviz on PATH."""
    old = os.environ.get("PATH", "")
    os.environ["PATH"] = ""
    try:
        return fn()
    finally:
        os.environ["PATH"] = old


def namespace(folder):
    """a (3,4) and b (5,2) constants, x (3,4) and w (4,) needing grad, a Linear(4, 2)
    model, a loss whose graph backward() will free, and three bad checkpoint files."""
    mg.save({"w": np.zeros(1000)}, os.path.join(folder, "good.npz"))
    data = open(os.path.join(folder, "good.npz"), "rb").read()
    with open(os.path.join(folder, "truncated.npz"), "wb") as f:
        f.write(data[: len(data) // 2])
    with open(os.path.join(folder, "corrupt.npz"), "wb") as f:
        f.write(b"not a zip file at all")
    x = mg.tensor(np.ones((3, 4)), requires_grad=True)
    return dict(mg=mg, np=np, a=mg.tensor(np.ones((3, 4))), b=mg.tensor(np.ones((5, 2))),
                x=x, w=mg.tensor(np.ones(4), requires_grad=True), model=mg.nn.Linear(4, 2),
                loss=(x * x).sum(), without_dot=without_dot)
