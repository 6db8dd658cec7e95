"""Activation modules beyond ReLU/Tanh/Sigmoid (layers.py): GELU, LeakyReLU, ELU, SiLU,
Softplus, Softmax, LogSoftmax, and Identity (a placeholder that passes its input on)."""
from __future__ import annotations

from typing import Any

from .. import ops
from ..ops import activation
from ..tensor import Tensor, as_tensor
from .module import Module


def _tensor(x: Any) -> Tensor:
    """Layers take numpy arrays too (a batch straight from a dataset)."""
    return x if isinstance(x, Tensor) else as_tensor(x)


class GELU(Module):
    """x Phi(x); ``approximate="tanh"`` for GPT-2's tanh formula."""

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, input: Any) -> Tensor:
        return activation.gelu(_tensor(input), self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class LeakyReLU(Module):
    """x for x > 0, negative_slope * x below: a ReLU that never quite stops learning."""

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, input: Any) -> Tensor:
        return activation.leaky_relu(_tensor(input), self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class ELU(Module):
    """x for x > 0, alpha (e^x - 1) below: smooth, and saturates at -alpha."""

    def __init__(self, alpha: float = 1.0) -> None:
        super().__init__()
        self.alpha = alpha

    def forward(self, input: Any) -> Tensor:
        return activation.elu(_tensor(input), self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class SiLU(Module):
    """x sigmoid(x)."""

    def forward(self, input: Any) -> Tensor:
        return activation.silu(_tensor(input))


class Softplus(Module):
    """log(1 + e^(beta x)) / beta, a smooth ReLU; x itself where beta x > threshold."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, input: Any) -> Tensor:
        return activation.softplus(_tensor(input), self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class Softmax(Module):
    """exp(x) / sum(exp(x)) along ``axis``: scores to probabilities."""

    def __init__(self, axis: int = -1) -> None:
        super().__init__()
        self.axis = axis

    def forward(self, input: Any) -> Tensor:
        return ops.softmax(_tensor(input), self.axis)

    def extra_repr(self) -> str:
        return f"axis={self.axis}"


class LogSoftmax(Softmax):
    """log(softmax(x)) along ``axis``, computed stably."""

    def forward(self, input: Any) -> Tensor:
        return ops.log_softmax(_tensor(input), self.axis)


class Identity(Module):
    """Returns its input; takes (and ignores) any arguments, as PyTorch's does, so it can
    stand in for a layer that was switched off."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, input: Any) -> Any:
        return input
