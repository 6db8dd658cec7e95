"""Differentiable tensor ops, one file per family; each op's forward and backward side by
side, and beside it the public function that applies it.

- ``core.py``        the ``Op`` base, ``unbroadcast``, constants, dtype promotion, axes
- ``elementwise.py`` + - * / ** and the unary functions, where, maximum, minimum, clip
- ``reduce.py``      sum, max, min; mean, var, logsumexp, softmax, log_softmax
- ``shape.py``       reshape, transpose, broadcast_to, indexing, concatenate, stack
- ``linalg.py``      matmul
- ``fused.py``       the few fused ops a measurement justified (Linear, CrossEntropy, BCE)
- ``inplace.py``     x += y and friends, and the version check that keeps them honest
- ``index.py``       gather, take_along_axis, embedding, masked_fill, tril, triu
- ``layernorm.py``   layer_norm
- ``attention.py``   scaled_dot_product_attention
"""
from .attention import scaled_dot_product_attention
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
    Relu,
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
    relu,
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
from .linalg import MatMul, matmul
from .reduce import Max, Min, Sum, log_softmax, logsumexp, max, mean, min, softmax, sum, var
from .shape import (
    BroadcastTo,
    Concatenate,
    GetItem,
    Reshape,
    ScatterAdd,
    Transpose,
    broadcast_to,
    concatenate,
    flatten,
    getitem,
    reshape,
    squeeze,
    stack,
    swapaxes,
    transpose,
    unsqueeze,
)
