# The few commands a newcomer needs. Each creates .venv and installs the project when missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum < pyproject.toml | cut -d' ' -f1)
# The dashboard shows the demo database unless DATABASE_URL points elsewhere.
DASHBOARD_DB ?= $(or $(DATABASE_URL),sqlite:///var/demo.sqlite3)

.PHONY: setup demo demo-cases test pytest dashboard bench lint format clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,bench]"
	@rm -f $(VENV)/.installed-* && touch $@

setup: $(STAMP)  ## create .venv and install the project with its dev tools

demo: $(STAMP)  ## the main job: 90 simulated days through the real loop, into var/demo.sqlite3
	$(BIN)/dunning demo

demo-cases: $(STAMP)  ## the same with repeat cases: customers late again, the late_again KPI
	$(BIN)/dunning demo --experiment experiments/dunning_repeat_cases.yaml

test: lint pytest  ## everything CI checks: lint, types, and the whole test suite

# A test file per worker keeps each module's fixtures (a demo database, a server) built once.
# The 15 slowest tests are listed at the end: the suite must stay under about 15 minutes.
pytest: $(STAMP)
	$(BIN)/python -m pytest -n auto --dist loadfile --durations=15

dashboard: $(STAMP)  ## the Streamlit dashboard (http://localhost:8501)
	DATABASE_URL="$(DASHBOARD_DB)" $(BIN)/streamlit run dashboards/app.py

bench: $(STAMP)  ## benchmarks against peers, printed as ratios
	$(BIN)/python -m benchmarks.run

lint: $(STAMP)  ## ruff (lint + format check) and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis
