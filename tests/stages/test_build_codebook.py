import numpy as np
import pytest

from ptgm_cli.artifacts import load_codebook, load_dataset
from ptgm_cli.configs import BuildCodebookConfig
from ptgm_cli.data.episodes import write_episodes
from ptgm_cli.errors import PtgmError
from ptgm_cli.kitchen.layout import N_ACTION, QPOS_NAMES
from ptgm_cli.manifests import Manifest, Shapes
from ptgm_cli.stages import build_codebook
from ptgm_cli.workspace import Workspace


@pytest.mark.slow
def test_codebook_artifact(dataset_workspace):
    artifact = build_codebook.run(
        BuildCodebookConfig(name="five", n_codes=5, subsample=3, seed=2), dataset_workspace)
    codebook, _ = load_codebook(dataset_workspace, "five")
    manifest = artifact.manifest
    assert manifest.shapes.n_codes == 5 and manifest.shapes.goal_indices == list(
        codebook.goal_indices)
    assert manifest.parent("dataset").name == "default" and manifest.seed == 2
    assert sum(manifest.metrics["cluster_sizes"]) == manifest.metrics["goals"]
    assert {entry.path for entry in manifest.files} == {"codebook.safetensors", "codes.png"}
    assert artifact.file("codes.png").read_bytes()[:4] == b"\x89PNG"
    episodes, _ = load_dataset(dataset_workspace, "default")
    goals = codebook.goals_of(episodes.qpos_states()[::3])
    for code in codebook.codes:  # every code is one of the clustered goals
        assert np.abs(goals - code).max(axis=1).min() == 0


@pytest.mark.slow
def test_cli_build_codebook(dataset_workspace, run_cli):
    result = run_cli(dataset_workspace, "build-codebook", "--name", "cli", "--n-codes", "4",
                  "--method", "tsne-kmeans", "--goal-dims", "objects21")
    assert result.returncode == 0, result.stderr
    assert "codes with hinge cabinet done" in result.stdout
    assert dataset_workspace.read_manifest("codebook", "cli").shapes.goal_dim == 21


@pytest.mark.slow
def test_no_dataset_is_a_one_line_error_naming_fetch_data(tmp_path, run_cli):
    result = run_cli(Workspace(tmp_path), "build-codebook")
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and "Traceback" not in result.stderr
    assert "run `ptgm fetch-data` first" in result.stderr


def test_dataset_of_another_state_layout_is_refused(tmp_path, publish_random_dataset):
    workspace = Workspace(tmp_path)
    publish_random_dataset(workspace, state_names=tuple(f"x{i}" for i in range(30)))
    with pytest.raises(PtgmError, match="different state layout.*fetch-data --name default"):
        build_codebook.run(BuildCodebookConfig(), workspace)


def test_goals_whose_spread_overflows_make_no_codebook(tmp_path, random_episodes):
    """A finite but absurd joint angle: its goal std overflows float32."""
    episodes = random_episodes()
    episodes.observations[2, 0] = 3e38  # a robot joint: a goal dim of paper21
    workspace = Workspace(tmp_path)
    manifest = Manifest(kind="dataset", name="default", seed=0,
                        shapes=Shapes(state_names=list(QPOS_NAMES), action_dim=N_ACTION))
    with workspace.publish(manifest) as staging:
        write_episodes(staging.file("episodes.h5"), episodes)
    with pytest.raises(PtgmError, match="codebook 'default': the goals of dataset 'default' are "
                                        "not finite \\(goal_std\\); re-create it with `ptgm "
                                        "fetch-data --name default --force`") as error:
        build_codebook.run(BuildCodebookConfig(n_codes=2, subsample=1), workspace)
    assert "\n" not in str(error.value)
    assert not (tmp_path / "codebook").exists() or not any((tmp_path / "codebook").iterdir())
