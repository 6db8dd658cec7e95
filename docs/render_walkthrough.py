"""Turn docs/walkthrough.src.md into docs/walkthrough.md: each {{file|text}} becomes a link
to the first line of the file containing that text (run after moving code around)."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def link(match: re.Match) -> str:
    path, needle = match.group(1), match.group(2)
    for number, line in enumerate((ROOT / path).read_text().splitlines(), 1):
        if needle in line:
            return f'[`{path}:{number}`](../{path}#L{number} "{needle}")'
    raise SystemExit(f"{path}: no line contains {needle!r}")


src = (ROOT / "docs" / "walkthrough.src.md").read_text()
out = re.sub(r"\{\{([^|}]+)\|([^}]+)\}\}", link, src)
(ROOT / "docs" / "walkthrough.md").write_text(
    "<!-- generated from walkthrough.src.md by docs/render_walkthrough.py -->\n" + out)
print("wrote docs/walkthrough.md")
