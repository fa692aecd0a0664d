# Two commands do everything: `make lab` and `make test`.
# Both create .venv with the system python and install the package (editable, with extras) first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: lab test lint fixtures bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=notebooks

test: $(STAMP)
	$(BIN)/ruff check specanalysis tests benchmarks
	$(BIN)/python -m pytest -n 2 --nbmake --nbmake-timeout=120

lint: $(STAMP)
	$(BIN)/ruff check specanalysis tests benchmarks
	$(BIN)/ruff format --check specanalysis tests benchmarks

fixtures: $(STAMP)
	$(BIN)/specanalysis fixtures build

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_loaders.py
	$(BIN)/python benchmarks/bench_sim.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
