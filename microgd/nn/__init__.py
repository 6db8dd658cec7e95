"""Neural-network building blocks, shaped like ``torch.nn``."""
from . import functional, init, scalar, utils
from . import functional as F
from .attention import MultiheadAttention
from .containers import ModuleDict, ModuleList, Sequential
from .embedding import Embedding
from .layernorm import LayerNorm
from .layers import (
    MLP,
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    Dropout,
    Flatten,
    HuberLoss,
    L1Loss,
    Linear,
    MSELoss,
    NLLLoss,
    ReLU,
    Sigmoid,
    Tanh,
)
from .module import Module, Parameter, RemovableHandle
