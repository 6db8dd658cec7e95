"""``python -m microgd``: what is installed, and where to start."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path


def main() -> int:
    import numpy

    import microgd

    try:
        import graphviz
        graphviz_version = graphviz.__version__
    except ImportError:  # a dependency, but say so plainly if it went missing
        graphviz_version = "not installed (pip install graphviz)"
    dot = shutil.which("dot")
    if dot:
        probe = subprocess.run([dot, "-V"], capture_output=True, text=True)
        dot_line = f"{dot} ({(probe.stderr or probe.stdout).strip()})"
    else:
        dot_line = ("not found: graph pictures need it (sudo apt-get install graphviz); "
                    "mg.viz.explore pages do not")
    package = Path(microgd.__file__).resolve().parent
    demos = package.parent / "demos"
    print(f"microgd {microgd.__version__} at {package}")
    print(f"python  {sys.version.split()[0]}")
    print(f"numpy   {numpy.__version__}")
    print(f"graphviz (Python package) {graphviz_version}")
    print(f"dot     {dot_line}")
    if demos.is_dir():
        print(f"demos   {demos} (python {demos / 'tour.py'} --out out runs them all)")
    else:
        print("demos   not installed with the package: they are in the source repository's "
              "demos/ folder")
    return 0


if __name__ == "__main__":
    sys.exit(main())
