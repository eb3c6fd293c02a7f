import subprocess
import sys
import textwrap

import pytest

from ptgm_cli.errors import PtgmError
from ptgm_cli.manifests import SCHEMA_VERSION, Manifest, Shapes
from ptgm_cli.workspace import Workspace


def publish_dataset(workspace: Workspace, name: str = "data", payload: bytes = b"abc", **kwargs):
    manifest = Manifest(kind="dataset", name=name, config={"episodes": 3},
                        shapes=Shapes(state_names=["a", "b"], action_dim=9), seed=0)
    with workspace.publish(manifest, **kwargs) as staging:
        staging.file("episodes.bin").write_bytes(payload)
    return workspace.load("dataset", name)


def test_manifest_round_trip(tmp_path):
    workspace = Workspace(tmp_path)
    artifact = publish_dataset(workspace)
    again = Manifest.model_validate_json(artifact.file("manifest.json").read_text())
    assert again == artifact.manifest
    assert [entry.path for entry in again.files] == ["episodes.bin"]
    assert again.shapes.state_dim == 2 and again.versions["mujoco"] == "3.11.0"


def test_tampered_file_is_detected(tmp_path):
    workspace = Workspace(tmp_path)
    artifact = publish_dataset(workspace)
    artifact.file("episodes.bin").write_bytes(b"abd")
    with pytest.raises(PtgmError, match="does not match its checksum.*ptgm fetch-data"):
        workspace.load("dataset", "data")


def test_an_artifact_of_an_earlier_schema_says_to_re_run_its_stage(tmp_path):
    workspace = Workspace(tmp_path)
    artifact = publish_dataset(workspace)
    manifest_file = artifact.file("manifest.json")
    manifest_file.write_text(manifest_file.read_text().replace(
        f'"schema_version": {SCHEMA_VERSION}', f'"schema_version": {SCHEMA_VERSION - 1}'))
    fix = "re-create it with `ptgm fetch-data --name data --force`"
    with pytest.raises(PtgmError, match=f"schema {SCHEMA_VERSION - 1} .* not readable.*{fix}"):
        workspace.load("dataset", "data")
    manifests, problems = workspace.all_manifests()
    assert manifests == [] and len(problems) == 1 and problems[0].endswith(fix)


def test_missing_file_and_corrupt_manifest(tmp_path):
    workspace = Workspace(tmp_path)
    artifact = publish_dataset(workspace)
    artifact.file("episodes.bin").unlink()
    with pytest.raises(PtgmError, match="missing"):
        workspace.load("dataset", "data")
    artifact.file("manifest.json").write_text("{not json")
    with pytest.raises(PtgmError, match="corrupt"):
        workspace.load("dataset", "data")


def test_missing_and_replaced_parents(tmp_path):
    workspace = Workspace(tmp_path)
    parent = publish_dataset(workspace)
    child = Manifest(kind="codebook", name="codes", parents=[parent.ref])
    with workspace.publish(child) as staging:
        staging.file("codebook.npy").write_bytes(b"1")
    workspace.load("codebook", "codes")
    publish_dataset(workspace, payload=b"new", overwrite=True)
    with pytest.raises(PtgmError, match="has since been replaced"):
        workspace.load("codebook", "codes")
    with pytest.raises(PtgmError, match="run `ptgm build-codebook` first"):
        workspace.load("codebook", "other")


def test_existing_artifact_needs_overwrite(tmp_path):
    workspace = Workspace(tmp_path)
    publish_dataset(workspace)
    with pytest.raises(PtgmError, match="--force"):
        publish_dataset(workspace)
    assert publish_dataset(workspace, payload=b"xyz", overwrite=True).file(
        "episodes.bin").read_bytes() == b"xyz"


def test_exception_mid_publish_leaves_nothing(tmp_path):
    workspace = Workspace(tmp_path)
    with pytest.raises(RuntimeError):
        with workspace.publish(Manifest(kind="dataset", name="data")) as staging:
            staging.file("episodes.bin").write_bytes(b"partial")
            raise RuntimeError("crash")
    assert not workspace.exists("dataset", "data")
    assert list((tmp_path / "dataset").iterdir()) == []


def test_killed_process_mid_publish_leaves_nothing_visible(tmp_path):
    """A hard kill (no clean-up at all) while the manifest is already staged."""
    script = textwrap.dedent(f"""
        import os
        from ptgm_cli.manifests import Manifest
        from ptgm_cli.workspace import Workspace
        import ptgm_cli.workspace as ws
        ws._fsync_tree = lambda folder: os._exit(9)  # die just before the rename
        with Workspace({str(tmp_path)!r}).publish(Manifest(kind="dataset", name="data")) as s:
            s.file("episodes.bin").write_bytes(b"partial")
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert result.returncode == 9
    workspace = Workspace(tmp_path)
    assert not workspace.exists("dataset", "data") and workspace.names("dataset") == []
    assert workspace.all_manifests() == ([], [])
    assert workspace.remove_stale_staging() == 1


def test_invalid_names_are_refused(tmp_path):
    with pytest.raises(PtgmError, match="invalid artifact name"):
        publish_dataset(Workspace(tmp_path), name="../escape")
