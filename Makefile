# Two commands do everything on a fresh Debian machine:
#   make demo   set up, then run the demo tour (pictures in out/)
#   make test   set up, then run the full test suite
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# PyTorch is an oracle for the tests, never a dependency of the package: it lives in a venv
# of its own, which the cross-checks (tests/test_against_torch.py) run in a subprocess.
TORCH_VENV  := .venv-torch
TORCH_STAMP := $(TORCH_VENV)/.installed

.PHONY: setup graphviz chromium torch demo test lint bench soak fuzz docs notebooks clean

setup: $(STAMP) graphviz chromium

# Re-install only when the package metadata changed (the install is editable).
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev,demos]"
	touch $(STAMP)

# Graphviz's `dot` program renders the graph pictures; apt-get it when it is missing.
graphviz:
	@if command -v dot >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "Installing Graphviz (dot) with apt-get..."; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz) >/dev/null; \
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then \
	  echo "Installing Graphviz (dot) with sudo apt-get..."; \
	  (sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz) >/dev/null; \
	else \
	  echo "Graphviz's 'dot' program is missing: install it with 'sudo apt-get install graphviz' (or see https://graphviz.org/download/), then re-run make."; \
	  exit 1; \
	fi
	@command -v dot >/dev/null 2>&1 || { echo "Graphviz install failed: 'dot' is still missing."; exit 1; }

# A headless Chromium and its driver run the explorer/replay page tests (tests/browser.py);
# Debian's packages, so selenium never downloads a browser or a driver of its own.
CHROME_OK = command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1
chromium:
	@if $(CHROME_OK); then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "Installing Chromium and chromedriver with apt-get (for the browser tests)..."; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) >/dev/null; \
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then \
	  echo "Installing Chromium and chromedriver with sudo apt-get (for the browser tests)..."; \
	  (sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) >/dev/null; \
	else \
	  echo "Chromium and chromedriver are missing: install them with 'sudo apt-get install chromium chromium-driver', then re-run make."; \
	  exit 1; \
	fi
	@$(CHROME_OK) || { echo "Chromium install failed: 'chromium' or 'chromedriver' is still missing."; exit 1; }

# torch==2.13.0 is pinned: this machine kind keeps that CPU wheel on disk (pip takes it
# without a download); any other version would fetch a multi-GB CUDA build.
torch: $(TORCH_STAMP)
# If it cannot be installed (no wheel on disk, no network), the suite still runs and its
# summary lists the PyTorch cross-checks as skipped, with the reason.
$(TORCH_STAMP): pyproject.toml
	@test -x $(TORCH_VENV)/bin/python || $(PYTHON) -m venv $(TORCH_VENV)
	@if $(TORCH_VENV)/bin/python -m pip install --quiet --upgrade pip && \
	    $(TORCH_VENV)/bin/python -m pip install --quiet -e . torch==2.13.0; then \
	  touch $(TORCH_STAMP); \
	else \
	  echo "WARNING: could not install torch==2.13.0 into $(TORCH_VENV): the PyTorch cross-checks will be skipped"; \
	fi

demo: setup
	$(PY) demos/tour.py --out out

test: setup torch
	$(PY) -m pytest -q

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy microgd

bench: setup
	$(PY) benchmarks/bench.py

soak: setup
	$(PY) -m pytest -q -m soak tests/test_soak.py

fuzz: setup
	HYPOTHESIS_PROFILE=fuzz $(PY) -m pytest -q tests/test_fuzz.py

clean:
	rm -rf $(VENV) $(TORCH_VENV) out .pytest_cache .hypothesis build *.egg-info

docs: setup
	$(PY) docs/render_walkthrough.py

# Re-run the notebooks of docs/notebooks/ and commit them with fresh outputs.
notebooks: setup
	$(PY) docs/notebooks/build.py
