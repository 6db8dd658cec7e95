"""Two-dimensional loss surfaces J(x, y) for watching optimizers move.

Each surface is written with microgd ops, so the same function gives the height (numpy
arrays in), the gradient (Tensors in, then backward) and even the Hessian
(``mg.grad(..., create_graph=True)``).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..tensor import Tensor


@dataclass(frozen=True)
class Surface:
    name: str
    fn: Callable[[Any, Any], Any]        # J(x, y) on Tensors (or arrays)
    start: tuple[float, float]           # where the optimizers set off
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    minimum: tuple[float, float] | None  # a global minimum, when known
    about: str

    def height(self, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
        """J on a grid (for contour plots)."""
        out = self.fn(Tensor(np.asarray(X, np.float64)), Tensor(np.asarray(Y, np.float64)))
        return out.data


def _bowl(x, y):
    return x * x * 0.5 + y * y * 5.0      # an elongated bowl: one steep, one shallow axis


def _rosenbrock(x, y):
    return (1 - x) ** 2 + (y - x * x) ** 2 * 100.0   # a curved, flat-bottomed valley


def _saddle(x, y):
    return x * x * 0.5 - y * y * 0.5 + y ** 4 * 0.25  # a saddle at the origin, minima at y=±1


def _local_minima(x, y):
    # a wide bowl with two Gaussian dips: a shallow one near the start, the deepest far off
    return ((x * x + y * y) * 0.05
            - (-((x - 1.0) ** 2 + (y - 1.0) ** 2) * 2.0).exp() * 1.0
            - (-((x + 1.5) ** 2 + (y + 1.5) ** 2) * 1.0).exp() * 2.0)


SURFACES = {
    "bowl": Surface("bowl", _bowl, (-4.0, 1.5), (-5, 5), (-2, 2), (0.0, 0.0),
                    "an elongated bowl: plain GD zig-zags across the steep axis"),
    "rosenbrock": Surface("rosenbrock", _rosenbrock, (-1.2, 1.0), (-2, 2), (-1, 3), (1.0, 1.0),
                          "Rosenbrock's banana valley: easy to find, slow to follow"),
    "saddle": Surface("saddle", _saddle, (-2.0, 1e-3), (-2.5, 2.5), (-1.6, 1.6), (0.0, 1.0),
                      "a saddle point at the origin: the gradient vanishes but it is no minimum"),
    "local_minima": Surface("local_minima", _local_minima, (2.2, 2.0), (-3.5, 3.5), (-3.5, 3.5),
                            None, "two basins: momentum can carry past the shallow one"),
}
