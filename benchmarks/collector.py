"""How much of S2 is Python's cycle collector? (``python benchmarks/collector.py``)

Builds the S2 chain (y = y * 1.0001 + 0, N links) from three kinds of node, with the
collector on and off, and prints the build time per link and the number of full
collections the build triggered:

- ``Value``: microgd's node (a Value and its parents tuple: two tracked objects per node);
- ``BareValue``: S2's reference engine, the same two objects without microgd's features;
- ``Link``: one object per node holding its parent directly, the least any graph of
  Python objects can allocate (it can only describe chains: no tuple, so no DAG).

Every object that can refer to others is tracked by the collector, and its full
collections walk all of them; they run each time the tracked population grew by a quarter,
so a graph that keeps growing is walked again and again while it is being built. That
cost is per link and grows with N, whichever engine builds the graph.
"""
from __future__ import annotations

import gc
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

from reference import BareValue  # noqa: E402

import microgd as mg  # noqa: E402


class Link:
    __slots__ = ("data", "grad", "_parent", "_local")

    def __init__(self, data: float, parent: Link | None = None, local: float = 0.0) -> None:
        self.data, self.grad, self._parent, self._local = data, 0.0, parent, local

    def __mul__(self, k: float) -> Link:
        return Link(self.data * k, self, k)

    def __add__(self, k: float) -> Link:
        return Link(self.data + k, self, 1.0)


def build_us_per_link(make, n: int, collector: bool) -> tuple[float, int]:
    gc.collect()
    full_before = gc.get_stats()[2]["collections"]
    if not collector:
        gc.disable()
    t0 = time.perf_counter()
    y = make(1.0)
    for _ in range(n):
        y = y * 1.0001 + 0
    elapsed = time.perf_counter() - t0
    gc.enable()
    full = gc.get_stats()[2]["collections"] - full_before
    del y
    return elapsed / n * 1e6, full


def main() -> None:
    print("| N | node | build, collector on | build, collector off | full collections |")
    print("|---|---|---|---|---|")
    for n in (10_000, 100_000, 1_000_000):
        for name, make in (("Value", mg.Value), ("BareValue", BareValue), ("Link", Link)):
            on, full = build_us_per_link(make, n, True)
            off, _ = build_us_per_link(make, n, False)
            print(f"| {n:.0e} | {name} | {on:.2f} us | {off:.2f} us | {full} |")


if __name__ == "__main__":
    main()
