"""The op table's rows for the sequence ops (issue 16): gather, take_along_axis,
masked_fill, tril/triu, embedding, layer_norm. Read by tests/test_op_table.py with the
other rows and checked the same way (forward in float64 and float32, gradient with a random
upstream gradient against finite differences, Hessian-vector product).

The indices repeat entries on purpose, so each row also checks that their gradients add up.
Attention has no row: it takes three inputs and masks, and
tests/test_sequence_norm_attention.py checks it against the formula written out, by finite
differences, and twice differentiated.
"""
from __future__ import annotations

import numpy as np
from op_table_rows import Row, many, one

import microgd as mg
from microgd.nn import functional as F

R = Row
GATHER_INDEX = np.array([[0, 0, 3], [2, 2, 2], [1, 0, 1]])  # along axis 1 of a (3, 4)
TAKE_INDEX = np.array([[2, -1, 0, 0], [0, 0, 1, 2]])          # along axis 0; -1 is 2
FILL_MASK = np.array([True, False, False, True])              # broadcast over the rows
TOKENS = np.array([[0, 4, 0], [2, 2, 1]])                     # rows of a (5, 3) table


def np_layer_norm(a, w=1.0, b=0.0, axes=(-1,)):
    """(a - mean) / sqrt(biased var + 1e-5) * w + b over ``axes``."""
    mu = a.mean(axis=axes, keepdims=True)
    var = ((a - mu) ** 2).mean(axis=axes, keepdims=True)
    return (a - mu) / np.sqrt(var + 1e-5) * w + b


ROWS = [
    R("mg.gather", lambda x: mg.gather(x, 1, GATHER_INDEX),
      lambda a: np.take_along_axis(a, GATHER_INDEX, 1), one((3, 4)),
      also={"x.gather": lambda x: x.gather(1, GATHER_INDEX)}),
    R("mg.take_along_axis", lambda x: mg.take_along_axis(x, TAKE_INDEX, 0),
      lambda a: np.take_along_axis(a, TAKE_INDEX, 0), one((3, 4))),
    R("x.masked_fill", lambda x: x.masked_fill(FILL_MASK, -2.0),
      lambda a: np.where(FILL_MASK, -2.0, a), one((3, 4), (2, 3, 4)),
      also={"mg.masked_fill": lambda x: mg.masked_fill(x, FILL_MASK, -2.0)}),
    R("x.tril", lambda x, diagonal: x.tril(diagonal), lambda a, diagonal: np.tril(a, diagonal),
      one((3, 4), (2, 4, 3), diagonal=[-1, 0, 2]), also={"mg.tril": mg.tril}),
    R("x.triu", lambda x, diagonal: x.triu(diagonal), lambda a, diagonal: np.triu(a, diagonal),
      one((3, 4), (2, 4, 3), diagonal=[-1, 0, 2]), also={"mg.triu": mg.triu}),
    R("F.embedding", lambda w: F.embedding(TOKENS, w), lambda a: a[TOKENS], one((5, 3))),
    R("F.layer_norm", lambda x, w, b: F.layer_norm(x, x.shape[-1], w, b), np_layer_norm,
      many(((3, 4), (4,), (4,)), ((2, 3, 5), (5,), (5,)))),
    R("F.layer_norm (over two axes, no affine)", lambda x: F.layer_norm(x, x.shape[-2:]),
      lambda a: np_layer_norm(a, axes=(-2, -1)), one((2, 3, 4))),
]
