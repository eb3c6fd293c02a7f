# ptgm: set-up, tests and the whole reproduction. Everything runs on the CPU.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
WORKSPACE ?= workspace
PTGM = $(BIN)/ptgm --workspace $(WORKSPACE)
export MUJOCO_GL ?= egl

.PHONY: setup browser test test-quick quick reproduce study bench clean

setup: $(VENV)/.installed

# torch first: the CPU wheel pinned here; an open range would pull a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

test: setup browser
	$(BIN)/python -m pytest -q

# `ptgm report`'s test opens the page in Debian's chromium, installed here when it is missing and
# this is a root shell with apt-get; elsewhere install chromium yourself, or that test is skipped.
browser:
	@command -v chromium >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 && \
		[ "$$(id -u)" = 0 ] && apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null; } || \
		echo "chromium is not installed: the report's browser test will be skipped"

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
	$(PTGM) train-skills --epochs 1 --force
	$(PTGM) eval-skills --segments 20 --prior-episodes 2 --force
	$(PTGM) train-rl --algo spirl-cl --env-steps 3000 --warmup-transitions 100 --checkpoint-every 1000 \
		--health-episodes 2 --eval-every 1500 --eval-episodes 2 --force
	$(PTGM) eval --run spirl-cl-seed0 --episodes 4 --force
	$(PTGM) plot ptgm-seed0 spirl-cl-seed0 --out $(WORKSPACE)/curves.png
	$(PTGM) status

# The whole pipeline on the defaults: PTGM, SPiRL-cl and flat SAC on the downstream task, seed 0.
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
SKILLS := $(W)/skills/default/manifest.json
SKILLS_CHECK := $(W)/eval/skills-default/manifest.json
PTGM_RUN := $(W)/rl/ptgm-seed0/manifest.json
SPIRL_RUN := $(W)/rl/spirl-cl-seed0/manifest.json
SAC_RUN := $(W)/rl/sac-seed0/manifest.json
PTGM_EVAL := $(W)/eval/ptgm-seed0/manifest.json
SPIRL_EVAL := $(W)/eval/spirl-cl-seed0/manifest.json
SAC_EVAL := $(W)/eval/sac-seed0/manifest.json
# An interrupted make must never delete a published manifest.
.PRECIOUS: $(DATASET) $(CODEBOOK) $(POLICY) $(PRIOR) $(POLICY_CHECK) $(SKILLS) $(SKILLS_CHECK) \
	$(PTGM_RUN) $(SPIRL_RUN) $(SAC_RUN) $(PTGM_EVAL) $(SPIRL_EVAL) $(SAC_EVAL)
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
$(SKILLS): | $(DATASET)
	$(PTGM) train-skills
$(SKILLS_CHECK): | $(SKILLS)
	$(PTGM) eval-skills
$(PTGM_RUN): | $(POLICY_CHECK) $(PRIOR)
	$(PTGM) train-rl --algo ptgm --seed 0 $(call resume_if_started,ptgm-seed0)
$(SPIRL_RUN): | $(SKILLS_CHECK) $(POLICY_CHECK) $(PRIOR)
	$(PTGM) train-rl --algo spirl-cl --seed 0 $(call resume_if_started,spirl-cl-seed0)
# Flat SAC needs none of the pre-trained models; it waits for them so that `make -j2` runs it beside
# PTGM, whose one-thread learner leaves part of two cores idle, rather than beside pre-training.
$(SAC_RUN): | $(POLICY_CHECK) $(PRIOR)
	$(PTGM) train-rl --algo sac --seed 0 --env-steps 200000 --num-envs 1 $(call resume_if_started,sac-seed0)
$(PTGM_EVAL): | $(PTGM_RUN)
	$(PTGM) eval --run ptgm-seed0 --episodes 50
$(SPIRL_EVAL): | $(SPIRL_RUN)
	$(PTGM) eval --run spirl-cl-seed0 --episodes 50
$(SAC_EVAL): | $(SAC_RUN)
	$(PTGM) eval --run sac-seed0 --episodes 50
$(W)/curves.png: | $(PTGM_EVAL) $(SPIRL_EVAL) $(SAC_EVAL)
	$(PTGM) plot ptgm-seed0 spirl-cl-seed0 sac-seed0 --out $@

# PTGM on the defaults over pre-training seeds x RL seeds (docs/experiments.md): pre-training seed
# S > 0 makes its own dataset, codebook, policy and prior, all named preS (seed 0's are the
# defaults); each set of pre-trained models is checked with eval-policy, whose health check plays
# 100 prior episodes (health-X); each RL seed trains PTGM on them to 1M env steps with
# 50-episode evaluations every 50k, then a final 50-episode eval; `ptgm report` of the runs puts
# each beside its health check. Resumable like reproduce.
PRETRAIN_SEEDS ?= 0 1 2
RL_SEEDS ?= 0 1
STUDY_STEPS ?= 1000000
pretrained = $(if $(filter 0,$(1)),default,pre$(1))
study_run = ptgm-1m-$(if $(filter 0,$(1)),,pre$(1)-)seed$(2)
study_runs = $(foreach S,$(PRETRAIN_SEEDS),$(foreach R,$(RL_SEEDS),$(call study_run,$(S),$(R))))

define PRETRAINING
$(W)/dataset/pre$(1)/manifest.json: | setup
	$(PTGM) fetch-data --seed $(1) --name pre$(1)
$(W)/codebook/pre$(1)/manifest.json: | $(W)/dataset/pre$(1)/manifest.json
	$(PTGM) build-codebook --dataset pre$(1) --seed $(1) --name pre$(1)
$(W)/policy/pre$(1)/manifest.json: | $(W)/dataset/pre$(1)/manifest.json
	$(PTGM) train-policy --dataset pre$(1) --seed $(1) --name pre$(1)
$(W)/prior/pre$(1)/manifest.json: | $(W)/codebook/pre$(1)/manifest.json
	$(PTGM) train-prior --dataset pre$(1) --codebook pre$(1) --seed $(1) --name pre$(1)
endef

define HEALTH
$(W)/eval/health-$(call pretrained,$(1))/manifest.json: | $(W)/policy/$(call pretrained,$(1))/manifest.json $(W)/prior/$(call pretrained,$(1))/manifest.json
	$(PTGM) eval-policy --dataset $(call pretrained,$(1)) --codebook $(call pretrained,$(1)) \
		--policy $(call pretrained,$(1)) --prior $(call pretrained,$(1)) --prior-episodes 100 \
		--name health-$(call pretrained,$(1))
endef

define STUDY_RUN
$(W)/rl/$(call study_run,$(1),$(2))/manifest.json: | $(W)/eval/health-$(call pretrained,$(1))/manifest.json
	$(PTGM) train-rl --seed $(2) --env-steps $(STUDY_STEPS) --eval-episodes 50 \
		--policy $(call pretrained,$(1)) --prior $(call pretrained,$(1)) \
		--codebook $(call pretrained,$(1)) --name $(call study_run,$(1),$(2)) \
		$(call resume_if_started,$(call study_run,$(1),$(2)))
$(W)/eval/$(call study_run,$(1),$(2))/manifest.json: | $(W)/rl/$(call study_run,$(1),$(2))/manifest.json
	$(PTGM) eval --run $(call study_run,$(1),$(2)) --episodes 50
.PRECIOUS: $(W)/rl/$(call study_run,$(1),$(2))/manifest.json \
	$(W)/eval/$(call study_run,$(1),$(2))/manifest.json
endef

$(foreach S,$(filter-out 0,$(PRETRAIN_SEEDS)),$(eval $(call PRETRAINING,$(S))))
$(foreach S,$(PRETRAIN_SEEDS),$(eval $(call HEALTH,$(S))))
$(foreach S,$(PRETRAIN_SEEDS),$(foreach R,$(RL_SEEDS),$(eval $(call STUDY_RUN,$(S),$(R)))))

study: $(foreach run,$(study_runs),$(W)/eval/$(run)/manifest.json)
	$(PTGM) plot $(study_runs) --out $(W)/study-curves.png
	$(PTGM) report $(study_runs) --name study --points 300000,1000000 --force
	$(PTGM) status

bench: setup
	$(BIN)/python bench/env_speed.py
	$(BIN)/python bench/datagen.py
	$(BIN)/python bench/pretrain.py
	$(BIN)/python bench/rl_speed.py --workspace $(WORKSPACE)

clean:
	rm -rf $(VENV) workspace-quick
