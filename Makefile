# ptgm: set-up, tests and the whole reproduction. Everything runs on the CPU.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
WORKSPACE ?= workspace
PTGM = $(BIN)/ptgm --workspace $(WORKSPACE)
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
	$(PTGM) fetch-data --episodes 12 --force
	$(PTGM) build-codebook --n-codes 10 --force
	$(PTGM) train-policy --epochs 1 --force
	$(PTGM) train-prior --epochs 1 --force
	$(PTGM) eval-policy --states 50 --subtask-trials 5 --force
	$(PTGM) train-rl --env-steps 3000 --warmup 100 --checkpoint-every 1000 --eval-every 1500 \
		--eval-episodes 2 --force
	$(PTGM) eval --run ptgm-seed0 --episodes 4 --force
	$(PTGM) plot ptgm-seed0 --out $(WORKSPACE)/curves.png
	$(PTGM) status

# The whole pipeline on the defaults: PTGM and flat SAC on the downstream task, seed 0.
# Flat SAC takes a gradient step per env step (~60 steps/s here), so it gets 200k steps.
reproduce: setup
	$(PTGM) fetch-data
	$(PTGM) build-codebook
	$(PTGM) train-policy
	$(PTGM) train-prior
	$(PTGM) eval-policy
	$(PTGM) train-rl --algo ptgm --seed 0
	$(PTGM) train-rl --algo sac --seed 0 --env-steps 200000 --num-envs 1
	$(PTGM) eval --run ptgm-seed0 --episodes 50
	$(PTGM) eval --run sac-seed0 --episodes 50
	$(PTGM) plot ptgm-seed0 sac-seed0 --out $(WORKSPACE)/curves.png
	$(PTGM) status

bench: setup
	$(BIN)/python bench/env_speed.py
	$(BIN)/python bench/datagen.py
	$(BIN)/python bench/pretrain.py
	$(BIN)/python bench/rl_speed.py --workspace $(WORKSPACE)

clean:
	rm -rf $(VENV) workspace-quick
