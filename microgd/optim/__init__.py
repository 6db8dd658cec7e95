"""Optimizers: θ ← θ − α·d, with d built from ∇J(θ) by each rule (PyTorch's formulas)."""
from . import lr_scheduler
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD
