# ptgm: set-up, tests and the whole reproduction. Everything runs on the CPU.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
WORKSPACE ?= workspace
PTGM := $(BIN)/ptgm --workspace $(WORKSPACE)
export MUJOCO_GL ?= egl

.PHONY: setup test quick reproduce bench clean

setup: $(VENV)/.installed

# torch first: the CPU wheel pinned here; an open range would pull a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

test: setup
	$(BIN)/python -m pytest -q

# The whole pipeline at a tiny budget (a few minutes), in its own workspace.
quick: WORKSPACE = workspace-quick
quick: setup
	$(PTGM) fetch-data --episodes 8 --force
	$(PTGM) status

# The whole pipeline on the defaults.
reproduce: setup
	$(PTGM) fetch-data
	$(PTGM) status

bench: setup
	$(BIN)/python bench/env_speed.py

clean:
	rm -rf $(VENV) workspace-quick
