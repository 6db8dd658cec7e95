"""Every demo runs with tiny settings and writes its pictures."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_demo(name, *args):
    return subprocess.run([sys.executable, str(ROOT / "demos" / name), *args],
                          capture_output=True, text=True, timeout=600)


def test_scalar_moons_reaches_100_percent(tmp_path):
    r = run_demo("scalar_moons.py", "--out", str(tmp_path))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "training accuracy 100%" in r.stdout
    assert (tmp_path / "scalar_mlp_graph.png").stat().st_size > 1000
