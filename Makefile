# Interlink developer commands. `make setup` builds .venv from pyproject.toml; every other
# target uses that venv, so a fresh machine needs nothing else installed by hand.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONFIG ?=
HOST ?= 127.0.0.1
PORT ?= 4000

.PHONY: setup run demo test test-fast lint clean

$(BIN)/interlink: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	@touch $@

setup: $(BIN)/interlink

run: setup
	$(BIN)/interlink serve $(if $(CONFIG),--config $(CONFIG)) --host $(HOST) --port $(PORT)

demo: setup
	$(BIN)/interlink demo --port $(PORT)

test: setup
	$(BIN)/pytest -q

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .hypothesis
