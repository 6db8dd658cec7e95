"""microgd against PyTorch, for maintainers who have ``torch`` importable.

    python tests/against_torch.py        # prints one line per check, exits 1 on a mismatch

Not part of the test suite (torch is no dependency of microgd, and the suite's oracles are
finite differences and hand-worked formulas). It checks, in float64, that values and
gradients of the ops and losses, result dtypes for integer inputs, the optimizers'
trajectories, the LR schedules, a Hessian and a whole training loop agree with PyTorch's
to ~1e-10: the API contract says "PyTorch's semantics where PyTorch has the name".
"""
from __future__ import annotations

import math
import os
import sys
from functools import partial

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402

import microgd as mg  # noqa: E402

torch.set_default_dtype(torch.float64)
mg.set_default_dtype(np.float64)
F, TF = mg.nn.F, torch.nn.functional
rng = np.random.default_rng(1)
failures: list[str] = []


def report(name: str, err: float, tol: float = 1e-10) -> None:
    ok = err <= tol
    if not ok:
        failures.append(name)
    print(f"{'ok ' if ok else 'MISMATCH'} {name:48s} max difference {err:.1e}")


def same_op(name: str, ours, theirs, *arrays: np.ndarray) -> None:
    """Values, and gradients for a random upstream gradient."""
    ms = [mg.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    ts = [torch.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    mo, to = ours(*ms), theirs(*ts)
    err = np.abs(mo.data - to.detach().numpy()).max()
    seed = rng.standard_normal(mo.shape)
    mo.backward(seed)
    to.backward(torch.tensor(seed))
    for m, t in zip(ms, ts):
        if t.grad is not None:
            err = max(err, np.abs(m.grad - t.grad.numpy()).max())
    report(name, err)


def ops_and_losses() -> None:
    x, y = rng.standard_normal((5, 4)), rng.standard_normal((5, 4))
    p, b = rng.uniform(0.01, 0.99, (5, 4)), (rng.uniform(size=(5, 4)) > 0.5) * 1.0
    labels = rng.integers(0, 4, 5)
    losses = [  # name, ours, theirs, inputs
        ("mse_loss", F.mse_loss, TF.mse_loss, (x, y)),
        ("l1_loss", F.l1_loss, TF.l1_loss, (x, y)),
        ("huber_loss", partial(F.huber_loss, delta=0.7), partial(TF.huber_loss, delta=0.7),
         (x, y)),
        ("cross_entropy", F.cross_entropy, TF.cross_entropy, (x, labels)),
        ("nll_loss", F.nll_loss, TF.nll_loss, (x, labels)),
        ("binary_cross_entropy", F.binary_cross_entropy, TF.binary_cross_entropy, (p, b)),
        ("binary_cross_entropy_with_logits", F.binary_cross_entropy_with_logits,
         TF.binary_cross_entropy_with_logits, (x * 10, b)),
    ]
    for red in ("mean", "sum", "none"):
        for name, ours, theirs, inputs in losses:
            same_op(f"{name} {red}", partial(ours, reduction=red), partial(theirs, reduction=red),
                    *inputs)
    same_op("softmax axis 0", lambda a: F.softmax(a, axis=0), lambda a: TF.softmax(a, dim=0), x)
    same_op("log_softmax, logits * 100", lambda a: F.log_softmax(a),
            lambda a: TF.log_softmax(a, dim=-1), x * 100)
    same_op("logsumexp over (0, 1)", lambda a: a.logsumexp(axis=(0, 1)),
            lambda a: torch.logsumexp(a, dim=(0, 1)), x)
    same_op("var ddof=1", lambda a: a.var(axis=1, ddof=1), lambda a: a.var(dim=1), x)
    same_op("max with ties", lambda a: a.max(), lambda a: a.amax(), np.array([1.0, 3.0, 3.0]))
    same_op("maximum with ties", mg.maximum, torch.maximum, np.array([1.0, 2.0, 3.0]),
            np.array([1.0, 1.0, 4.0]))
    same_op("minimum with ties", mg.minimum, torch.minimum, np.array([1.0, 2.0, 3.0]),
            np.array([1.0, 1.0, 4.0]))
    same_op("clip at its bounds", lambda a: a.clip(-1.0, 1.0), lambda a: a.clamp(-1.0, 1.0),
            np.array([-1.0, -2.0, 0.5, 1.0, 3.0]))
    same_op("abs and relu at 0", lambda a: a.abs() + a.relu(), lambda a: a.abs() + a.relu(),
            np.array([0.0, -1.0, 2.0]))
    same_op("matmul batched @ 2-D", lambda a, c: a @ c, lambda a, c: a @ c,
            rng.standard_normal((2, 3, 4)), rng.standard_normal((4, 5)))
    same_op("matmul 1-D @ 2-D", lambda a, c: a @ c, lambda a, c: a @ c,
            rng.standard_normal(4), rng.standard_normal((4, 5)))
    same_op("indexing with repeated indices", lambda a: a[np.array([0, 0, 2])],
            lambda a: a[torch.tensor([0, 0, 2])], x)
    same_op("stack and concatenate",
            lambda a, c: mg.concatenate([mg.stack([a, c], 1), a[:, None]], 1),
            lambda a, c: torch.cat([torch.stack([a, c], 1), a[:, None]], 1), x, y)
    same_op("linear", F.linear, TF.linear, x, rng.standard_normal((3, 4)), rng.standard_normal(3))
    same_op("sigmoid + tanh at +-50", lambda a: a.sigmoid() + a.tanh(),
            lambda a: a.sigmoid() + a.tanh(), x * 50)


def integer_inputs() -> None:
    """Integers entering an op with a fractional result: the default float dtype (float32
    here, so that numpy's float64 would show)."""
    torch.set_default_dtype(torch.float32)
    mg.set_default_dtype(np.float32)
    ours, theirs = mg.tensor([1, 2, 4]), torch.tensor([1, 2, 4])
    for name, f in [("i / 2", lambda i: i / 2), ("i / i", lambda i: i / i),
                    ("2 / i", lambda i: 2 / i), ("i * 2.5", lambda i: i * 2.5),
                    ("exp", lambda i: i.exp()), ("sqrt", lambda i: i.sqrt()),
                    ("tanh", lambda i: i.tanh()), ("sigmoid", lambda i: i.sigmoid()),
                    ("i * 2", lambda i: i * 2), ("-i", lambda i: -i), ("sum", lambda i: i.sum())]:
        m, t = f(ours), f(theirs)
        same = str(m.dtype) == str(t.dtype).replace("torch.", "")
        report(f"dtype of {name} on int64 ({m.dtype})", 0.0 if same else math.inf)
        report(f"value of {name} on int64", np.abs(m.data - t.numpy()).max(), tol=1e-6)
    torch.set_default_dtype(torch.float64)
    mg.set_default_dtype(np.float64)


def optimizers() -> None:
    configs = [
        ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.3)),
        ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
        ("RMSprop", dict(lr=0.01, momentum=0.9, centered=True, weight_decay=0.1)),
        ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.5)),
        ("Adam", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
        ("AdamW", dict(lr=0.01, weight_decay=0.5, amsgrad=True)),
    ]
    for name, kw in configs:
        p0 = rng.standard_normal((3, 4))
        tp, mp = torch.tensor(p0, requires_grad=True), mg.nn.Parameter(p0.copy())
        topt, mopt = getattr(torch.optim, name)([tp], **kw), getattr(mg.optim, name)([mp], **kw)
        for _ in range(25):
            g = rng.standard_normal((3, 4))
            tp.grad, mp.grad = torch.tensor(g), g.copy()
            topt.step()
            mopt.step()
        report(f"{name} {kw}", np.abs(tp.detach().numpy() - mp.data).max())
    for name, kw in [("ExponentialLR", dict(gamma=0.9)), ("StepLR", dict(step_size=3, gamma=0.5)),
                     ("CosineAnnealingLR", dict(T_max=7, eta_min=0.01)),
                     ("ConstantLR", dict(factor=0.25, total_iters=3)),
                     ("LambdaLR", dict(lr_lambda=lambda e: 1 / (e + 1)))]:
        topt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.5)
        mopt = mg.optim.SGD([mg.nn.Parameter(np.zeros(1))], lr=0.5)
        ts = getattr(torch.optim.lr_scheduler, name)(topt, **kw)
        ms = getattr(mg.optim.lr_scheduler, name)(mopt, **kw)
        err = 0.0
        for _ in range(20):
            topt.step()
            mopt.step()
            ts.step()
            ms.step()
            err = max(err, abs(ts.get_last_lr()[0] - ms.get_last_lr()[0]))
        report(f"lr_scheduler.{name}", err)


def hessian_and_training() -> None:
    w0 = rng.standard_normal(5)
    w = mg.tensor(w0, requires_grad=True)
    (g,) = mg.grad((w.tanh() * w).sum() + (w ** 2).softmax(axis=0).log().sum() * 0.3, [w],
                   create_graph=True)
    ours = np.stack([mg.grad(g[i], [w], retain_graph=True)[0].data for i in range(5)])
    theirs = torch.autograd.functional.hessian(
        lambda v: (v.tanh() * v).sum() + (v ** 2).softmax(dim=0).log().sum() * 0.3,
        torch.tensor(w0)).numpy()
    report("Hessian through tanh, softmax, log", np.abs(ours - theirs).max())

    X, y = rng.standard_normal((64, 8)), rng.integers(0, 3, 64)
    mg.manual_seed(0)
    model = mg.nn.MLP(8, [16, 16], 3, activation="tanh")
    reference = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(),
                                    torch.nn.Linear(16, 16), torch.nn.Tanh(),
                                    torch.nn.Linear(16, 3))
    with torch.no_grad():
        for p, tp in zip(model.parameters(), reference.parameters()):
            tp.copy_(torch.tensor(p.data))
    opt = mg.optim.AdamW(model.parameters(), lr=0.01, amsgrad=True)
    topt = torch.optim.AdamW(reference.parameters(), lr=0.01, amsgrad=True)
    sched = mg.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=5)
    tsched = torch.optim.lr_scheduler.CosineAnnealingLR(topt, T_max=5)
    loader = mg.data.DataLoader(mg.data.TensorDataset(X, y), batch_size=16, shuffle=True, seed=3)
    for _ in range(5):
        for xb, yb in loader:
            opt.zero_grad()
            F.cross_entropy(model(xb), yb).backward()
            mg.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            topt.zero_grad()
            TF.cross_entropy(reference(torch.tensor(xb.data)), torch.tensor(yb.data)).backward()
            torch.nn.utils.clip_grad_norm_(reference.parameters(), 1.0)
            topt.step()
        sched.step()
        tsched.step()
    report("MLP, AdamW, cosine LR, clipping: 20 steps",
           max(np.abs(p.data - tp.detach().numpy()).max()
               for p, tp in zip(model.parameters(), reference.parameters())))


if __name__ == "__main__":
    ops_and_losses()
    integer_inputs()
    optimizers()
    hessian_and_training()
    print(f"\n{len(failures)} mismatches" + (": " + ", ".join(failures) if failures else ""))
    sys.exit(1 if failures else 0)
