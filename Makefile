# QHSE Platform — the two commands: `make demo` and `make test`.
# The first interpreter that really runs and is 3.11+ (version-manager shims may exist without one).
PY ?= $(shell for p in python3 python3.13 python3.12 python3.11; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 && command -v $$p && break; done)
VENV ?= .venv
PORT ?= 8501
BIN := $(VENV)/bin

.PHONY: demo test test-unit install install-dev bench lint clean

$(BIN)/python:
	@test -n "$(PY)" || { echo "Python 3.11 or newer is required (python3 on PATH)"; exit 1; }
	$(PY) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ required"'
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

demo: $(VENV)/.installed
	$(BIN)/qhse demo --port $(PORT)

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest

# The pure rules: no database, no broker (tests/unit/conftest.py refuses those fixtures).
test-unit: $(VENV)/.installed-dev
	$(BIN)/python -m pytest tests/unit

# ruff (pyflakes, pycodestyle, isort, bugbear, pyupgrade) and mypy, configured in pyproject.toml.
lint: $(VENV)/.installed-dev
	@status=0; $(BIN)/ruff check . || status=1; $(BIN)/mypy || status=1; exit $$status

bench: $(VENV)/.installed-dev
	@for f in bench/*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
