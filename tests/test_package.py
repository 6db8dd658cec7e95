"""microgd as an installable package: the wheel and sdist carry every data file, and a
fresh venv outside the checkout runs the quick start and a demo from the installed wheel."""
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

import microgd as mg

ROOT = Path(__file__).resolve().parent.parent

QUICK_START = """
import numpy as np, microgd as mg, pathlib
assert pathlib.Path(mg.__file__).resolve().parents[1] != pathlib.Path({root!r})
a = mg.Value(2.0, label="a"); b = mg.Value(-3.0, label="b")
c = (a * b + a ** 2).tanh(); c.backward()
x = mg.tensor(np.random.randn(3, 4), requires_grad=True)
w = mg.tensor(np.random.randn(4, 5), requires_grad=True)
((x @ w).relu() - 1.0).pow(2).mean().backward()
X, y = mg.datasets.digits()
print("quick start ok", round(a.grad, 4), w.grad.shape, X.shape, mg.__version__)
"""


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out


def _package_files():
    """Every file of the package git tracks that is not Python source: they must ship."""
    listed = subprocess.run(["git", "ls-files", "microgd"], cwd=ROOT, capture_output=True,
                            text=True).stdout.split()
    return [f for f in listed if not f.endswith(".py")]


def test_the_wheel_and_sdist_carry_every_data_file_and_one_version(dist):
    wheel = next(dist.glob("microgd-*.whl"))
    sdist = next(dist.glob("microgd-*.tar.gz"))
    assert wheel.name.startswith(f"microgd-{mg.__version__}-")
    assert sdist.name == f"microgd-{mg.__version__}.tar.gz"
    names = set(zipfile.ZipFile(wheel).namelist())
    wanted = _package_files()
    assert "microgd/py.typed" in wanted and "microgd/_data/digits.csv.gz" in wanted
    missing = [f for f in wanted if f not in names]
    assert not missing, f"not in the wheel: {missing}"


def test_a_fresh_venv_runs_the_quick_start_and_a_demo(dist, tmp_path):
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    wheel = next(dist.glob("microgd-*.whl"))
    done = subprocess.run([str(python), "-m", "pip", "install", "--quiet",
                           f"{wheel}[demos]"], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    work = tmp_path / "work"
    work.mkdir()
    run = subprocess.run([str(python), "-c", QUICK_START.format(root=str(ROOT))], cwd=work,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and "quick start ok" in run.stdout, run.stdout + run.stderr
    info = subprocess.run([str(python), "-m", "microgd"], cwd=work, capture_output=True,
                          text=True, timeout=60)
    assert info.returncode == 0 and f"microgd {mg.__version__}" in info.stdout
    script = ROOT / "demos" / "scalar_moons.py"
    run_demo = (f"import runpy, sys, microgd; sys.path.insert(0, {str(script.parent)!r})\n"
                f"sys.argv = [{str(script)!r}, '--out', "
                f"{str(work / 'out')!r}, '--quiet']\n"
                f"try:\n    runpy.run_path({str(script)!r}, run_name='__main__')\n"
                "except SystemExit as e:\n    assert not e.code, e.code\n"
                "print('demo used', microgd.__file__)")
    demo = subprocess.run([str(python), "-c", run_demo], cwd=work, capture_output=True,
                          text=True, timeout=600)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert f"demo used {env_dir}" in demo.stdout, demo.stdout     # the wheel, not the checkout
    assert any((work / "out").glob("*.png"))
