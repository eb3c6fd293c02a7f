import pytest

from ptgm_cli.config import config_to_toml, read_config_file, resolve_config
from ptgm_cli.configs import BuildCodebookConfig, TrainPriorConfig, TrainRLConfig
from ptgm_cli.errors import PtgmError


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


def test_a_run_rebuilds_with_the_critic_settings_it_was_trained_with():
    predates_them = TrainRLConfig.of_run({"seed": 3})
    assert predates_them.next_value == "sampled" and not predates_them.critic_layer_norm
    assert not predates_them.critic_time
    recorded = TrainRLConfig(seed=3).model_dump(mode="json")
    assert TrainRLConfig.of_run(recorded) == TrainRLConfig(seed=3)
