"""The path to PyTorch (API.md §10). The checks live in tests/interop_torch.py and run in a
Python that has torch (tests/torch_python.py: `make test` provides .venv-torch)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
from torch_python import MISSING, python_with_torch

import microgd as mg

HERE = Path(__file__).resolve().parent
NAMES = ["round_trips", "mlp", "cnn", "transformer_block", "torch_mha_into_microgd"]
PYTHON = python_with_torch()


@pytest.mark.skipif(PYTHON is None, reason=MISSING)
@pytest.mark.parametrize("name", NAMES)
def test_models_trained_in_microgd_load_into_torch_and_agree(name):
    env = dict(os.environ, PYTHONPATH=str(HERE.parent))
    out = subprocess.run([PYTHON, str(HERE / "interop_torch.py"), name], capture_output=True,
                         text=True, env=env, timeout=300)
    assert out.returncode == 0 and f"{name}: ok" in out.stdout, out.stdout + out.stderr


def test_without_torch_the_error_names_the_fix(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)   # import torch -> ImportError
    with pytest.raises(ImportError, match="to_torch: PyTorch is not installed; install it "
                                          "with `pip install torch`"):
        mg.interop.to_torch(mg.tensor([1.0]))
    with pytest.raises(ImportError, match="from_torch: PyTorch is not installed"):
        mg.interop.from_torch({})
