"""Activations and losses as functions (``mg.nn.F``), all built from the ops in ``ops/``.

A loss J(θ) is the number gradient descent pushes down. Each one here has
``reduction="mean" | "sum" | "none"``: the average over examples (the usual cost
function), the total, or one loss per example.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import ops
from ..ops import ShapeError, lift
from ..ops.core import pair
from ..state import generator, get_default_dtype
from ..tensor import Tensor, as_tensor

_REDUCTIONS = ("mean", "sum", "none")


# ------------------------------------------------------------------ activations
def relu(x: Any) -> Tensor:
    return ops.Relu.apply(x if isinstance(x, Tensor) else as_tensor(x))


def tanh(x: Any) -> Tensor:
    return ops.tanh(_tensor(x))


def sigmoid(x: Any) -> Tensor:
    return ops.sigmoid(_tensor(x))


def softmax(x: Any, axis: int = -1) -> Tensor:
    return ops.softmax(_tensor(x), axis)


def log_softmax(x: Any, axis: int = -1) -> Tensor:
    return ops.log_softmax(_tensor(x), axis)


def linear(input: Any, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = x W^T + b, with W of shape (out_features, in_features) as in PyTorch."""
    x = _tensor(input)
    xs, ws = x.data.shape, weight.data.shape
    if len(ws) != 2 or not xs or xs[-1] != ws[1]:
        if len(ws) != 2:
            raise ShapeError(f"linear: weight must be 2-D (out_features, in_features), got "
                             f"shape {ws}")
        raise ShapeError(
            f"linear: input of shape {xs} has {xs[-1] if xs else 0} features in its last "
            f"dimension but the weight {ws} expects {ws[1]}"
        )
    if bias is None:
        return ops.Linear.apply(x, weight)
    b = bias if isinstance(bias, Tensor) else lift(bias, x, "linear")
    if b.data.shape != ws[:1]:
        raise ShapeError(f"linear: bias of shape {b.data.shape} does not match the weight "
                         f"{ws}: expected shape ({ws[0]},)")
    return ops.Linear.apply(x, weight, b)


def dropout(x: Any, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero each entry with probability p and scale the rest by 1/(1-p), so the expected
    value is unchanged; the identity when not training."""
    x = _tensor(x)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must be between 0 and 1, got {p}")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    keep = generator().random(x.shape) >= p
    return x * (keep.astype(x.dtype) / (1.0 - p)).astype(x.dtype, copy=False)


# ------------------------------------------------------------------ sequence models (ops/)
def embedding(input: Any, weight: Tensor, padding_idx: int | None = None) -> Tensor:
    """Rows of ``weight`` (num_embeddings, embedding_dim) for the integer ids in ``input``."""
    return ops.embedding(input, weight, padding_idx)


def layer_norm(input: Any, normalized_shape: Any, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    return ops.layer_norm(_tensor(input), normalized_shape, weight, bias, eps)


scaled_dot_product_attention = ops.scaled_dot_product_attention


# ------------------------------------------------------------------ images (ops/conv.py, ...)
# The ops themselves: each checks its own arguments and names itself in its errors.
conv1d = ops.conv.conv1d
conv2d = ops.conv.conv2d
max_pool1d = ops.pool.max_pool1d
max_pool2d = ops.pool.max_pool2d
avg_pool1d = ops.pool.avg_pool1d
avg_pool2d = ops.pool.avg_pool2d
adaptive_avg_pool2d = ops.pool.adaptive_avg_pool2d
batch_norm = ops.norm.batch_norm
pad = ops.padding.pad
gelu = ops.activation.gelu
leaky_relu = ops.activation.leaky_relu
elu = ops.activation.elu
silu = ops.activation.silu
softplus = ops.activation.softplus  # with beta and threshold (mg.softplus is the plain one)


# ------------------------------------------------------------------ helpers
def _tensor(x: Any) -> Tensor:
    """Layers and losses take numpy arrays too (a batch straight from a dataset)."""
    return x if isinstance(x, Tensor) else as_tensor(x)


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _check(where: str, reduction: str, input: Any, target: Any) -> tuple[Tensor, Tensor]:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{where}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    x = _tensor(input)
    t = lift(target, x, where)
    if x.shape != t.shape:
        raise ShapeError(f"{where}: input shape {x.shape} and target shape {t.shape} differ "
                         "(they must match; broadcasting here usually hides a bug)")
    return x, t


def _class_targets(where: str, reduction: str, x: Tensor, target: Any) -> np.ndarray:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{where}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    t = np.asarray(target.data if isinstance(target, Tensor) else target)
    if t.dtype.kind not in "iu":
        raise TypeError(f"{where}: target must hold integer class labels, got dtype {t.dtype}")
    if x.ndim not in (1, 2):
        raise ShapeError(f"{where}: input must be (N, C) or (C,), got shape {x.shape}")
    expected = x.shape[:-1]
    if t.shape != expected:
        raise ShapeError(f"{where}: input of shape {x.shape} needs a target of shape "
                         f"{expected}, got {t.shape}")
    classes = x.shape[-1]
    # one pass: as unsigned, negative labels wrap around to huge values
    wrapped = t.view(np.uint64) if t.dtype == np.int64 else t.astype(np.uint64)
    if t.size and np.count_nonzero(wrapped >= classes):
        bad = t[(t < 0) | (t >= classes)]
        raise ValueError(f"{where}: target contains label {int(bad.flat[0])} but there are "
                         f"{classes} classes (valid labels are 0..{classes - 1})")
    return t


# ------------------------------------------------------------------ regression losses
def mse_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Mean squared error (x - y)^2: the classic least-squares cost."""
    x, t = _check("mse_loss", reduction, input, target)
    d = x - t
    return _reduce(d * d, reduction)


def l1_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:
    """|x - y|: less swayed by outliers than the squared error."""
    x, t = _check("l1_loss", reduction, input, target)
    return _reduce((x - t).abs(), reduction)


def huber_loss(input: Any, target: Any, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """Squared error for small residuals, linear beyond ``delta`` (robust to outliers)."""
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    x, t = _check("huber_loss", reduction, input, target)
    d = x - t
    a = d.abs()
    loss = ops.where(a.data < delta, d * d * 0.5, (a - 0.5 * delta) * delta)
    return _reduce(loss, reduction)


# ------------------------------------------------------------------ classification losses
def nll_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of the true class, given log-probabilities (N, C)."""
    x = _tensor(input)
    t = _class_targets("nll_loss", reduction, x, target)
    picked = x[np.arange(len(t)), t] if x.ndim == 2 else x[int(t)]
    return _reduce(-picked, reduction)


def cross_entropy(input: Any, target: Any, reduction: str = "mean") -> Tensor:
    """-log softmax(logits)[true class], computed through a stable log-softmax so that
    logits of +-1e4 give finite losses and gradients (softmax - onehot)."""
    x = _tensor(input)
    t = _class_targets("cross_entropy", reduction, x, target)
    if reduction == "mean" and x.ndim == 2 and len(t) == 0:
        raise ValueError(f"cross_entropy: the batch is empty (input shape {x.shape}), and the "
                         "mean over no examples is undefined; use reduction='sum' (0 for an "
                         "empty batch) or skip the step")
    return ops.CrossEntropy.apply(x, target=t, reduction=reduction)


def binary_cross_entropy(input: Any, target: Any, reduction: str = "mean") -> Tensor:
    """-(y log p + (1 - y) log(1 - p)) for probabilities p in [0, 1]. Each log is clamped
    at -100 as in PyTorch, and so is the gradient's denominator p (1 - p) at 1e-12: a
    confident wrong answer (p = 0, y = 1) gets a huge gradient, never a zero one."""
    x, t = _check("binary_cross_entropy", reduction, input, target)
    if x.size and (x.data.min() < 0 or x.data.max() > 1):
        raise ValueError("binary_cross_entropy: input must be probabilities in [0, 1] (got "
                         f"values in [{x.data.min():.4g}, {x.data.max():.4g}]); use "
                         "binary_cross_entropy_with_logits for raw scores")
    return _reduce(ops.BinaryCrossEntropy.apply(*pair(x, t)), reduction)


def binary_cross_entropy_with_logits(input: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Binary cross-entropy of sigmoid(x), as softplus(x) - x y: overflow-free, and smooth
    at x = 0, so its gradient is exactly sigmoid(x) - y everywhere (PyTorch's)."""
    x, t = _check("binary_cross_entropy_with_logits", reduction, input, target)
    return _reduce(x.softplus() - x * t, reduction)


def one_hot(labels: Any, num_classes: int) -> Tensor:
    """Integer labels as rows of 0/1 (in the default float dtype)."""
    t = np.asarray(labels.data if isinstance(labels, Tensor) else labels)
    if t.dtype.kind not in "iu" or (t.size and (t.min() < 0 or t.max() >= num_classes)):
        raise ValueError(f"one_hot: labels must be integers in 0..{num_classes - 1}")
    return as_tensor(np.eye(num_classes, dtype=get_default_dtype())[t])
