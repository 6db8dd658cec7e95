"""docs/walkthrough.md's links point at lines that still hold what they name."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_walkthrough_link_lands_on_its_line():
    text = (ROOT / "docs" / "walkthrough.md").read_text()
    links = re.findall(r'\(\.\./([^#)]+)#L(\d+) "([^"]+)"\)', text)
    assert len(links) >= 35
    for path, line, needle in links:
        lines = (ROOT / path).read_text().splitlines()
        assert needle in lines[int(line) - 1], (
            f"{path}:{line} no longer contains {needle!r}: run docs/render_walkthrough.py")
