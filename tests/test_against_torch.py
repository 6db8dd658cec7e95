"""PyTorch as the oracle: the maintainer scripts tests/against_torch*.py compare every op,
loss, optimizer trajectory, CNN layer and attention module with torch's, value and
gradient, and exit non-zero on a mismatch. Here each runs in a Python that has torch
(tests/torch_python.py; `make test` installs .venv-torch), importing this checkout."""
import os
import subprocess
from pathlib import Path

import pytest
from torch_python import MISSING, python_with_torch

HERE = Path(__file__).resolve().parent
PYTHON = python_with_torch()
SCRIPTS = {
    "against_torch.py": "0 mismatches",          # ops, losses, optimizers, Hessians, training
    "against_torch_cnn.py": "BatchNorm2d eval",  # conv, pooling, batch norm, activations
    "against_torch_attention.py": "MHA fully padded sequence",  # sequence ops, attention
}


@pytest.mark.skipif(PYTHON is None, reason=MISSING)
@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_microgd_agrees_with_pytorch(script):
    env = dict(os.environ, PYTHONPATH=str(HERE.parent))
    out = subprocess.run([PYTHON, str(HERE / script)], capture_output=True, text=True,
                         env=env, timeout=600, cwd=HERE.parent)
    report = out.stdout + out.stderr
    assert out.returncode == 0, report
    assert SCRIPTS[script] in out.stdout, report      # it ran to the end
    for word in ("MISMATCH", "BAD "):
        assert word not in out.stdout, report
