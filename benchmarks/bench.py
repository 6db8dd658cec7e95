"""microgd speed and memory against a hand-written numpy reference (``make bench``).

Each MLP workload times one training step (forward, backward, optimizer update) of
microgd and of ``reference.NumpyMLP`` in interleaved rounds (A B A B ...) after a warm-up,
and reports min / median / max per step and the ratio of the medians. A PyTorch column is
added when ``torch`` happens to be importable.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

from reference import BareValue, NumpyMLP  # noqa: E402

import microgd as mg  # noqa: E402

MLPS = {  # name: (sizes, batch, optimizer)
    "T1": ([64, 32, 10], 32, "sgd"),
    "T2": ([784, 256, 256, 10], 128, "sgd"),
    "T3": ([1024, 2048, 2048, 10], 512, "sgd"),
    "T4": ([784, 256, 256, 10], 128, "adam"),
}
TARGETS = {"T1": 1.5, "T2": 1.08, "T3": 1.03, "T4": 1.10}
ISOLATED = {"T3"}  # measured with each side in its own process (see time_isolated)
SET_TO_NONE = [True]  # --keep-grads: zero_grad(set_to_none=False), gradients reused in place


# --------------------------------------------------------------------------- MLP workloads
def make_problem(sizes: list[int], batch: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    y = rng.integers(0, sizes[-1], batch)
    mg.manual_seed(seed)
    model = mg.nn.MLP(sizes[0], sizes[1:-1], sizes[-1])
    linears = [m for m in model.layers if isinstance(m, mg.nn.Linear)]
    ref = NumpyMLP([m.weight.data for m in linears], [m.bias.data for m in linears])
    return X, y, model, ref


def microgd_stepper(model, X, y, kind: str):
    opt = (mg.optim.SGD(model.parameters(), lr=0.1) if kind == "sgd"
           else mg.optim.Adam(model.parameters(), lr=1e-3))
    F = mg.nn.F
    Xt = mg.tensor(X)

    def step():
        opt.zero_grad(set_to_none=SET_TO_NONE[0])
        loss = F.cross_entropy(model(Xt), y)
        loss.backward()
        opt.step()
    return step


def torch_stepper(sizes, X, y, kind, model):
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(os.cpu_count() or 1)
    layers = []
    linears = [m for m in model.layers if isinstance(m, mg.nn.Linear)]
    for i, lin in enumerate(linears):
        t = torch.nn.Linear(lin.in_features, lin.out_features)
        with torch.no_grad():
            t.weight.copy_(torch.from_numpy(lin.weight.data))
            t.bias.copy_(torch.from_numpy(lin.bias.data))
        layers.append(t)
        if i < len(linears) - 1:
            layers.append(torch.nn.ReLU())
    net = torch.nn.Sequential(*layers)
    opt = (torch.optim.SGD(net.parameters(), lr=0.1) if kind == "sgd"
           else torch.optim.Adam(net.parameters(), lr=1e-3))
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)

    def step():
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(Xt), yt).backward()
        opt.step()
    return step


def check_gradients_once(model, ref, X, y) -> float:
    """The reference's manual backward must agree with microgd's gradients."""
    model.zero_grad()
    loss = mg.nn.F.cross_entropy(model(mg.tensor(X)), y)
    loss.backward()
    ref_loss, dW, db = ref.loss_and_grads(X, y)
    linears = [m for m in model.layers if isinstance(m, mg.nn.Linear)]
    worst = abs(loss.item() - ref_loss)
    for lin, gw, gb in zip(linears, dW, db):
        worst = max(worst, float(np.abs(lin.weight.grad - gw).max()),
                    float(np.abs(lin.bias.grad - gb).max()))
    model.zero_grad()
    return worst


def time_interleaved(steppers: dict, rounds: int, steps: int, warmup: int) -> dict:
    for fn in steppers.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {k: [] for k in steppers}
    names = list(steppers)
    for r in range(rounds):
        # A B, B A, A B ...: slow drift and "who runs first" hit both alike
        for name in (names if r % 2 == 0 else names[::-1]):
            fn = steppers[name]
            t0 = time.perf_counter()
            for _ in range(steps):
                fn()
            times[name].append((time.perf_counter() - t0) / steps)
    return times


def worker(name: str, side: str, steps: int, warmup: int) -> None:
    """One side of an isolated measurement: build, warm up, time ``steps`` steps, print
    the per-step seconds as JSON."""
    sizes, batch, kind = MLPS[name]
    X, y, model, ref = make_problem(sizes, batch)
    if side == "microgd":
        fn = microgd_stepper(model, X, y, kind)
    elif side == "numpy":
        fn = (lambda: ref.sgd_step(X, y, 0.1)) if kind == "sgd" else (lambda: ref.adam_step(X, y))
    else:
        fn = torch_stepper(sizes, X, y, kind, model)
    for _ in range(warmup):
        fn()
    print(json.dumps(seconds_per_call(fn, steps)))


def seconds_per_call(fn, calls: int) -> list[float]:
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def time_isolated(name: str, sides: list[str], rounds: int, steps: int) -> dict:
    """Each side in its own fresh process, processes alternating A B, B A, ...

    For big arrays the C allocator's state decides whether a step's buffers come back from
    the heap or as fresh pages from the OS (thousands of page faults per step), and in one
    process that state depends on what ran *before*: whichever side runs second profits
    from the first one's heap. Separate processes give each side the heap it would have in
    a real training run.
    """
    times: dict[str, list[float]] = {k: [] for k in sides}
    for r in range(rounds):
        for side in (sides if r % 2 == 0 else sides[::-1]):
            cmd = [sys.executable, os.path.abspath(__file__), "--worker", name, side,
                   str(steps)] + (["--keep-grads"] if not SET_TO_NONE[0] else [])
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
            times[side].append(statistics.median(json.loads(out.strip().splitlines()[-1])))
    return times


def run_mlp(name: str, rounds: int, quick: bool) -> dict:
    sizes, batch, kind = MLPS[name]
    X, y, model, ref = make_problem(sizes, batch)
    err = check_gradients_once(model, ref, X, y)
    steppers = {"microgd": microgd_stepper(model, X, y, kind)}
    steppers["numpy"] = ((lambda: ref.sgd_step(X, y, 0.1)) if kind == "sgd"
                         else (lambda: ref.adam_step(X, y)))
    torch_step = torch_stepper(sizes, X, y, kind, model)
    if torch_step is not None:
        steppers["torch"] = torch_step
    per_step_guess = {"T1": 5e-5, "T2": 1.5e-3, "T3": 0.09, "T4": 2e-3}[name]
    steps = max(2, int((0.02 if quick else 0.2) / per_step_guess))
    if name in ISOLATED:
        times = time_isolated(name, list(steppers), rounds * 2, steps=3 if quick else 6)
    else:
        times = time_interleaved(steppers, rounds, steps, warmup=max(2, steps))
    out = {"workload": name, "grad_check_max_abs_diff": err}
    for k, ts in times.items():
        out[k] = {"min": min(ts), "median": statistics.median(ts), "max": max(ts)}
    out["ratio"] = out["microgd"]["median"] / out["numpy"]["median"]
    if "torch" in out:
        out["torch_ratio"] = out["torch"]["median"] / out["numpy"]["median"]
    out["target"] = TARGETS[name]
    return out


# --------------------------------------------------------------------------- scalar workloads
def run_s1(rounds: int) -> dict:
    from microgd.nn.scalar import MLP
    X, y = mg.datasets.moons(100, noise=0.1, seed=1)
    rows = [[float(a), float(b)] for a, b in X]
    labels = [2.0 * float(v) - 1.0 for v in y]
    model = MLP(2, [16, 16, 1], seed=1)
    params = model.parameters()

    def step():
        scores = [model(r) for r in rows]
        losses = [(1 + -yi * si).relu() for yi, si in zip(labels, scores)]
        loss = sum(losses) * (1.0 / len(losses)) + 1e-4 * sum(p * p for p in params)
        model.zero_grad()
        loss.backward()
        for p in params:
            p.data -= 0.05 * p.grad

    step()
    ts = seconds_per_call(step, rounds)
    return {"workload": "S1", "microgd": {"min": min(ts), "median": statistics.median(ts),
                                          "max": max(ts)}, "target_ms": 60}


def chain_seconds(make, n: int, collector: bool = True, backward: bool = True
                  ) -> tuple[float, int]:
    """Build y = y * 1.0001 + 0 n times from ``make(1.0)`` and backpropagate (checking
    x.grad) unless told not to; the seconds taken, and how many full collections of
    Python's cycle collector ran meanwhile."""
    gc.collect()
    full_before = gc.get_stats()[2]["collections"]
    if not collector:
        gc.disable()
    try:
        t0 = time.perf_counter()
        x = make(1.0)
        y = x
        for _ in range(n):
            y = y * 1.0001 + 0
        if backward:
            y.backward()
        elapsed = time.perf_counter() - t0
    finally:
        gc.enable()
    if backward:
        assert abs(x.grad - 1.0001 ** n) <= 1e-6 * 1.0001 ** n
    return elapsed, gc.get_stats()[2]["collections"] - full_before


def run_s2(sizes: list[int]) -> dict:
    """Per link, microgd against ``reference.BareValue`` (the least an object graph can
    do), alternating; and microgd once more with Python's cycle collector off, which shows
    how much of the time is the collector walking the live graph while it grows."""
    out = {"workload": "S2", "per_link_us": {}, "bare_us": {}, "no_collector_us": {}}
    for n in sizes:
        repeats = max(1, min(21, 20_000 // n))
        ours, bare, off = [], [], []
        for i in range(repeats):
            pair = [(ours, mg.Value), (bare, BareValue)]
            for times, make in (pair if i % 2 == 0 else pair[::-1]):
                times.append(chain_seconds(make, n)[0])
            off.append(chain_seconds(mg.Value, n, collector=False)[0])
        for key, times in (("per_link_us", ours), ("bare_us", bare), ("no_collector_us", off)):
            out[key][str(n)] = statistics.median(times) / n * 1e6
    out["target_us"] = 2.5   # issue 18: <= 2.5 us per link and <= 1.2x the bare engine
    out["target_ratio"] = 1.2
    return out


# --------------------------------------------------------------------------- memory
MEM_SCRIPT = """
import gc, json, sys
sys.path.insert(0, {here!r}); sys.path.insert(0, {root!r})
import bench, microgd as mg
def rss():
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) * 1024
X, y, model, ref = bench.make_problem([784, 256, 256, 10], 128)
step = bench.microgd_stepper(model, X, y, 'sgd')
live = lambda: sum(isinstance(o, mg.Tensor) for o in gc.get_objects())
for _ in range(100):
    step()
gc.collect(); start, tensors0 = rss(), live()
for _ in range({steps} - 100):
    step()
gc.collect(); end, tensors1 = rss(), live()
print(json.dumps(dict(rss_after_warmup=start, rss_end=end, growth=end - start,
                      live_tensors_after_warmup=tensors0, live_tensors_end=tensors1)))
"""


def run_mem(steps: int = 2000) -> dict:
    code = MEM_SCRIPT.format(here=HERE, root=os.path.dirname(HERE), steps=steps)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    out = json.loads(r.stdout.strip().splitlines()[-1])
    out.update(workload="MEM", steps=steps, target_bytes=1 << 20)
    return out


# --------------------------------------------------------------------------- report
def report(results: list[dict]) -> str:
    lines = ["| workload | microgd median | numpy median | ratio | target | torch ratio | "
             "microgd min / max |", "|---|---|---|---|---|---|---|"]
    for r in results:
        w = r["workload"]
        if w in MLPS:
            m, n = r["microgd"], r["numpy"]
            tr = f"{r['torch_ratio']:.2f}x" if "torch_ratio" in r else "n/a"
            ok = "ok" if r["ratio"] <= r["target"] else "MISSED"
            lines.append(f"| {w} | {m['median'] * 1e3:.3f} ms | {n['median'] * 1e3:.3f} ms | "
                         f"{r['ratio']:.3f}x | <= {r['target']}x ({ok}) | {tr} | "
                         f"{m['min'] * 1e3:.3f} / {m['max'] * 1e3:.3f} ms |")
        elif w == "S1":
            m = r["microgd"]
            ok = "ok" if m["median"] * 1e3 <= r["target_ms"] else "MISSED"
            lines.append(f"| S1 | {m['median'] * 1e3:.1f} ms | | | <= 60 ms ({ok}) | | "
                         f"{m['min'] * 1e3:.1f} / {m['max'] * 1e3:.1f} ms |")
        elif w == "S2":
            for k, v in r["per_link_us"].items():
                ratio = v / r["bare_us"][k]
                ok = "ok" if v <= r["target_us"] and ratio <= r["target_ratio"] else "MISSED"
                lines.append(
                    f"| S2 N={int(k):.0e} | {v:.2f} us/link | bare engine "
                    f"{r['bare_us'][k]:.2f} us | {ratio:.2f}x | <= {r['target_us']} us/link "
                    f"and <= {r['target_ratio']}x ({ok}) | | collector off: "
                    f"{r['no_collector_us'][k]:.2f} us |")
        elif w == "MEM":
            ok = "ok" if r["growth"] < r["target_bytes"] else "MISSED"
            lines.append(f"| MEM | RSS {r['rss_after_warmup'] / 2**20:.1f} -> "
                         f"{r['rss_end'] / 2**20:.1f} MiB over {r['steps']} steps | "
                         f"growth {r['growth'] / 2**10:.0f} KiB | | < 1 MiB ({ok}) | | live "
                         f"Tensors {r['live_tensors_after_warmup']} -> "
                         f"{r['live_tensors_end']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--worker"]:
        SET_TO_NONE[0] = "--keep-grads" not in argv
        worker(argv[1], argv[2], int(argv[3]), warmup=2)
        return 0
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workloads", default="S1,S2,T1,T2,T3,T4,MEM")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--quick", action="store_true", help="fewer steps per round")
    ap.add_argument("--json", help="also write the raw results here")
    ap.add_argument("--keep-grads", action="store_true",
                    help="microgd steps call zero_grad(set_to_none=False): gradient arrays "
                         "are reused instead of freed and reallocated every step")
    args = ap.parse_args(argv)
    SET_TO_NONE[0] = not args.keep_grads
    results = []
    for w in args.workloads.split(","):
        w = w.strip()
        print(f"running {w} ...", file=sys.stderr, flush=True)
        if w in MLPS:
            results.append(run_mlp(w, args.rounds, args.quick))
        elif w == "S1":
            results.append(run_s1(args.rounds))
        elif w == "S2":
            results.append(run_s2([1000, 10_000] if args.quick
                                  else [1000, 10_000, 100_000, 1_000_000]))
        elif w == "MEM":
            results.append(run_mem(300 if args.quick else 2000))
        else:
            raise SystemExit(f"unknown workload {w!r}")
    print(report(results))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
