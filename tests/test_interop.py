"""The path to PyTorch (API.md §10). The checks live in tests/interop_torch.py; they run
here when torch is importable, else with the shared benchmark venv's Python (which has
torch) when that exists, else they are skipped and say why."""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

import microgd as mg

HERE = Path(__file__).resolve().parent
BENCH_PYTHON = HERE.parent.parent / "shared" / "bench" / ".venv" / "bin" / "python"
NAMES = ["round_trips", "mlp", "cnn", "transformer_block", "torch_mha_into_microgd"]


def _python_with_torch():
    if importlib.util.find_spec("torch") is not None:
        return sys.executable
    if BENCH_PYTHON.exists():
        probe = subprocess.run([str(BENCH_PYTHON), "-c", "import torch"], capture_output=True)
        if probe.returncode == 0:
            return str(BENCH_PYTHON)
    return None


PYTHON = _python_with_torch()


@pytest.mark.skipif(PYTHON is None, reason="torch is not importable here, and there is no "
                    "../shared/bench/.venv with torch: the PyTorch round trips were not run")
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
