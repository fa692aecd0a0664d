# Two commands do everything: `make lab` and `make test`.
# Both create .venv with the system python and install the package (editable, with extras) first.
# `make lab LAB_ARGS="--allow-root --no-browser --ip=0.0.0.0 --port=8888"` passes options
# to `jupyter lab` (as root in a container or VM, or on a remote machine).
PYTHON ?= python3
LAB_ARGS ?=
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: lab test lint fixtures bench fuzz clean

$(STAMP): pyproject.toml
	@echo "==> installing specanalysis and its dependencies into $(VENV) (first run: a few minutes)"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --progress-bar on --upgrade pip
	$(BIN)/python -m pip install --progress-bar on -e '.[dev]'
	touch $(STAMP)
	@echo "==> installed; next time this step is skipped until pyproject.toml changes"

lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=notebooks $(LAB_ARGS)

test: $(STAMP)
	$(BIN)/ruff check specanalysis tests benchmarks
	$(BIN)/python -m pytest -n 2 --nbmake --nbmake-timeout=120

lint: $(STAMP)
	$(BIN)/ruff check specanalysis tests benchmarks
	$(BIN)/ruff format --check specanalysis tests benchmarks

fixtures: $(STAMP)
	$(BIN)/specanalysis fixtures build

# the fuzz tier's long profile: >= 100,000 cases per parser (hours on 2 cores)
fuzz: $(STAMP)
	SPECANALYSIS_FUZZ=long $(BIN)/python -m pytest -n 2 -q tests/fuzz

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_loaders.py
	$(BIN)/python benchmarks/bench_sim.py
	$(BIN)/python benchmarks/bench_compare.py
	$(BIN)/python benchmarks/bench_models.py
	$(BIN)/python benchmarks/bench_sweep.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
