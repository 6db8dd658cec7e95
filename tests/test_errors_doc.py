"""Every row of docs/errors.md: the snippet raises that error with that message."""
import re
from pathlib import Path

import numpy as np
import pytest
from errors_setup import namespace

DOC = Path(__file__).resolve().parent.parent / "docs" / "errors.md"


def rows():
    out = []
    for line in DOC.read_text().splitlines():
        m = re.match(r"^\| (.*?) \| `(.+?)` \| `(\w+)` \| (.*) \|$", line)
        if m:
            out.append((m.group(2), m.group(3), m.group(4).replace("\\|", "|")))
    return out


def test_the_table_covers_the_bad_inputs_the_reliability_issue_lists():
    codes = " ".join(r[0] for r in rows())
    assert len(rows()) >= 50
    for needle in ("a + b", "a - b", "a * b", "a / b", "a ** b", "mg.maximum", "mg.where",
                   "@", "requires_grad=True", ".backward()", "loss.backward(); loss.backward()",
                   "axis=2", "a[5]", "cross_entropy", "corrupt.npz", "truncated.npz",
                   "missing.npz", "load_state_dict", "TensorDataset", "mg.optim.Adam([])",
                   "lr=-0.1", "mg.draw_graph(3.0)", "without_dot"):
        assert needle in codes, needle


@pytest.mark.parametrize("code,error,message", rows(), ids=[r[0][:40] for r in rows()])
def test_documented_error(tmp_path, monkeypatch, code, error, message):
    monkeypatch.chdir(tmp_path)
    ns = namespace(str(tmp_path))
    with pytest.raises(Exception) as info, np.errstate(all="ignore"):
        exec(code, ns)
    assert type(info.value).__name__ == error
    assert str(info.value) == message
