"""Moving to PyTorch: tensors and state dicts across, in both directions.

microgd's names, shapes and state-dict keys are PyTorch's, so a model trained here loads
into the ``torch.nn`` model of the same architecture with ``load_state_dict(strict=True)``
and computes the same outputs (``docs/interop.md`` has the recipe). torch is never a
dependency of microgd: it is imported inside these functions only.
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import numpy as np

from .tensor import Tensor

__all__ = ["to_torch", "from_torch"]


def _torch(where: str) -> Any:
    try:
        import torch
    except ImportError:
        raise ImportError(
            f"{where}: PyTorch is not installed; install it with `pip install torch` (microgd "
            "itself never needs it)"
        ) from None
    return torch


def to_torch(obj: Any) -> Any:
    """A ``Tensor`` (or numpy array) as a ``torch.Tensor`` (a copy, with ``requires_grad``
    kept for leaves), or a state dict as an ``OrderedDict`` of them, keys unchanged."""
    torch = _torch("to_torch")
    if isinstance(obj, Mapping):
        return OrderedDict((k, to_torch(v)) for k, v in obj.items())
    if isinstance(obj, Tensor):
        out = torch.from_numpy(np.array(obj.data, copy=True))
        return out.requires_grad_(obj.requires_grad and obj.is_leaf)
    if isinstance(obj, (np.ndarray, np.generic)):
        return torch.from_numpy(np.array(obj, copy=True))
    raise TypeError(f"to_torch: expected a Tensor, a numpy array or a state dict, got "
                    f"{type(obj).__name__}")


def from_torch(obj: Any) -> Any:
    """A ``torch.Tensor`` as a microgd ``Tensor`` (a copy; ``requires_grad`` kept), or a
    torch state dict as an ``OrderedDict`` of numpy arrays, ready for
    ``Module.load_state_dict``."""
    torch = _torch("from_torch")
    if isinstance(obj, Mapping):
        return OrderedDict((k, _array(v)) for k, v in obj.items())
    if isinstance(obj, torch.Tensor):
        return Tensor(_array(obj), requires_grad=bool(obj.requires_grad))
    raise TypeError(f"from_torch: expected a torch.Tensor or a state dict, got "
                    f"{type(obj).__name__}")


def _array(t: Any) -> np.ndarray:
    if not hasattr(t, "detach"):
        raise TypeError(f"from_torch: state dict values must be torch.Tensors, got "
                        f"{type(t).__name__}")
    arr = t.detach().cpu().numpy().copy()
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"from_torch: dtype {arr.dtype} has no microgd equivalent")
    return arr
