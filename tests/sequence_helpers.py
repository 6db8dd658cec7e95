"""Helpers shared by the sequence-op tests (tests/test_sequence_ops.py, the index ops and
embedding, and tests/test_sequence_norm_attention.py, layer_norm and attention): a float64
tensor from anything array-like, by default one that records its gradient."""
import numpy as np

import microgd as mg


def t64(a, grad=True):
    return mg.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)
