"""Differentiable tensor ops, one file per family; each op's forward and backward side by
side, and beside it the public function that applies it.

- ``core.py``        the ``Op`` base, ``unbroadcast``, constants, dtype promotion, axes
- ``elementwise.py`` + - * / ** and the unary functions, where, maximum, minimum, clip
- ``reduce.py``      sum, max, min, cumsum; mean, var, logsumexp, softmax, log_softmax
- ``shape.py``       reshape, transpose, broadcast_to, indexing, concatenate, stack,
                     split, chunk
- ``padding.py``     pad (constant, reflect, replicate, circular)
- ``linalg.py``      matmul, einsum
- ``unary.py``       sin, cos, log1p, expm1, erf
- ``activation.py``  relu, gelu, leaky_relu, elu, silu, softplus with beta and threshold
- ``conv.py``        conv1d, conv2d (im2col forward, col2im backward)
- ``pool.py``        max_pool1d/2d, avg_pool1d/2d, adaptive_avg_pool2d
- ``norm.py``        batch_norm
- ``fused.py``       the few fused ops a measurement justified (Linear, CrossEntropy, BCE)
- ``inplace.py``     x += y and friends, and the version check that keeps them honest
- ``views.py``       what a view remembers of the tensor it shows (for writes through it)
- ``index.py``       gather, take_along_axis, embedding, masked_fill, tril, triu
- ``layernorm.py``   layer_norm
- ``attention.py``   scaled_dot_product_attention
"""
from .activation import Relu, elu, gelu, leaky_relu, relu, silu
from .attention import scaled_dot_product_attention
from .conv import Conv, ConvInputGrad, ConvWeightGrad, conv1d, conv2d
from .core import AxisError, Op, ShapeError, constant, is_tensor, lift, normalize_axis, unbroadcast
from .elementwise import (
    Abs,
    Add,
    Cast,
    Div,
    Exp,
    Log,
    Maximum,
    Minimum,
    Mul,
    Neg,
    Pow,
    Sigmoid,
    Softplus,
    Sqrt,
    Sub,
    Tanh,
    Where,
    abs,
    add,
    astype,
    clip,
    div,
    exp,
    log,
    maximum,
    minimum,
    mul,
    neg,
    pow,
    sigmoid,
    softplus,
    sqrt,
    sub,
    tanh,
    where,
)
from .fused import BinaryCrossEntropy, CrossEntropy, Linear
from .index import (
    Embedding,
    Gather,
    MaskedFill,
    TakeAlongAxis,
    Tril,
    Triu,
    embedding,
    gather,
    masked_fill,
    take_along_axis,
    tril,
    triu,
)
from .layernorm import layer_norm
from .linalg import Einsum, MatMul, einsum, matmul
from .norm import batch_norm
from .padding import Pad, pad
from .pool import MaxPool, adaptive_avg_pool2d, avg_pool1d, avg_pool2d, max_pool1d, max_pool2d
from .reduce import (
    Cumsum,
    Max,
    Min,
    Sum,
    cumsum,
    log_softmax,
    logsumexp,
    max,
    mean,
    min,
    softmax,
    sum,
    var,
)
from .shape import (
    BroadcastTo,
    Concatenate,
    GetItem,
    Reshape,
    ScatterAdd,
    Transpose,
    broadcast_to,
    chunk,
    concatenate,
    flatten,
    getitem,
    reshape,
    split,
    squeeze,
    stack,
    swapaxes,
    transpose,
    unsqueeze,
)
from .unary import Cos, Erf, Expm1, Log1p, Sin, cos, erf, expm1, log1p, sin
