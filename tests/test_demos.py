"""Every demo runs with tiny settings and writes its pictures; so does the tour."""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_demo(name, *args):
    return subprocess.run([sys.executable, str(ROOT / "demos" / name), *args],
                          capture_output=True, text=True, timeout=600)


def pictures_ok(folder, names):
    for n in names:
        p = folder / n
        assert p.exists() and p.stat().st_size > 2000, n
        assert p.read_bytes()[:4] == b"\x89PNG", n


def test_scalar_moons_reaches_100_percent(tmp_path):
    r = run_demo("scalar_moons.py", "--out", str(tmp_path))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "training accuracy 100%" in r.stdout
    pictures_ok(tmp_path, ["scalar_mlp_graph.png"])


def test_digits_demo(tmp_path):
    r = run_demo("digits.py", "--out", str(tmp_path), "--epochs", "20", "--quiet")
    assert r.returncode == 0, r.stdout + r.stderr
    acc = float(r.stdout.split("test accuracy ")[-1].split("%")[0])
    assert acc >= 95.0
    pictures_ok(tmp_path, ["digits_gd_epochs.png", "digits_gd_seconds.png",
                           "digits_confusion.png", "digits_misclassified.png"])


def test_house_prices_demo(tmp_path):
    r = run_demo("house_prices.py", "--out", str(tmp_path), "--epochs", "30", "--quiet")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "raw inputs, lr=0.05: diverged" in r.stdout
    assert "ZIP 27513, 3,000 sq ft: predicted $" in r.stdout
    pct = float(r.stdout.split("(")[-1].split("%")[0])
    assert abs(pct) < 10  # within 10 % of the generating price
    pictures_ok(tmp_path, ["house_prices_normalisation.png", "house_prices_fit.png"])


def test_dark_mountain_demo(tmp_path):
    r = run_demo("dark_mountain.py", "--out", str(tmp_path), "--epochs", "60", "--quiet")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "eigenvalues [-1.0, 1.0]" in r.stdout
    assert "(diverges): J goes" in r.stdout
    pictures_ok(tmp_path, ["dark_mountain_race.png", "dark_mountain_lr.png",
                           "dark_mountain_saddle.png"])


def test_vanishing_exploding_demo(tmp_path):
    r = run_demo("vanishing_exploding.py", "--out", str(tmp_path), "--epochs", "1", "--quiet")
    assert r.returncode == 0, r.stdout + r.stderr
    sig = r.stdout.split("sigmoid, default init:")[1].split("ratio ")[1].split(")")[0]
    assert float(sig) < 1e-3  # the first layer gets a thousand times less gradient
    pictures_ok(tmp_path, ["vanishing_grad_norms.png", "vanishing_graph.png",
                           "exploding_clipping.png"])


def test_graph_tour_demo(tmp_path):
    r = run_demo("graph_tour.py", "--out", str(tmp_path), "--format", "svg")
    assert r.returncode == 0, r.stdout + r.stderr
    svg = (tmp_path / "graph_mlp.svg").read_text()
    assert "MLP.layers.0 (Linear)" in svg and "layers.0.weight" in svg


@pytest.mark.parametrize("script", ["digits.py", "house_prices.py", "dark_mountain.py",
                                    "vanishing_exploding.py", "graph_tour.py",
                                    "scalar_moons.py", "tour.py"])
def test_every_demo_has_help(script):
    r = run_demo(script, "--help")
    assert r.returncode == 0 and "--out" in r.stdout
    if script not in ("scalar_moons.py", "tour.py"):
        for flag in ("--optimizer", "--lr", "--batch-size", "--epochs", "--seed"):
            assert flag in r.stdout


def test_tour_writes_index(tmp_path):
    r = run_demo("tour.py", "--out", str(tmp_path))
    assert r.returncode == 0, r.stdout + r.stderr
    index = (tmp_path / "index.html").read_text()
    assert index.count("<img") >= 18 and "dark_mountain_race.png" in index
