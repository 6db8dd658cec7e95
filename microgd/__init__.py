"""microgd: gradient descent, made visible.

Public names only; the logic lives in the modules named below.
"""
from . import data, datasets, func, interop, nn, optim, viz
from .anomaly import AnomalyError, detect_anomaly, is_anomaly_enabled, set_detect_anomaly
from .autograd import grad
from .gradcheck import GradcheckError, gradcheck
from .io import load, save
from .ops import (
    AxisError,
    ShapeError,
    abs,
    broadcast_to,
    chunk,
    clip,
    concatenate,
    cos,
    cumsum,
    einsum,
    erf,
    exp,
    expm1,
    flatten,
    gather,
    log,
    log1p,
    log_softmax,
    logsumexp,
    masked_fill,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    pad,
    relu,
    reshape,
    sigmoid,
    sin,
    softmax,
    softplus,
    split,
    sqrt,
    squeeze,
    stack,
    sum,
    swapaxes,
    take_along_axis,
    tanh,
    transpose,
    tril,
    triu,
    unsqueeze,
    var,
    where,
)
from .scalar import Value
from .state import (
    enable_grad,
    get_default_dtype,
    is_grad_enabled,
    manual_seed,
    no_grad,
    set_default_dtype,
    set_grad_enabled,
)
from .tensor import Tensor, as_tensor, tensor
from .viz import draw_dot, draw_graph

__version__ = "0.1.0"
