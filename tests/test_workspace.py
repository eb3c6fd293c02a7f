import hashlib
import json
import os
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from ptgm_cli.errors import PtgmError
from ptgm_cli.manifests import SCHEMA_VERSION, Manifest, ParentRef, Shapes, manifest_json
from ptgm_cli.workspace import Workspace, check_name

FIX = "re-create it with `ptgm fetch-data --name data --force`"


def publish_dataset(workspace: Workspace, name: str = "data", payload: bytes = b"abc", **kwargs):
    manifest = Manifest(kind="dataset", name=name, config={"episodes": 3},
                        shapes=Shapes(state_names=["a", "b"], action_dim=9), seed=0)
    with workspace.publish(manifest, **kwargs) as staging:
        staging.file("episodes.h5").write_bytes(payload)
    return workspace.load("dataset", name)


def publish_codebook(workspace: Workspace, parent: ParentRef, **kwargs):
    with workspace.publish(Manifest(kind="codebook", name="codes", parents=[parent]),
                           **kwargs) as staging:
        staging.file("codebook.safetensors").write_bytes(b"1")
    return workspace.load("codebook", "codes")


def rewrite_manifest(artifact, **changes) -> None:
    """Change a manifest's fields and give it a valid digest again, as a careful forger would."""
    manifest = artifact.manifest.model_copy(update=changes)
    artifact.file("manifest.json").write_text(manifest_json(manifest))


def python_script(body: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(body)]


def test_manifest_round_trip(tmp_path):
    workspace = Workspace(tmp_path)
    artifact = publish_dataset(workspace)
    text = artifact.file("manifest.json").read_text()
    again = Manifest.model_validate_json(text)
    assert again == artifact.manifest and len(again.digest) == 64
    assert text == manifest_json(again)
    assert [entry.path for entry in again.files] == ["episodes.h5"]
    assert again.shapes.state_dim == 2 and again.versions["mujoco"] == "3.11.0"


def test_tampered_file_is_detected(tmp_path):
    workspace = Workspace(tmp_path)
    artifact = publish_dataset(workspace)
    artifact.file("episodes.h5").write_bytes(b"abd")
    with pytest.raises(PtgmError, match="does not match its checksum.*ptgm fetch-data"):
        workspace.load("dataset", "data")


@pytest.mark.parametrize("edit", [
    lambda text: text.replace('"a"', '"z"'),
    lambda text: text.replace('"episodes": 3', '"episodes": 4'),
    lambda text: json.dumps({**json.loads(text), "files": []}, indent=2) + "\n",
    lambda text: json.dumps({k: v for k, v in json.loads(text).items() if k != "files"},
                            indent=2) + "\n",
])
def test_a_manifest_edited_into_other_valid_json_is_refused(tmp_path, edit):
    workspace = Workspace(tmp_path)
    manifest_file = publish_dataset(workspace).file("manifest.json")
    manifest_file.write_text(edit(manifest_file.read_text()))
    with pytest.raises(PtgmError, match=f"does not match its digest.*{FIX}"):
        workspace.load("dataset", "data")


def test_a_manifest_edited_to_the_same_values_is_refused(tmp_path):
    """A tab for a space parses to the same values, and is refused all the same."""
    workspace = Workspace(tmp_path)
    manifest_file = publish_dataset(workspace).file("manifest.json")
    manifest_file.write_text(manifest_file.read_text().replace(' "kind"', '\t"kind"'))
    with pytest.raises(PtgmError, match="not laid out as ptgm writes it"):
        workspace.load("dataset", "data")


def test_a_forged_digest_does_not_let_files_through(tmp_path):
    workspace = Workspace(tmp_path)
    artifact = publish_dataset(workspace)
    rewrite_manifest(artifact, files=[])
    with pytest.raises(PtgmError, match=f"episodes.h5 is not in its manifest.*{FIX}"):
        workspace.load("dataset", "data")
    artifact.file("episodes.h5").unlink()
    with pytest.raises(PtgmError, match="lists no episodes.h5"):
        workspace.load("dataset", "data")


def test_a_file_added_after_publishing_is_refused(tmp_path):
    workspace = Workspace(tmp_path)
    artifact = publish_dataset(workspace)
    artifact.file("extra/notes.txt").parent.mkdir()
    artifact.file("extra/notes.txt").write_text("x")
    with pytest.raises(PtgmError, match="extra/notes.txt is not in its manifest"):
        workspace.load("dataset", "data")


def test_a_manifest_in_the_wrong_folder_is_refused(tmp_path):
    workspace = Workspace(tmp_path)
    publish_dataset(workspace)
    (tmp_path / "dataset" / "data").rename(tmp_path / "dataset" / "other")
    with pytest.raises(PtgmError, match="describes dataset 'data', not this folder"):
        workspace.load("dataset", "other")
    (tmp_path / "codebook").mkdir()
    (tmp_path / "dataset" / "other").rename(tmp_path / "codebook" / "data")
    with pytest.raises(PtgmError, match="describes dataset 'data'.*ptgm build-codebook"):
        workspace.load("codebook", "data")


def test_an_artifact_of_an_earlier_schema_says_to_re_run_its_stage(tmp_path):
    workspace = Workspace(tmp_path)
    artifact = publish_dataset(workspace)
    manifest_file = artifact.file("manifest.json")
    manifest_file.write_text(manifest_file.read_text().replace(
        f'"schema_version": {SCHEMA_VERSION}', f'"schema_version": {SCHEMA_VERSION - 1}'))
    with pytest.raises(PtgmError, match=f"schema {SCHEMA_VERSION - 1} .* not readable.*{FIX}"):
        workspace.load("dataset", "data")
    manifests, problems = workspace.all_manifests()
    assert manifests == [] and len(problems) == 1 and problems[0].endswith(FIX)


def test_missing_file_and_corrupt_manifest(tmp_path):
    workspace = Workspace(tmp_path)
    artifact = publish_dataset(workspace)
    artifact.file("episodes.h5").unlink()
    with pytest.raises(PtgmError, match="missing"):
        workspace.load("dataset", "data")
    artifact.file("manifest.json").write_text("{not json")
    with pytest.raises(PtgmError, match="corrupt"):
        workspace.load("dataset", "data")
    artifact.file("manifest.json").write_bytes(b'{"kind": "\xff"}')
    with pytest.raises(PtgmError, match="corrupt"):
        workspace.load("dataset", "data")


def test_status_lists_damaged_artifacts_as_problems(tmp_path):
    workspace = Workspace(tmp_path)
    publish_dataset(workspace, name="good")
    publish_dataset(workspace).file("episodes.h5").write_bytes(b"abd")
    manifests, problems = workspace.all_manifests()
    assert [manifest.name for manifest in manifests] == ["good"]
    assert len(problems) == 1 and "'data': file episodes.h5 does not match" in problems[0]
    assert len(workspace.all_manifests(verify_files=False)[0]) == 2


def test_missing_and_replaced_parents(tmp_path):
    workspace = Workspace(tmp_path)
    parent = publish_dataset(workspace)
    publish_codebook(workspace, parent.ref)
    publish_dataset(workspace, payload=b"new", overwrite=True)
    with pytest.raises(PtgmError, match="has since been replaced"):
        workspace.load("codebook", "codes")
    with pytest.raises(PtgmError, match="run `ptgm build-codebook` first"):
        workspace.load("codebook", "other")


def test_a_stale_parent_is_refused_before_the_old_artifact_is_replaced(tmp_path):
    workspace = Workspace(tmp_path)
    stale = publish_dataset(workspace).ref
    publish_dataset(workspace, payload=b"new", overwrite=True)
    old = publish_codebook(workspace, workspace.load("dataset", "data").ref)
    old_manifest = old.file("manifest.json").read_bytes()
    with pytest.raises(PtgmError, match="has since been replaced"):
        publish_codebook(workspace, stale, overwrite=True)
    assert workspace.load("codebook", "codes").file("manifest.json").read_bytes() == old_manifest
    assert sorted(path.name for path in (tmp_path / "codebook").iterdir()) == [".lock", "codes"]


def test_existing_artifact_needs_overwrite(tmp_path):
    workspace = Workspace(tmp_path)
    publish_dataset(workspace)
    with pytest.raises(PtgmError, match="--force"):
        publish_dataset(workspace)
    with pytest.raises(PtgmError, match="already exists"):
        workspace.check_can_publish("dataset", "data", overwrite=False)
    workspace.check_can_publish("dataset", "data", overwrite=True)
    assert publish_dataset(workspace, payload=b"xyz", overwrite=True).file(
        "episodes.h5").read_bytes() == b"xyz"


def test_an_artifact_without_its_required_files_is_not_published(tmp_path):
    workspace = Workspace(tmp_path)
    with pytest.raises(PtgmError, match="'run' was not published: it has no weights.safetensors "
                                        "and metrics.jsonl"):
        with workspace.publish(Manifest(kind="rl", name="run")) as staging:
            staging.file("weights.safetensors").write_bytes(b"w")
    assert workspace.names("rl") == []


def test_exception_mid_publish_leaves_nothing(tmp_path):
    workspace = Workspace(tmp_path)
    with pytest.raises(RuntimeError):
        with workspace.publish(Manifest(kind="dataset", name="data")) as staging:
            staging.file("episodes.h5").write_bytes(b"partial")
            raise RuntimeError("crash")
    assert not workspace.exists("dataset", "data")
    assert list((tmp_path / "dataset").iterdir()) == []


def test_killed_process_mid_publish_leaves_nothing_visible_and_no_leftovers(tmp_path):
    """A hard kill (no clean-up at all) while the manifest is already staged."""
    result = subprocess.run(python_script(f"""
        import os
        from ptgm_cli.manifests import Manifest
        from ptgm_cli.workspace import Workspace
        import ptgm_cli.workspace as ws
        ws._fsync_tree = lambda folder: os._exit(9)  # die just before the rename
        with Workspace({str(tmp_path)!r}).publish(Manifest(kind="dataset", name="data")) as s:
            s.file("episodes.h5").write_bytes(b"partial")
    """), capture_output=True)
    assert result.returncode == 9
    assert len(list((tmp_path / "dataset").glob(".staging-data-*"))) == 1
    workspace = Workspace(tmp_path)
    assert not workspace.exists("dataset", "data") and workspace.names("dataset") == []
    assert workspace.all_manifests() == ([], [])
    assert list((tmp_path / "dataset").glob(".staging-*")) == []


def test_live_writers_and_other_machines_keep_their_staging_folders(tmp_path):
    workspace = Workspace(tmp_path)
    host = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]
    live = tmp_path / "dataset" / f".staging-data-{host}-{os.getpid()}-0123abcd"
    other_machine = tmp_path / "dataset" / ".staging-data-0badc0de-1-0123abcd"
    for folder in (live, other_machine):
        folder.mkdir(parents=True)
    publish_dataset(workspace, name="other")
    assert live.is_dir() and other_machine.is_dir()


def test_a_kill_between_the_renames_of_a_replacement_keeps_the_old_artifact(tmp_path):
    workspace = Workspace(tmp_path)
    publish_dataset(workspace, payload=b"old")
    result = subprocess.run(python_script(f"""
        import os
        from ptgm_cli.manifests import Manifest
        from ptgm_cli.workspace import Workspace
        replace = os.replace
        def replace_then_die(source, target):
            replace(source, target)
            if os.path.basename(target).startswith(".retired-"):
                os._exit(9)
        os.replace = replace_then_die
        with Workspace({str(tmp_path)!r}).publish(Manifest(kind="dataset", name="data"),
                                                  overwrite=True) as s:
            s.file("episodes.h5").write_bytes(b"new")
    """), capture_output=True)
    assert result.returncode == 9 and not (tmp_path / "dataset" / "data").exists()
    assert workspace.load("dataset", "data").file("episodes.h5").read_bytes() == b"old"
    assert sorted(path.name for path in (tmp_path / "dataset").iterdir()) == [".lock", "data"]


def test_two_processes_publishing_one_name_at_once_cannot_both_succeed(tmp_path):
    """Both pass the early existence check, then finish together; the lock lets one win."""
    go = tmp_path / "go"
    writer = python_script(f"""
        import pathlib, sys, time
        from ptgm_cli.errors import PtgmError
        from ptgm_cli.manifests import Manifest
        from ptgm_cli.workspace import Workspace
        try:
            with Workspace({str(tmp_path / "ws")!r}).publish(
                    Manifest(kind="dataset", name="data")) as staging:
                staging.file("episodes.h5").write_text(sys.argv[1])
                while not pathlib.Path({str(go)!r}).exists():
                    time.sleep(0.01)
        except PtgmError as error:
            sys.exit(f"error: {{error}}")
    """)
    writers = [subprocess.Popen([*writer, payload], stderr=subprocess.PIPE, text=True)
               for payload in ("first", "second")]
    deadline = time.monotonic() + 60
    while len(list((tmp_path / "ws" / "dataset").glob(".staging-*"))) < 2:
        assert time.monotonic() < deadline, "the writers did not start"
        time.sleep(0.05)
    go.touch()
    results = sorted((process.wait(timeout=60), process.stderr.read()) for process in writers)
    assert [code for code, _ in results] == [0, 1]
    assert "dataset 'data' already exists" in results[1][1]
    payload = Workspace(tmp_path / "ws").load("dataset", "data").file("episodes.h5").read_text()
    assert payload in ("first", "second")


@pytest.mark.parametrize("name", ["", "x\n", "../escape", "../../other", ".hidden", "a/b",
                                  "a" * 101, "a" * 300])
def test_invalid_names_are_refused(tmp_path, name):
    with pytest.raises(PtgmError, match="invalid artifact name") as error:
        publish_dataset(Workspace(tmp_path), name=name)
    assert "\n" not in str(error.value) and len(str(error.value)) < 200
    assert check_name("a" * 100) == "a" * 100


@pytest.mark.parametrize("lookup", [
    lambda workspace: workspace.exists("dataset", "../../other"),
    lambda workspace: workspace.read_manifest("dataset", "../x"),
    lambda workspace: workspace.path("dataset", "x\n"),
    lambda workspace: workspace.load("dataset", ""),
])
def test_lookups_never_leave_the_workspace(tmp_path, lookup):
    with pytest.raises(PtgmError, match="invalid artifact name"):
        lookup(Workspace(tmp_path / "ws"))


def test_a_parent_outside_the_workspace_is_refused(tmp_path):
    publish_dataset(Workspace(tmp_path / "other"))
    workspace = Workspace(tmp_path / "ws")
    codebook = publish_codebook(workspace, publish_dataset(workspace).ref)
    rewrite_manifest(codebook, parents=[ParentRef(
        kind="dataset", name="../../other/dataset/data", manifest_sha256="0" * 64)])
    with pytest.raises(PtgmError, match="codebook 'codes': parent dataset: invalid artifact name"):
        workspace.load("codebook", "codes")


def test_a_workspace_that_is_a_file_or_cannot_be_written(tmp_path):
    file = tmp_path / "file"
    file.write_text("")
    with pytest.raises(PtgmError, match="workspace .*file is not a folder"):
        Workspace(file).names("dataset")
    with pytest.raises(PtgmError, match="is not a folder"):
        Workspace(file).load("dataset", "data")
    with pytest.raises(PtgmError, match="is not a folder"):
        publish_dataset(Workspace(file))
    with pytest.raises(PtgmError, match="cannot write to workspace .*file/ws"):
        publish_dataset(Workspace(file / "ws"))


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_a_read_only_workspace_is_refused_before_the_work(tmp_path):
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws").chmod(0o500)
    try:
        with pytest.raises(PtgmError, match="cannot write to workspace"):
            Workspace(tmp_path / "ws").check_can_publish("dataset", "data", overwrite=False)
    finally:
        (tmp_path / "ws").chmod(0o700)
