"""Where the PyTorch cross-checks run. torch is an oracle for the tests and never a
dependency of microgd: ``make test`` installs it into a venv of its own (``.venv-torch``, see
the Makefile), and the checks run there in a subprocess, importing this checkout."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CANDIDATES = [ROOT / ".venv-torch" / "bin" / "python",
              ROOT.parent / "shared" / "bench" / ".venv" / "bin" / "python"]
MISSING = ("torch is not importable here and there is no .venv-torch (run `make torch`, which "
           "`make test` does): the PyTorch cross-checks were not run")


def python_with_torch() -> str | None:
    """This interpreter if it has torch, else the first candidate venv whose Python does."""
    if importlib.util.find_spec("torch") is not None:
        return sys.executable
    for python in CANDIDATES:
        if python.exists():
            probe = subprocess.run([str(python), "-c", "import torch"], capture_output=True)
            if probe.returncode == 0:
                return str(python)
    return None
