"""Soak tests (`make soak`, not in the default run): long training stays flat in memory,
and a million-node scalar chain backpropagates."""
import gc
import time

import numpy as np
import pytest

import microgd as mg

pytestmark = pytest.mark.soak


def rss_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def live_tensors() -> int:
    return sum(isinstance(o, mg.Tensor) for o in gc.get_objects())


def test_20000_training_steps_keep_memory_flat():
    mg.manual_seed(0)
    rng = np.random.default_rng(0)
    X = mg.tensor(rng.standard_normal((32, 64)).astype(np.float32))
    y = rng.integers(0, 10, 32)
    model = mg.nn.MLP(64, [32], 10)
    opt = mg.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        opt.zero_grad()
        loss = mg.nn.F.cross_entropy(model(X), y)
        loss.backward()
        opt.step()

    for _ in range(1000):
        step()
    gc.collect()
    rss0, tensors0 = rss_bytes(), live_tensors()
    start = time.perf_counter()
    for _ in range(19_000):
        step()
    gc.collect()
    rss1, tensors1 = rss_bytes(), live_tensors()
    print(f"\n20,000 steps ({time.perf_counter() - start:.1f} s for the last 19,000): RSS "
          f"{rss0 / 2**20:.2f} -> {rss1 / 2**20:.2f} MiB, live Tensors {tensors0} -> {tensors1}")
    assert rss1 - rss0 < 1 << 20
    assert tensors1 <= tensors0


def test_million_node_scalar_chain():
    x = mg.Value(1.0)
    y = x
    for _ in range(500_000):  # two nodes per link: 1,000,000 nodes
        y = y * 1.000001 + 0
    start = time.perf_counter()
    y.backward()
    print(f"\n1,000,000-node chain: backward in {time.perf_counter() - start:.2f} s")
    assert x.grad == pytest.approx(1.000001 ** 500_000, rel=1e-9)
