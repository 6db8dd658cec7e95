"""Helpers shared by the demo tests (tests/test_demos.py, each demo's tiny run, and
tests/test_demo_flags.py, their command lines): the repository root, the flags each demo
honours, running a demo in a subprocess, and checking the pictures it wrote."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# the flags each demo honours (besides -h/--help)
FLAGS = {
    "graph_tour.py": {"--seed", "--batch-size", "--format", "--out"},
    "scalar_moons.py": {"--n", "--steps", "--lr", "--seed", "--out", "--quiet"},
    "digits.py": {"--optimizer", "--lr", "--batch-size", "--epochs", "--seed", "--out",
                  "--quiet"},
    "cnn_digits.py": {"--optimizer", "--lr", "--batch-size", "--epochs", "--seed", "--out",
                      "--quiet"},
    "house_prices.py": {"--optimizer", "--lr", "--batch-size", "--epochs", "--n", "--seed",
                        "--out", "--quiet"},
    "dark_mountain.py": {"--optimizer", "--lr", "--steps", "--out", "--quiet"},
    "vanishing_exploding.py": {"--optimizer", "--lr", "--batch-size", "--epochs", "--seed",
                               "--out", "--quiet"},
    "attention.py": {"--lr", "--batch-size", "--steps", "--seed", "--out", "--quiet"},
    "tour.py": {"--out"},
}


def run_demo(name, *args):
    return subprocess.run([sys.executable, str(ROOT / "demos" / name), *args],
                          capture_output=True, text=True, timeout=600)


def pictures_ok(folder, names):
    for n in names:
        p = folder / n
        assert p.exists() and p.stat().st_size > 2000, n
        assert p.read_bytes()[:4] == b"\x89PNG", n

