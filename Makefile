# lägesbild — make drives every step (cookiecutter-data-science style).
# Raw exports in data/raw are never written; everything else is derived and can be rebuilt.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CONFIG ?= config.yaml
WEEK ?=
BACKFILL ?=

WEEK_ARG := $(if $(WEEK),--week $(WEEK),) $(if $(BACKFILL),--backfill,)

.PHONY: weekly ingest test lint demo-data bench clean install

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

weekly: $(STAMP)
	$(BIN)/lagesbild weekly --config $(CONFIG) $(WEEK_ARG)

ingest: $(STAMP)
	$(BIN)/lagesbild ingest --config $(CONFIG)

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check pipeline tests bench conftest.py
	$(BIN)/ruff format --check pipeline tests bench conftest.py

demo-data: $(STAMP)
	$(BIN)/lagesbild demo-data --config $(CONFIG)

bench: $(STAMP)
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python -m bench.run

clean:
	rm -rf data/processed maps bench/results.json .pytest_cache
