# ptgm: set-up, tests and the whole reproduction. Everything runs on the CPU.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
WORKSPACE ?= workspace
PTGM = $(BIN)/ptgm --workspace $(WORKSPACE)
export MUJOCO_GL ?= egl

.PHONY: setup test test-quick quick reproduce bench clean

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

# Everything but the tests marked slow (the stages end to end, the pre-trained fixtures): < 1 min.
test-quick: setup
	$(BIN)/python -m pytest -q -m "not slow"

# The whole pipeline at a tiny budget (a few minutes), in its own workspace.
quick: WORKSPACE = workspace-quick
quick: setup
	$(PTGM) fetch-data --episodes 12 --force
	$(PTGM) build-codebook --n-codes 10 --force
	$(PTGM) train-policy --epochs 1 --force
	$(PTGM) train-prior --epochs 1 --force
	$(PTGM) eval-policy --states 50 --subtask-trials 5 --prior-episodes 4 --force
	$(PTGM) train-rl --env-steps 3000 --warmup-transitions 100 --checkpoint-every 1000 --health-episodes 2 \
		--eval-every 1500 --eval-episodes 2 --force
	$(PTGM) eval --run ptgm-seed0 --episodes 4 --force
	$(PTGM) plot ptgm-seed0 --out $(WORKSPACE)/curves.png
	$(PTGM) status

# The whole pipeline on the defaults: PTGM and flat SAC on the downstream task, seed 0.
# Each stage's manifest is a target, so running `make reproduce` again skips the finished stages
# and resumes an interrupted RL run from its last checkpoint. The prerequisites are order-only:
# ptgm itself checks every artifact against its parents' checksums.
# Flat SAC takes a gradient step per env step (~60 steps/s here), so it gets 200k steps.
W := $(WORKSPACE)
DATASET := $(W)/dataset/default/manifest.json
CODEBOOK := $(W)/codebook/default/manifest.json
POLICY := $(W)/policy/default/manifest.json
PRIOR := $(W)/prior/default/manifest.json
POLICY_CHECK := $(W)/eval/policy-default/manifest.json
PTGM_RUN := $(W)/rl/ptgm-seed0/manifest.json
SAC_RUN := $(W)/rl/sac-seed0/manifest.json
PTGM_EVAL := $(W)/eval/ptgm-seed0/manifest.json
SAC_EVAL := $(W)/eval/sac-seed0/manifest.json
# An interrupted make must never delete a published manifest.
.PRECIOUS: $(DATASET) $(CODEBOOK) $(POLICY) $(PRIOR) $(POLICY_CHECK) $(PTGM_RUN) $(SAC_RUN) \
	$(PTGM_EVAL) $(SAC_EVAL)
resume_if_started = $(if $(wildcard $(W)/rl/.runs/$(1)/resume.pt),--resume)

reproduce: $(W)/curves.png
	$(PTGM) status

$(DATASET): | setup
	$(PTGM) fetch-data
$(CODEBOOK): | $(DATASET)
	$(PTGM) build-codebook
$(POLICY): | $(DATASET)
	$(PTGM) train-policy
$(PRIOR): | $(CODEBOOK)
	$(PTGM) train-prior
$(POLICY_CHECK): | $(POLICY) $(CODEBOOK)
	$(PTGM) eval-policy
$(PTGM_RUN): | $(POLICY_CHECK) $(PRIOR)
	$(PTGM) train-rl --algo ptgm --seed 0 $(call resume_if_started,ptgm-seed0)
# Flat SAC needs none of the pre-trained models; it waits for them so that `make -j2` runs it beside
# PTGM, whose one-thread learner leaves part of two cores idle, rather than beside pre-training.
$(SAC_RUN): | $(POLICY_CHECK) $(PRIOR)
	$(PTGM) train-rl --algo sac --seed 0 --env-steps 200000 --num-envs 1 $(call resume_if_started,sac-seed0)
$(PTGM_EVAL): | $(PTGM_RUN)
	$(PTGM) eval --run ptgm-seed0 --episodes 50
$(SAC_EVAL): | $(SAC_RUN)
	$(PTGM) eval --run sac-seed0 --episodes 50
$(W)/curves.png: | $(PTGM_EVAL) $(SAC_EVAL)
	$(PTGM) plot ptgm-seed0 sac-seed0 --out $@

bench: setup
	$(BIN)/python bench/env_speed.py
	$(BIN)/python bench/datagen.py
	$(BIN)/python bench/pretrain.py
	$(BIN)/python bench/rl_speed.py --workspace $(WORKSPACE)

clean:
	rm -rf $(VENV) workspace-quick
