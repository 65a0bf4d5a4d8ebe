# The two commands: `make demo` (pipeline on the embedded default, then the API) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# `make demo PORT=8080` serves on another port (the same as CHURNOPS_PORT=8080)
demo: $(STAMP)
	$(BIN)/churnops pipeline
	$(BIN)/churnops registry list
	$(if $(PORT),CHURNOPS_PORT=$(PORT) )$(BIN)/churnops serve

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest -q

test: lint typecheck pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_pipeline.py
	$(BIN)/python benchmarks/bench_api.py
	$(BIN)/python benchmarks/bench_drift.py

clean:
	rm -rf data models registry logs reports
