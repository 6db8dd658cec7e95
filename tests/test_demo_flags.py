"""The demos' command lines, each test starting its own demo processes: each demo's
``--help`` lists exactly the flags it declares in FLAGS (tests/demo_helpers.py), the
README's flag table matches FLAGS, flags a demo does not honour are rejected, and changing
a flag changes what the cheap demos do. That every listed flag is read, and --quiet, are
checked on the shared tiny runs in tests/test_demos.py."""
import re

import pytest
from demo_helpers import FLAGS, ROOT, pictures_ok, run_demo

EVERY_FLAG = {"--optimizer": "sgd", "--lr": "0.1", "--batch-size": "8", "--epochs": "2",
              "--steps": "3", "--n": "50", "--seed": "3", "--format": "svg", "--quiet": None}


def help_flags(text):
    options = text.split("options:")[1]
    return set(re.findall(r"^\s+(--[a-z-]+)", options, flags=re.M)) - {"--help"}


@pytest.mark.parametrize("script", sorted(FLAGS))
def test_help_lists_exactly_the_flags_the_demo_honours(script):
    r = run_demo(script, "--help")
    assert r.returncode == 0, r.stderr
    assert help_flags(r.stdout) == FLAGS[script]


def test_readme_flag_table_matches():
    text = (ROOT / "README.md").read_text().split("| demo | flags besides `--out` |")[1]
    table = {}
    for line in text.split("\n\n")[0].splitlines()[2:]:
        demos, flags = line.strip("|").split("|")
        for demo in re.findall(r"`([a-z_]+\.py)`", demos):
            table[demo] = set(re.findall(r"`(--[a-z-]+)`", flags)) | {"--out"}
    assert table == FLAGS


@pytest.mark.parametrize("script", sorted(FLAGS))
def test_flags_a_demo_does_not_honour_are_rejected(script):
    unused = [f for f in EVERY_FLAG if f not in FLAGS[script]]
    args = [a for f in unused for a in (f, EVERY_FLAG[f]) if a is not None]
    r = run_demo(script, *args)
    assert r.returncode == 2 and "unrecognized arguments" in r.stderr, r.stderr
    for flag in unused:
        assert flag in r.stderr


def test_graph_tour_rejects_training_flags():
    for flag in ("--lr", "--optimizer", "--epochs"):
        r = run_demo("graph_tour.py", flag, "sgd" if flag == "--optimizer" else "1")
        assert r.returncode == 2 and f"unrecognized arguments: {flag}" in r.stderr


def normalised(text, folder):
    text = text.replace(str(folder), "OUT")
    return re.sub(r"\d+\.\d+ s\b", "T s", text)


def effects(tmp_path, script, base, changes):
    """Run the demo with ``base`` and with each change; each output must differ (``base``
    has --quiet where the demo takes it: a progress bar's timings would differ anyway)."""
    outs = {}
    for i, extra in enumerate([[]] + changes):
        folder = tmp_path / str(i)
        r = run_demo(script, "--out", str(folder), *base, *extra)
        outs[" ".join(extra)] = normalised(r.stdout + r.stderr, folder)
    first = outs.pop("")
    for change, out in outs.items():
        assert out != first, f"{script}: {change} changed nothing"


def test_graph_tour_flags_change_the_pictures(tmp_path):
    effects(tmp_path, "graph_tour.py", ["--format", "svg"],
            [["--seed", "1"], ["--batch-size", "7"]])
    r = run_demo("graph_tour.py", "--out", str(tmp_path / "png"), "--format", "png")
    assert r.returncode == 0, r.stderr
    pictures_ok(tmp_path / "png", ["graph_mlp.png", "graph_loss.png"])


def test_scalar_moons_flags_change_the_run(tmp_path):
    effects(tmp_path, "scalar_moons.py", ["--n", "40", "--steps", "3", "--quiet"],
            [["--n", "41"], ["--steps", "6"], ["--lr", "0.3"], ["--seed", "2"]])


def test_cnn_digits_flags_change_the_run(tmp_path):
    effects(tmp_path, "cnn_digits.py", ["--epochs", "1", "--quiet"],
            [["--lr", "0.05"], ["--batch-size", "64"], ["--seed", "1"], ["--epochs", "2"],
             ["--optimizer", "adam", "--lr", "0.01"]])


def test_attention_flags_change_the_run(tmp_path):
    effects(tmp_path, "attention.py", ["--steps", "2", "--quiet"],
            [["--lr", "0.01"], ["--batch-size", "8"], ["--steps", "3"], ["--seed", "1"]])
