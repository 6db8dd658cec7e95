"""Neural-network building blocks, shaped like ``torch.nn``."""
from . import functional, init, scalar, utils
from . import functional as F
from .activation import ELU, GELU, Identity, LeakyReLU, LogSoftmax, SiLU, Softmax, Softplus
from .attention import MultiheadAttention
from .containers import ModuleDict, ModuleList, Sequential
from .conv import Conv1d, Conv2d
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
from .norm import BatchNorm1d, BatchNorm2d
from .pooling import AdaptiveAvgPool2d, AvgPool1d, AvgPool2d, MaxPool1d, MaxPool2d
