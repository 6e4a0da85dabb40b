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

PERIOD ?=

.PHONY: weekly ingest report test lint demo-data bench clean install

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

weekly: $(STAMP)
	$(BIN)/lagesbild weekly --config $(CONFIG) $(WEEK_ARG)

report: $(STAMP)
	@test -n "$(PERIOD)" || { echo "make report PERIOD=2026-Q3 (a quarter) or PERIOD=2026 (a year)"; exit 2; }
	$(BIN)/lagesbild report --config $(CONFIG) --period $(PERIOD)

ingest: $(STAMP)
	$(BIN)/lagesbild ingest --config $(CONFIG)

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check pipeline tests bench conftest.py
	$(BIN)/ruff format --check pipeline tests bench conftest.py

demo-data: $(STAMP)
	$(BIN)/lagesbild demo-data --config $(CONFIG)

# The forecast's backtest (every week predicted only from the weeks before it; a table per
# candidate setting): on the configured data; CITY=chicago on the real Chicago assaults of
# ../shared/data/real (2019, 100 m cells); EVENTS=file.csv CRS=EPSG:4326 [AREA=polygon file]
# [WEEKS=2019-W01:2019-W52] [CELL=100] on any city's events. SAVE=1 also writes a GeoTIFF per week.
.PHONY: backtest
BACKTEST_OUT ?= data/processed/backtest
BACKTEST_FLAGS = $(if $(WEEKS),--weeks $(WEEKS),) $(if $(CELL),--cell-size $(CELL),) $(if $(SAVE),--save-forecasts,)
backtest: $(STAMP)
ifeq ($(CITY),chicago)
	$(BIN)/python -m bench.forecast_bench --prepare $(BACKTEST_OUT)/chicago_input
	$(BIN)/lagesbild backtest --events $(BACKTEST_OUT)/chicago_input/chicago_events.csv --crs EPSG:4326 \
		--area $(BACKTEST_OUT)/chicago_input/chicago_area.gpkg --weeks $(or $(WEEKS),2019-W01:2019-W52) \
		--cell-size $(or $(CELL),100) $(if $(SAVE),--save-forecasts,) --out $(BACKTEST_OUT)/chicago
else ifneq ($(EVENTS),)
	$(BIN)/lagesbild backtest --events $(EVENTS) --crs $(or $(CRS),EPSG:4326) $(if $(AREA),--area $(AREA),) \
		$(BACKTEST_FLAGS) --out $(BACKTEST_OUT)
else
	$(BIN)/lagesbild backtest --config $(CONFIG) $(BACKTEST_FLAGS)
endif

bench: $(STAMP)
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python -m bench.run

clean:
	rm -rf data/processed maps bench/results.json .pytest_cache
