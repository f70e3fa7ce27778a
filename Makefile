# One command to set up and launch the app; one to set up and run the tests.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip

.PHONY: setup run test ingest bench eval lint browser clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e '.[dev]'
	touch $@

run: setup
	$(PY) app.py

ingest: setup
	$(PY) -m assistant ingest

# Debian's Chromium for the browser tests (Playwright never downloads one).
browser:
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

test: setup browser
	$(PY) -m pytest -q

bench: setup
	$(PY) -m eval.bench

eval: setup
	$(PY) -m eval

lint: setup
	$(VENV)/bin/ruff check assistant eval tests app.py

clean:
	rm -rf $(VENV) .assistant
