"""`ptgm train-skills`: SPiRL's skill model as an artifact, through the CLI; determinism; the
loader's refusals."""

import pytest
import torch

from ptgm_cli.artifacts import load_skills
from ptgm_cli.configs import TrainSkillsConfig
from ptgm_cli.errors import PtgmError
from ptgm_cli.manifests import Manifest
from ptgm_cli.models.skills import SKILLS_FILE
from ptgm_cli.stages import train_skills

pytestmark = pytest.mark.slow

TINY = {"epochs": 1, "skill_length": 4, "latent_dim": 3, "hidden": 16, "batch_size": 32}


def tiny_options(**overrides) -> list[str]:
    options = {**TINY, **overrides}
    return [part for key, value in options.items()
            for part in (f"--{key.replace('_', '-')}", str(value))]


@pytest.mark.parametrize("decoder", ["closed-loop", "open-loop"])
def test_cli_trains_and_publishes_skills(dataset_workspace, run_cli, decoder):
    name = f"tiny-{decoder}"
    result = run_cli(dataset_workspace, "train-skills", "--name", name, "--decoder", decoder,
                     *tiny_options())
    assert result.returncode == 0, result.stderr
    artifact = dataset_workspace.load("skills", name)
    manifest = artifact.manifest
    assert manifest.shapes.skill_length == 4 and manifest.shapes.latent_dim == 3
    assert manifest.shapes.action_dim == 9 and len(manifest.shapes.state_names) == 59
    assert manifest.parent("dataset").name == "default"
    assert {"validation_action_mse", "validation_kl", "validation_prior_kl",
            "train_segments", "validation_segments"} <= set(manifest.metrics)
    model, _ = load_skills(dataset_workspace, name)
    assert model.closed_loop == (decoder == "closed-loop")
    assert not model.training
    states = torch.randn(2, 5, 59)
    assert model.decode(torch.zeros(2, 3), states).shape == (2, 4, 9)


def test_same_seed_same_weights(dataset_workspace):
    files = []
    for name in ("seeded-a", "seeded-b"):
        artifact = train_skills.run(TrainSkillsConfig(name=name, **TINY), dataset_workspace)
        files.append(artifact.file(SKILLS_FILE).read_bytes())
    assert files[0] == files[1]


@pytest.mark.parametrize("shape, value, message", [
    ("latent_dim", 5, "latent dim 5, not 3"),
    ("action_dim", 7, "action dim 7, not 9"),
    ("skill_length", 6, "skill length 6, not 4"),
])
def test_skills_whose_manifest_disagrees_with_their_config_are_refused(
        dataset_workspace, shape, value, message):
    source = train_skills.run(TrainSkillsConfig(name="source", **TINY), dataset_workspace,
                              force=True)
    shapes = source.manifest.shapes.model_copy(update={shape: value})
    manifest = Manifest(kind="skills", name="odd", parents=source.manifest.parents,
                        config=source.manifest.config, shapes=shapes)
    with dataset_workspace.publish(manifest, overwrite=True) as staging:
        staging.file(SKILLS_FILE).write_bytes(source.file(SKILLS_FILE).read_bytes())
    with pytest.raises(PtgmError, match=f"skills 'odd' record {message}; retrain it"):
        load_skills(dataset_workspace, "odd")


def test_skills_of_another_state_layout_are_refused(dataset_workspace):
    source = train_skills.run(TrainSkillsConfig(name="source", **TINY), dataset_workspace,
                              force=True)
    shapes = source.manifest.shapes.model_copy(
        update={"state_names": source.manifest.shapes.state_names[:30]})
    manifest = Manifest(kind="skills", name="odd-states", parents=source.manifest.parents,
                        config=source.manifest.config, shapes=shapes)
    with dataset_workspace.publish(manifest, overwrite=True) as staging:
        staging.file(SKILLS_FILE).write_bytes(source.file(SKILLS_FILE).read_bytes())
    with pytest.raises(PtgmError, match="skills 'odd-states'"):
        load_skills(dataset_workspace, "odd-states")
