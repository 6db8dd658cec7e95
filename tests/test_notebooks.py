"""The notebooks of docs/notebooks/ run top to bottom, match the cells their builder
defines (so the committed outputs are current: `make notebooks` refreshes them), and were
committed with their outputs."""
import sys
from pathlib import Path

import nbformat
import pytest

FOLDER = Path(__file__).resolve().parent.parent / "docs" / "notebooks"
sys.path.insert(0, str(FOLDER))
import build  # noqa: E402  (docs/notebooks/build.py)

NAMES = sorted(build.NOTEBOOKS)


def test_every_notebook_in_the_folder_has_a_builder_entry():
    assert sorted(p.stem for p in FOLDER.glob("*.ipynb")) == NAMES
    assert len(NAMES) >= 3


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_current_and_committed_with_outputs(name):
    committed = nbformat.read(FOLDER / f"{name}.ipynb", as_version=4)
    assert build.sources(committed) == build.sources(build.build(name, build.NOTEBOOKS[name])), \
        f"{name}.ipynb is out of date with docs/notebooks/build.py: run `make notebooks`"
    code = [c for c in committed.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code), f"{name}.ipynb was committed unexecuted"
    assert any(c.outputs for c in code)


@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_without_error(name):
    nb = build.run(nbformat.read(FOLDER / f"{name}.ipynb", as_version=4), timeout=120)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert not errors
