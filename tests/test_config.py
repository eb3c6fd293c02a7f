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
