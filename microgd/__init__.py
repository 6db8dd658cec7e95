"""microgd: gradient descent, made visible.

Public names only; the logic lives in the modules named below.
"""
from . import data, datasets, nn, optim, viz
from .anomaly import AnomalyError, detect_anomaly, is_anomaly_enabled, set_detect_anomaly
from .autograd import enable_grad, grad, is_grad_enabled, no_grad
from .gradcheck import GradcheckError, gradcheck
from .gradcheck import GradcheckError as gradcheck_error
from .io import load, save
from .ops import (
    ShapeError,
    abs,
    broadcast_to,
    clip,
    concatenate,
    exp,
    log,
    log_softmax,
    logsumexp,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    relu,
    reshape,
    sigmoid,
    softmax,
    sqrt,
    stack,
    sum,
    tanh,
    transpose,
    var,
    where,
)
from .random import manual_seed
from .scalar import Value
from .tensor import Tensor, get_default_dtype, set_default_dtype, tensor
from .viz import draw_dot, draw_graph

__version__ = "0.1.0"
