"""A tiny transformer's training step, phase by phase, against PyTorch eager.

    python benchmarks/transformer.py [--rounds 8] [--profile]

The model is the shared yardstick's G1 (batch 32, sequence 32, vocab 16, embed 64, 2 heads,
one pre-LN block with a 4x GELU MLP, causal float mask, final LayerNorm, linear head, CE
over all positions, Adam(lr=1e-3), float32), both sides from the same initial weights
(PyTorch's init when torch is importable, microgd's otherwise). The yardstick
(../shared/bench/bench.py --workloads G1) gives the figure that counts; this tool splits a
step into forward, backward and optimizer step, interleaving the two libraries (A B, B A,
...) and reporting the median of per-round medians, so you can see where the time goes.
``--by-layer`` splits microgd's forward and backward by layer (each op's time goes to
the module it ran in); ``--profile`` adds the top functions by own time (cProfile). Both
libraries use as many BLAS threads as ``OPENBLAS_NUM_THREADS`` says (2 when unset, as the
yardstick pins).
"""
from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import sys
import time
from collections import defaultdict

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import microgd as mg  # noqa: E402

B, T, V, D, H, FF = 32, 32, 16, 64, 2, 256


def make_model(nn):
    """The G1 transformer from torch.nn or microgd.nn: same code, same state-dict keys."""

    class TinyTransformer(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok = nn.Embedding(V, D)
            self.ln1 = nn.LayerNorm(D)
            self.attn = nn.MultiheadAttention(D, H, batch_first=True)
            self.ln2 = nn.LayerNorm(D)
            self.mlp = nn.Sequential(nn.Linear(D, FF), nn.GELU(), nn.Linear(FF, D))
            self.ln_f = nn.LayerNorm(D)
            self.head = nn.Linear(D, V)

        def forward(self, idx, mask):
            x = self.tok(idx)
            h = self.ln1(x)
            a, _ = self.attn(h, h, h, need_weights=False, attn_mask=mask)
            x = x + a
            x = x + self.mlp(self.ln2(x))
            return self.head(self.ln_f(x))
    return TinyTransformer()


def problem(seed: int = 12):
    rng = np.random.default_rng(seed)
    tokens = rng.integers(0, V, (B, T + 1)).astype(np.int64)
    mask = np.triu(np.full((T, T), -np.inf, np.float32), k=1)
    return tokens[:, :-1].copy(), tokens[:, 1:].reshape(-1).copy(), mask


def microgd_side(state: dict | None):
    X, y, mask = problem()
    mg.manual_seed(0)
    model = make_model(mg.nn)
    if state is not None:
        model.load_state_dict(state)
    opt = mg.optim.Adam(model.parameters(), lr=1e-3)
    Xt, yt, maskt = mg.tensor(X), mg.tensor(y), mg.tensor(mask)
    box = {}

    def forward():
        opt.zero_grad()
        box["loss"] = mg.nn.F.cross_entropy(model(Xt, maskt).reshape(B * T, V), yt)

    def backward():
        box["loss"].backward()

    return {"forward": forward, "backward": backward, "step": opt.step}, model


def _part(scope) -> str:
    """The layer an op ran in: ``TinyTransformer.attn.out_proj`` -> ``attn``, ``mlp.1``."""
    if scope is None or "." not in scope.name:
        return "(loss, residual adds)"
    path = scope.name.split(".")[1:]
    return ".".join(path[:2] if path[0] == "mlp" else path[:1])


def by_layer(phases: dict, model, steps: int) -> None:
    """Forward time of each layer (module hooks) and backward time of the ops each layer
    recorded (the walk's calls to ``_vjp``), per step."""
    from microgd.tensor import Tensor
    fwd: dict = defaultdict(float)
    bwd: dict = defaultdict(float)
    started: dict = {}
    handles = []
    for name, module in model.named_modules():
        if name and name != "mlp":
            handles.append(module.register_forward_pre_hook(
                lambda m, args, n=name: started.__setitem__(n, time.perf_counter())))
            handles.append(module.register_forward_hook(
                lambda m, args, out, n=name: fwd.__setitem__(
                    n, fwd[n] + time.perf_counter() - started[n])))
    vjp = Tensor._vjp

    def timed_vjp(self, g, create_graph):
        t0 = time.perf_counter()
        out = vjp(self, g, create_graph)
        bwd[_part(self._scope)] += time.perf_counter() - t0
        return out
    Tensor._vjp = timed_vjp
    try:
        total = time_phases(phases, steps)
    finally:
        Tensor._vjp = vjp
        for h in handles:
            h.remove()
    nested = {"attn.out_proj"}  # inside attn's own time already
    fwd = {k: v for k, v in fwd.items() if k not in nested}
    fwd["(loss, residual adds)"] = total["forward"] * steps - sum(fwd.values())
    bwd["(the walk itself)"] = total["backward"] * steps - sum(bwd.values())
    print(f"\nmicrogd by layer, ms per step ({steps} steps)")
    print(f"{'layer':24s}{'forward':>10s}{'backward':>10s}")
    for k in sorted(set(fwd) | set(bwd), key=lambda k: -(fwd.get(k, 0) + bwd.get(k, 0))):
        print(f"{k:24s}{fwd.get(k, 0) / steps * 1e3:10.2f}{bwd.get(k, 0) / steps * 1e3:10.2f}")


def torch_side():
    try:
        import torch
    except ImportError:
        return None, None, None
    torch.set_num_threads(int(os.environ.get("OPENBLAS_NUM_THREADS", "2")))  # like numpy's
    X, y, mask = problem()
    torch.manual_seed(12)
    model = make_model(torch.nn)
    state = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    Xt, yt, maskt = torch.from_numpy(X), torch.from_numpy(y), torch.from_numpy(mask)
    box = {}

    def forward():
        opt.zero_grad()
        box["loss"] = torch.nn.functional.cross_entropy(model(Xt, maskt).reshape(B * T, V), yt)

    def backward():
        box["loss"].backward()

    return {"forward": forward, "backward": backward, "step": opt.step}, box, state


def time_phases(phases: dict, steps: int) -> dict:
    """Seconds per call of each phase over ``steps`` training steps (medians)."""
    spent: dict = {k: [] for k in phases}
    for _ in range(steps):
        for name, fn in phases.items():
            t0 = time.perf_counter()
            fn()
            spent[name].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in spent.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=8, help="interleaved rounds")
    ap.add_argument("--steps", type=int, default=20, help="training steps per round")
    ap.add_argument("--by-layer", action="store_true", help="microgd's time per layer")
    ap.add_argument("--profile", action="store_true", help="cProfile microgd's steps")
    args = ap.parse_args(argv)
    torch_phases, _, state = torch_side()
    mg_phases, mg_model = microgd_side(state)
    sides = {"microgd": mg_phases}
    if torch_phases is not None:
        sides["torch"] = torch_phases
    for phases in sides.values():  # warm up
        time_phases(phases, 5)
    rounds: dict = {k: [] for k in sides}
    names = list(sides)
    for r in range(args.rounds):
        for name in (names if r % 2 == 0 else names[::-1]):
            rounds[name].append(time_phases(sides[name], args.steps))
    print(f"G1 training step, phases in ms (median of {args.rounds} rounds x {args.steps} "
          f"steps; the ratio is paired per round)")
    print(f"{'phase':10s}" + "".join(f"{n:>12s}" for n in names)
          + ("   microgd/torch" if "torch" in sides else ""))
    for phase in ("forward", "backward", "step", "total"):
        row = {}
        for n in names:
            per_round = [sum(p.values()) if phase == "total" else p[phase] for p in rounds[n]]
            row[n] = per_round
        line = f"{phase:10s}" + "".join(f"{statistics.median(row[n]) * 1e3:12.2f}"
                                        for n in names)
        if "torch" in row:
            ratios = [a / b for a, b in zip(row["microgd"], row["torch"])]
            line += f"   {statistics.median(ratios):6.2f} (min {min(ratios):.2f}, max " \
                    f"{max(ratios):.2f})"
        print(line)
    if args.by_layer:
        by_layer(mg_phases, mg_model, 50)
    if args.profile:
        prof = cProfile.Profile()
        phases = sides["microgd"]
        prof.enable()
        time_phases(phases, 50)
        prof.disable()
        text = io.StringIO()
        pstats.Stats(prof, stream=text).sort_stats("tottime").print_stats(25)
        print(text.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())
