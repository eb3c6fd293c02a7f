import math
from pathlib import Path

import pytest

from ptgm_cli.config import check_writable_file, config_to_toml, read_config_file, resolve_config
from ptgm_cli.configs import (
    BuildCodebookConfig,
    EvalConfig,
    EvalPolicyConfig,
    FetchDataConfig,
    TrainPolicyConfig,
    TrainPriorConfig,
    TrainRLConfig,
    flag,
)
from ptgm_cli.errors import PtgmError

STAGE_CONFIGS = (FetchDataConfig, BuildCodebookConfig, TrainPolicyConfig, TrainPriorConfig,
                 EvalPolicyConfig, TrainRLConfig, EvalConfig)


def test_flags_override_file_override_defaults(tmp_path):
    path = tmp_path / "experiment.toml"
    path.write_text('n-codes = 20\nmethod = "tsne-kmeans"\n')
    config = resolve_config(BuildCodebookConfig, read_config_file(path), {"n_codes": 30,
                            "seed": None}, "build-codebook")
    assert (config.n_codes, config.method, config.goal_dims, config.seed) == (
        30, "tsne-kmeans", "paper21", 0)


def test_resolved_config_round_trips_through_toml(tmp_path):
    config = TrainRLConfig(tasks="microwave,kettle", env_steps=1000, any_order=True)
    path = tmp_path / "shown.toml"
    path.write_text(config_to_toml(config.model_dump(mode="json")))
    again = resolve_config(TrainRLConfig, read_config_file(path), {}, "train-rl")
    assert again == config and again.tasks == ("microwave", "kettle")


def test_invalid_values_are_user_errors():
    with pytest.raises(PtgmError, match="--n-codes"):
        resolve_config(BuildCodebookConfig, {}, {"n_codes": 1}, "build-codebook")
    with pytest.raises(PtgmError, match="unknown subtask"):
        resolve_config(TrainRLConfig, {}, {"tasks": "microwave,toaster"}, "train-rl")
    with pytest.raises(PtgmError, match="--min-horizon 11 exceeds --horizon 10"):
        resolve_config(TrainPriorConfig, {}, {"min_horizon": 11}, "train-prior")


def test_options_of_another_algorithm_are_refused():
    with pytest.raises(PtgmError, match="--target-divergence does not apply to --algo sac"):
        resolve_config(TrainRLConfig, {"algo": "sac"}, {"target_divergence": 2.0}, "train-rl")
    with pytest.raises(PtgmError, match="--critics, --lr does not apply to --algo sac"):
        resolve_config(TrainRLConfig, {"lr": 1e-3, "critics": "paper"}, {"algo": "sac"},
                       "train-rl")
    with pytest.raises(PtgmError, match="--target-entropy does not apply to --algo ptgm"):
        resolve_config(TrainRLConfig, {}, {"target_entropy": 1.0}, "train-rl")
    assert resolve_config(TrainRLConfig, {}, {"algo": "sac", "target_entropy": -5.0},
                          "train-rl").target_entropy == -5.0


@pytest.mark.parametrize("algo", ["ptgm", "ptgm-noprior", "sac"])
def test_a_run_records_only_its_algorithms_options_and_rebuilds_from_them(algo):
    config = TrainRLConfig(algo=algo, seed=3)
    recorded = config.recorded()
    assert ("target_divergence" in recorded) == (algo == "ptgm")
    assert ("critics" in recorded) == (algo != "sac")
    assert ("target_entropy" in recorded) == (algo != "ptgm")
    assert TrainRLConfig(**recorded) == config


def float_fields(config_cls) -> list[str]:
    return [name for name, field in config_cls.model_fields.items()
            if field.annotation in (float, float | None)]


@pytest.mark.parametrize("config_cls", STAGE_CONFIGS, ids=lambda cls: cls.__name__)
def test_no_float_option_takes_inf_or_nan(config_cls):
    assert float_fields(TrainRLConfig) and float_fields(FetchDataConfig)
    for name in float_fields(config_cls):
        for value in (math.inf, -math.inf, math.nan):
            with pytest.raises(PtgmError, match=f"^{flag(name)}: Input should be a finite number"):
                resolve_config(config_cls, {}, {name: value}, "command")


@pytest.mark.parametrize("config_cls", STAGE_CONFIGS, ids=lambda cls: cls.__name__)
def test_every_seed_fits_numpys_global_seeding(config_cls):
    assert config_cls(seed=2**32 - 1).seed == 2**32 - 1
    for seed in (2**32, -1):
        with pytest.raises(PtgmError, match="^--seed: Input should be"):
            resolve_config(config_cls, {}, {"seed": seed}, "command")


NAME_OPTIONS = ("name", "dataset", "codebook", "policy", "prior", "run")
# The text options that are not artifact names.
TEXT_OPTIONS = {"dataset_id", "url"}


@pytest.mark.parametrize("config_cls", STAGE_CONFIGS, ids=lambda cls: cls.__name__)
def test_every_artifact_name_follows_the_workspace_rule(config_cls):
    for name in set(NAME_OPTIONS) & set(config_cls.model_fields):
        for value in ("", "x\n", "../../other/prior/default", "a/b", "a" * 101):
            with pytest.raises(PtgmError, match=f"^{flag(name)}: invalid artifact name"):
                resolve_config(config_cls, {}, {name: value}, "command")
        assert getattr(config_cls(**{name: "a" * 100}), name) == "a" * 100


def test_text_options_that_are_not_names_are_known():
    """A new text option is either an artifact name, checked as one, or listed here."""
    text = {name for cls in STAGE_CONFIGS for name, field in cls.model_fields.items()
            if field.annotation in (str, str | None)}
    assert text - set(NAME_OPTIONS) == TEXT_OPTIONS


def test_train_rl_refuses_tasks_given_twice_and_runs_too_short_for_an_episode():
    with pytest.raises(PtgmError, match=r"^--tasks: subtask\(s\) \['microwave'\] given more"):
        resolve_config(TrainRLConfig, {}, {"tasks": "microwave,kettle,microwave"}, "train-rl")
    with pytest.raises(PtgmError, match="^--env-steps 559 ends before an episode does: with "
                       "--episode-steps 280 and --num-envs 2, give at least 560$"):
        resolve_config(TrainRLConfig, {}, {"env_steps": 559}, "train-rl")
    assert TrainRLConfig(env_steps=100, episode_steps=50, num_envs=2).env_steps == 100


def test_a_resumed_runs_recorded_config_starts_it_afresh(tmp_path):
    recorded = TrainRLConfig(resume=True, env_steps=1000).recorded()
    assert "resume" not in recorded
    path = tmp_path / "shown.toml"
    path.write_text(config_to_toml(recorded))
    assert not resolve_config(TrainRLConfig, read_config_file(path), {}, "train-rl").resume


def test_a_config_file_that_cannot_be_read_is_a_user_error(tmp_path):
    with pytest.raises(PtgmError, match=f"^cannot read config file {tmp_path}: Is a directory"):
        read_config_file(tmp_path)


def test_a_file_to_write_is_checked_before_the_work(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert check_writable_file(tmp_path / "new" / "deeper" / "out.png").name == "out.png"
    assert check_writable_file(blocker) == blocker
    with pytest.raises(PtgmError, match=f"{blocker} is a file, not a folder"):
        check_writable_file(blocker / "out.png")
    with pytest.raises(PtgmError, match="is a folder; give a file name"):
        check_writable_file(tmp_path)
    with pytest.raises(PtgmError, match="File name too long"):
        check_writable_file(tmp_path / ("a" * 300) / "out.png")


@pytest.mark.parametrize("path", ["/proc/ptgm-video.mp4", "/proc/missing/curves.png"])
def test_a_file_system_that_takes_no_files_is_refused_even_for_root(path):
    """/proc grants root every permission bit yet takes no new file."""
    with pytest.raises(PtgmError, match=f"cannot write {path}"):
        check_writable_file(Path(path))
