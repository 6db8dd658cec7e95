"""Embedding: a table of learnable vectors, one row per token id.

Looking a token up is picking its row; so an embedding is a Linear layer fed one-hot
vectors, without building them. Its gradient lands only in the rows that were read.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import ops
from ..ops.index import check_padding_idx
from ..tensor import Tensor, get_default_dtype
from . import init
from .module import Module, Parameter


class Embedding(Module):
    """``weight`` of shape (num_embeddings, embedding_dim), initialised N(0, 1) as in
    PyTorch; ``padding_idx``'s row starts at 0 and gets no gradient."""

    def __init__(self, num_embeddings: int, embedding_dim: int,
                 padding_idx: int | None = None) -> None:
        super().__init__()
        if num_embeddings < 1 or embedding_dim < 1:
            raise ValueError(f"Embedding: sizes must be positive, got num_embeddings="
                             f"{num_embeddings}, embedding_dim={embedding_dim}")
        padding_idx = check_padding_idx(padding_idx, num_embeddings, "Embedding")
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.padding_idx = padding_idx
        self.weight = Parameter(np.empty((num_embeddings, embedding_dim),
                                         dtype=get_default_dtype()))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight.data[self.padding_idx] = 0

    def forward(self, input: Any) -> Tensor:
        return ops.embedding(input, self.weight, self.padding_idx, where="Embedding")

    def extra_repr(self) -> str:
        pad = f", padding_idx={self.padding_idx}" if self.padding_idx is not None else ""
        return f"{self.num_embeddings}, {self.embedding_dim}{pad}"
