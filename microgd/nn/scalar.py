"""Neuron, Layer, MLP on scalar ``Value``s: a network small enough to follow by hand.

Every weight is its own Value (micrograd's shape). A neuron's weighted sum is one node,
``weighted_sum`` (see scalar.py), so the graph shows one box per neuron. For real work
use the Tensor modules in ``microgd.nn``.
"""
from __future__ import annotations

import random
from collections.abc import Sequence
from typing import cast

from ..scalar import Value, weighted_sum


class Neuron:
    """w . x + b, then an optional ReLU."""

    def __init__(self, nin: int, nonlin: bool = True, rng: random.Random | None = None) -> None:
        uniform = rng.uniform if rng is not None else random.uniform
        self.w = [Value(uniform(-1, 1)) for _ in range(nin)]
        self.b = Value(0.0)
        self.nonlin = nonlin

    def __call__(self, x: Sequence[Value | float]) -> Value:
        if len(x) != len(self.w):
            raise ValueError(f"Neuron: expected {len(self.w)} inputs, got {len(x)}")
        act = weighted_sum(self.w, x, self.b)
        return act.relu() if self.nonlin else act

    def parameters(self) -> list[Value]:
        return self.w + [self.b]

    def __repr__(self) -> str:
        return f"{'ReLU' if self.nonlin else 'Linear'}Neuron({len(self.w)})"


class Layer:
    """``nout`` neurons reading the same inputs."""

    def __init__(self, nin: int, nout: int, nonlin: bool = True,
                 rng: random.Random | None = None) -> None:
        self.neurons = [Neuron(nin, nonlin, rng) for _ in range(nout)]

    def __call__(self, x: Sequence[Value | float]) -> Value | list[Value]:
        out = [n(x) for n in self.neurons]
        return out[0] if len(out) == 1 else out

    def parameters(self) -> list[Value]:
        return [p for n in self.neurons for p in n.parameters()]

    def __repr__(self) -> str:
        return f"Layer of [{', '.join(str(n) for n in self.neurons)}]"


class MLP:
    """Layers of neurons; ReLU everywhere except the last layer."""

    def __init__(self, nin: int, nouts: Sequence[int], seed: int | None = None) -> None:
        rng = random.Random(seed) if seed is not None else None
        sizes = [nin] + list(nouts)
        self.layers = [Layer(sizes[i], sizes[i + 1], nonlin=i != len(nouts) - 1, rng=rng)
                       for i in range(len(nouts))]
        for i, layer in enumerate(self.layers):  # names for graph pictures: L0.n1.w2
            for j, neuron in enumerate(layer.neurons):
                for k, w in enumerate(neuron.w):
                    w.label = f"L{i}.n{j}.w{k}"
                neuron.b.label = f"L{i}.n{j}.b"

    def __call__(self, x: Sequence[Value | float]) -> Value | list[Value]:
        h: Sequence[Value | float] = x
        for layer in self.layers:
            y = layer(h)
            h = [y] if isinstance(y, Value) else y
        out = cast("list[Value]", h)  # every layer returns Values
        return out[0] if len(out) == 1 else out

    def parameters(self) -> list[Value]:
        return [p for layer in self.layers for p in layer.parameters()]

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = 0.0

    def __repr__(self) -> str:
        return f"MLP of [{', '.join(str(layer) for layer in self.layers)}]"
