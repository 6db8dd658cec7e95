"""Every demo runs with tiny settings and writes its pictures; so does the tour.

Every flag a demo lists in FLAGS (tests/demo_helpers.py) is read by the demo once its
arguments are parsed (recorded while it runs), and --quiet silences the progress bars;
the other command-line checks (--help, the README's table, rejected flags, flags that
change the run) are in tests/test_demo_flags.py. dark_mountain's learning-rate labels are
checked against the closed form of gradient descent on its bowl.
"""
import json
import os
import re
import runpy
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from demo_helpers import FLAGS, ROOT, pictures_ok, run_demo

# tiny settings for each demo's run in this module (the tour uses its own)
TINY = {
    "graph_tour.py": ["--format", "svg"],
    "scalar_moons.py": [],
    "digits.py": ["--epochs", "20", "--quiet"],
    "cnn_digits.py": ["--epochs", "20", "--quiet"],
    "house_prices.py": ["--epochs", "30", "--quiet"],
    "dark_mountain.py": ["--steps", "60", "--quiet"],
    "vanishing_exploding.py": ["--epochs", "1", "--quiet"],
    "attention.py": ["--steps", "300", "--quiet"],
    "tour.py": [],
}

# runs a demo as __main__ and records which parsed arguments it reads afterwards
RECORDER = r'''
import argparse, json, os, runpy, sys
read = set()
class Recording(argparse.Namespace):
    armed = False
    def __getattribute__(self, name):
        if type(self).armed and not name.startswith("_"):
            read.add(name)
        return super().__getattribute__(name)
parse = argparse.ArgumentParser.parse_args
def parse_args(self, args=None, namespace=None):
    ns = parse(self, args, Recording() if namespace is None else namespace)
    Recording.armed = True
    return ns
argparse.ArgumentParser.parse_args = parse_args
script = sys.argv[1]
sys.argv = sys.argv[1:]
sys.path.insert(0, os.path.dirname(script))
try:
    runpy.run_path(script, run_name="__main__")
finally:
    with open(os.environ["DEMO_ARGS_READ"], "w") as f:
        json.dump(sorted(read), f)
'''


def run_recorded(name, folder, *args):
    """Run a demo with --out folder; (completed process, the argument names it read)."""
    record = folder / "args_read.json"
    r = subprocess.run([sys.executable, "-c", RECORDER, str(ROOT / "demos" / name),
                        "--out", str(folder), *args], capture_output=True, text=True,
                       timeout=600, env={**os.environ, "DEMO_ARGS_READ": str(record)})
    return r, set(json.loads(record.read_text())) if record.exists() else set()


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Every demo once with its tiny settings, two at a time: {name: (run, read, folder)}."""
    def one(name):
        folder = tmp_path_factory.mktemp(name.removesuffix(".py"))
        return name, (*run_recorded(name, folder, *TINY[name]), folder)
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(pool.map(one, TINY))


def ok(runs, name):
    r, _, folder = runs[name]
    assert r.returncode == 0, r.stdout + r.stderr
    return r, folder


# --- flags -----------------------------------------------------------------------------

@pytest.mark.parametrize("script", sorted(FLAGS))
def test_every_listed_flag_is_read_by_the_demo(runs, script):
    r, read, _ = runs[script]
    assert r.returncode == 0, r.stdout + r.stderr
    dests = {f.removeprefix("--").replace("-", "_") for f in FLAGS[script]}
    assert dests <= read, f"{script} never reads {sorted(dests - read)}"


@pytest.mark.parametrize("script", [s for s in FLAGS if "--quiet" in FLAGS[s]])
def test_quiet_silences_the_progress_bars(runs, script):
    r, _, _ = runs[script]
    if "--quiet" in TINY[script]:
        assert "it/s" not in r.stderr and "%|" not in r.stderr, r.stderr[-500:]
    else:
        assert "%|" in r.stderr  # the bar is there without --quiet


# --- each demo ---------------------------------------------------------------------------

def test_scalar_moons_reaches_100_percent(runs):
    r, folder = ok(runs, "scalar_moons.py")
    assert "training accuracy 100%" in r.stdout
    pictures_ok(folder, ["scalar_mlp_graph.png", "scalar_moons_boundary.png"])


def test_scalar_moons_says_when_it_stops_short(tmp_path):
    r = run_demo("scalar_moons.py", "--out", str(tmp_path), "--steps", "2", "--quiet")
    assert r.returncode == 1
    reached = re.search(r"training accuracy (\d+)%", r.stdout).group(1)
    assert int(reached) < 100
    assert (f"did not reach the goal (100% training accuracy): {reached}% after 2 steps"
            in r.stderr), r.stderr
    pictures_ok(tmp_path, ["scalar_moons_boundary.png"])  # the picture shows where it fails


def test_digits_demo(runs):
    r, folder = ok(runs, "digits.py")
    acc = float(r.stdout.split("test accuracy ")[-1].split("%")[0])
    assert acc >= 95.0
    pictures_ok(folder, ["digits_gd_epochs.png", "digits_gd_seconds.png",
                         "digits_confusion.png", "digits_misclassified.png"])


def test_cnn_digits_demo(runs):
    """The CNN reaches 97 % and beats the MLP with the same budget (the demo exits with 1
    and says so otherwise)."""
    r, folder = ok(runs, "cnn_digits.py")
    mlp = float(r.stdout.split("MLP: test accuracy ")[1].split("%")[0])
    cnn = float(r.stdout.split("CNN: test accuracy ")[1].split("%")[0])
    assert cnn >= 97.0 and cnn >= mlp, r.stdout
    assert "lr 0.1, batch 32, 20 epochs" in r.stdout
    pictures_ok(folder, ["cnn_digits_accuracy.png", "cnn_filters.png", "cnn_feature_maps.png",
                         "cnn_graph.png"])


def test_house_prices_demo(runs):
    r, folder = ok(runs, "house_prices.py")
    assert "raw inputs, lr=0.05: diverged" in r.stdout
    assert "ZIP 27513, 3,000 sq ft: predicted $" in r.stdout
    pct = float(r.stdout.split("(")[-1].split("%")[0])
    assert abs(pct) < 10  # within 10 % of the generating price
    pictures_ok(folder, ["house_prices_normalisation.png", "house_prices_fit.png"])


def test_vanishing_exploding_demo(runs):
    r, folder = ok(runs, "vanishing_exploding.py")
    sig = r.stdout.split("sigmoid, default init:")[1].split("ratio ")[1].split(")")[0]
    assert float(sig) < 1e-3  # the first layer gets a thousand times less gradient
    relu = r.stdout.split("ReLU, He init:")[1].split("ratio ")[1].split(")")[0]
    assert 0.1 < float(relu) < 10  # ... and with ReLU and He init about as much as the last
    assert "graph colours: one |grad| scale for both networks" in r.stdout
    pictures_ok(folder, ["vanishing_grad_norms.png", "vanishing_graph.png",
                         "exploding_clipping.png"])


def test_graph_tour_demo(runs):
    r, folder = ok(runs, "graph_tour.py")
    svg = (folder / "graph_mlp.svg").read_text()
    assert "MLP.layers.0 (Linear)" in svg and "layers.0.weight" in svg
    for page in ("explore_mlp", "explore_cnn", "explore_transformer", "replay_quickstart"):
        assert 'id="graph-data"' in (folder / f"{page}.html").read_text()
    page = (folder / "explore_transformer.html").read_text()
    data = json.loads(re.search(r'id="graph-data">(.*?)</script>', page, re.S).group(1))
    assert [[data["scopes"][k]["name"] for k in run] for run in data["folds"]] == \
        [["SortTransformer.blocks.0", "SortTransformer.blocks.1"]]  # the caption's "× 2"
    explained = (folder / "explain_quickstart.txt").read_text()
    assert "2 paths from c down to a" in explained and explained in r.stdout
    assert (folder / "replay_quickstart.gif").read_bytes()[:6] == b"GIF89a"
    assert (folder / "explain_quickstart.svg").stat().st_size > 2000


def test_tour_writes_index_and_its_captions_hold(runs):
    r, folder = ok(runs, "tour.py")
    index = (folder / "index.html").read_text()
    tour = runpy.run_path(str(ROOT / "demos" / "tour.py"))["TOUR"]
    names = [name for _, _, captions in tour for name in captions]
    pictures = [n for n in names if not n.endswith(".html")]
    assert index.count("<img") == len(pictures) >= 21
    for name in pictures:
        assert f'<img src="{name}"' in index and (folder / name).stat().st_size > 2000
    pages = [n for n in names if n.endswith(".html")]
    assert index.count('<a class="page"') == len(pages) >= 4
    for name in pages:  # the explorer and replay pages, linked
        assert f'<a class="page" href="{name}">' in index
        assert 'id="graph-data"' in (folder / name).read_text()
    # what the captions promise, from the demos' own output in the tour
    assert "training accuracy 100%" in r.stdout
    for label in ("too small", "about right", "too large", "diverges"):
        assert f"({label}): J goes" in r.stdout, label
    assert "raw inputs, lr=0.05: diverged" in r.stdout
    sig = r.stdout.split("sigmoid, default init:")[1].split("ratio ")[1].split(")")[0]
    relu = r.stdout.split("ReLU, He init:")[1].split("ratio ")[1].split(")")[0]
    assert float(sig) < 1e-3 and 0.1 < float(relu) < 10
    assert exact_match(r.stdout) >= 95.0  # the transformer's caption


def exact_match(stdout):
    return float(re.search(r"held-out exact match: ([\d.]+)%", stdout).group(1))


def test_attention_demo_sorts_held_out_sequences(runs):
    r, folder = ok(runs, "attention.py")
    assert exact_match(r.stdout) >= 95.0, r.stdout
    assert "trained 300 steps of 64 sequences" in r.stdout
    examples = re.findall(r"^  ([\d ]+) -> ([\d ]+?)(   \(wrong\))?$", r.stdout, flags=re.M)
    assert len(examples) == 3
    for digits, out, wrong in examples:  # each example: six digits -> the model's answer
        assert (sorted(digits.split()) == out.split()) == (not wrong)
    pictures_ok(folder, ["attention_maps.png", "attention_loss.png", "attention_graph.png"])


def test_attention_demo_says_when_it_stops_short(tmp_path):
    r = run_demo("attention.py", "--out", str(tmp_path), "--steps", "3", "--quiet")
    assert r.returncode == 1
    reached = exact_match(r.stdout)
    assert reached < 95
    assert (f"did not reach the goal (95% held-out exact match): {reached}% after 3 steps"
            in r.stderr), r.stderr
    pictures_ok(tmp_path, ["attention_maps.png", "attention_loss.png"])


# --- dark_mountain's learning-rate labels --------------------------------------------------

ROW = re.compile(r"learning rate (\S+) \(([a-z ]+)\): J goes (\S+) -> (\S+) in (\d+) steps; "
                 r"(.*)")


def sweep_rows(stdout):
    rows = [(float(m[1]), m[2], float(m[3]), float(m[4]), int(m[5]), m[6])
            for m in ROW.finditer(stdout)]
    assert len(rows) >= 10, stdout
    return rows


def expected_labels(runs):
    """The labels' definition, applied to (lr, diverged, steps to get down, final J) per
    run: "about right" within 1.5x the fewest steps to get down (or, when none got down,
    the lowest final J), the other calm runs too small or too large by their side."""
    calm = [(lr, t, jt) for lr, div, t, jt in runs if not div]
    down = [(lr, t) for lr, t, _ in calm if t is not None]
    if down:
        best_lr, best_t = min(down, key=lambda p: p[1])
        right = {lr for lr, t in down if t <= 1.5 * best_t}
    else:
        best_lr = min(calm, key=lambda p: p[2])[0]
        right = {best_lr}
    return {lr: "diverges" if div else "about right" if lr in right else
            "too small" if lr < best_lr else "too large" for lr, div, _, _ in runs}


def sgd_on_bowl(lr, steps):
    """Closed form of plain GD on J = x²/2 + 5y² from (-4, 1.5): each coordinate is
    multiplied by (1 - lr·curvature) per step; stops where |θ| first passes 1e6."""
    t = np.arange(steps + 1)
    x, y = -4.0 * (1 - lr) ** t, 1.5 * (1 - 10 * lr) ** t
    big = np.flatnonzero(np.maximum(abs(x), abs(y)) > 1e6)
    end = big[0] if big.size else steps
    return 0.5 * x[:end + 1] ** 2 + 5 * y[:end + 1] ** 2


@pytest.mark.parametrize("lr, mine", [("0.15", "about right"), ("0.01", "too small")])
def test_dark_mountain_sgd_labels_match_the_closed_form(runs, tmp_path, lr, mine):
    if lr == "0.15":
        r, _ = ok(runs, "dark_mountain.py")  # the default --lr, --steps 60
    else:
        r = run_demo("dark_mountain.py", "--out", str(tmp_path), "--steps", "60", "--quiet",
                     "--lr", lr)
        assert r.returncode == 0, r.stderr
    rows = sweep_rows(r.stdout)
    reach = []
    for rate, _, j0, jt, n, what in rows:
        h = sgd_on_bowl(rate, 60)
        assert n == len(h) - 1, (rate, n)  # the row reports the run
        assert (j0, jt) == pytest.approx((h[0], h[-1]), rel=2e-3), rate
        assert ("blew up" in what) == (n < 60), rate
        diverged = bool(h[-1] > 1e6 or h[-1] > h[0])
        below = np.flatnonzero(h < 1e-4 * h[0])
        reach.append((rate, diverged, int(below[0]) if below.size else None, h[-1]))
    want = expected_labels(reach)
    assert {rate: label for rate, label, *_ in rows} == want
    assert set(want.values()) == {"too small", "about right", "too large", "diverges"}
    assert f"your --lr {lr} is {mine} for sgd" in r.stdout
    # the edge the sweep found brackets the closed form's (J after 60 steps above J at start)
    lo, hi = map(float, re.search(r"lr (\S+) does not diverge, (\S+) does", r.stdout).groups())
    assert sgd_on_bowl(lo, 60)[-1] <= 19.25 < sgd_on_bowl(hi, 60)[-1]


def test_dark_mountain_labels_follow_the_run_for_adam(tmp_path):
    r = run_demo("dark_mountain.py", "--out", str(tmp_path), "--steps", "60", "--quiet",
                 "--optimizer", "adam", "--lr", "0.3")
    assert r.returncode == 0, r.stderr
    rows = sweep_rows(r.stdout)
    reach = []
    for rate, _, j0, jt, _, what in rows:
        diverged = "blew up" in what or jt > j0
        assert ("ended higher" in what or "blew up" in what) == diverged
        t = re.search(r"after (\d+) steps", what)
        reach.append((rate, diverged, int(t[1]) if t else None, jt))
    assert {rate: label for rate, label, *_ in rows} == expected_labels(reach)
    labels = {rate: label for rate, label, *_ in rows}
    assert f"your --lr 0.3 is {labels[0.3]} for adam" in r.stdout
    assert len(set(labels.values())) >= 3
    pictures_ok(tmp_path, ["dark_mountain_lr.png"])
