"""How much of S2 is Python's cycle collector? (``python benchmarks/collector.py``)

Builds the S2 chain (y = y * 1.0001 + 0, N links) from three kinds of node, with the
collector on and off, and prints the build time per link, the number of full collections
the build triggered, and build + backward per link with the collector on:

- ``Value``: microgd's node (since session 7 one tracked object for a one-input node, its
  parent in a slot; two-input nodes keep a parents tuple);
- ``BareValue``: S2's reference engine, the same two objects without microgd's features;
- ``SlotValue``: a bare engine with ONE object per node, its (up to two) parents held in
  slots instead of a tuple.

Every object that can refer to others is tracked by the collector, and its full
collections walk all of them; they run each time the tracked population grew by a quarter,
so a graph that keeps growing is walked again and again while it is being built. That
cost is per link and grows with N, whichever engine builds the graph; only fewer objects
per node lower it.
"""
from __future__ import annotations

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

from bench import chain_seconds  # noqa: E402
from reference import BareValue  # noqa: E402

import microgd as mg  # noqa: E402


class SlotValue:
    """A bare node with its parents in slots: one tracked object per node, not two."""

    __slots__ = ("data", "grad", "_a", "_la", "_b", "_lb")

    def __init__(self, data: float, a: SlotValue | None = None, la: float = 0.0,
                 b: SlotValue | None = None, lb: float = 0.0) -> None:
        self.data, self.grad, self._a, self._la, self._b, self._lb = data, 0.0, a, la, b, lb

    def __mul__(self, k: float) -> SlotValue:
        return SlotValue(self.data * k, self, k)

    def __add__(self, k: float) -> SlotValue:
        return SlotValue(self.data + k, self, 1.0)

    def backward(self) -> None:
        # BareValue's walk, copied to read the two slots: sharing it through a "parents of"
        # function would add a call per node to what is being measured
        users = {self: 0}
        stack = [self]
        while stack:
            node = stack.pop()
            for p in (node._a, node._b):
                if p is None:
                    break
                if p in users:
                    users[p] += 1
                else:
                    users[p] = 1
                    stack.append(p)
        ready = [(self, 1.0)]
        pending: dict = {}
        while ready:
            node, g = ready.pop()
            node.grad += g
            for p, local in ((node._a, node._la), (node._b, node._lb)):
                if p is None:
                    break
                left = users[p] - 1
                users[p] = left
                if left:
                    pending[p] = pending.get(p, 0.0) + g * local
                else:
                    ready.append((p, pending.pop(p, 0.0) + g * local))


def main() -> None:
    print("| N | node | build, collector on | build, collector off | full collections "
          "| build + backward |")
    print("|---|---|---|---|---|---|")
    for n in (10_000, 100_000, 1_000_000):
        for name, make in (("Value", mg.Value), ("BareValue", BareValue),
                           ("SlotValue", SlotValue)):
            on, full = chain_seconds(make, n, collector=True, backward=False)
            off, _ = chain_seconds(make, n, collector=False, backward=False)
            total, _ = chain_seconds(make, n)
            print(f"| {n:.0e} | {name} | {on / n * 1e6:.2f} us | {off / n * 1e6:.2f} us | "
                  f"{full} | {total / n * 1e6:.2f} us |")


if __name__ == "__main__":
    main()
