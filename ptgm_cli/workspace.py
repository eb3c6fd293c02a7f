"""Artifact folders `<workspace>/<kind>/<name>/`, atomic publishing and verified loading.

An artifact is written into a hidden staging folder and renamed into place once its manifest
(listing every file with its sha256) is complete, so a crash never leaves a half-written
artifact that looks valid.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from ptgm_cli.errors import PtgmError
from ptgm_cli.manifests import (
    ARTIFACT_KINDS,
    SCHEMA_VERSION,
    FileEntry,
    Manifest,
    ParentRef,
    sha256_file,
)

MANIFEST_FILE = "manifest.json"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
# The command that produces each kind, for error messages that name the fix.
PRODUCER = {
    "dataset": "ptgm fetch-data",
    "codebook": "ptgm build-codebook",
    "policy": "ptgm train-policy",
    "prior": "ptgm train-prior",
    "rl": "ptgm train-rl",
    "eval": "ptgm eval",
}


@dataclass(frozen=True)
class Artifact:
    """A published, verified artifact: its folder and its manifest."""

    path: Path
    manifest: Manifest

    @property
    def ref(self) -> ParentRef:
        return ParentRef(
            kind=self.manifest.kind,
            name=self.manifest.name,
            manifest_sha256=sha256_file(self.path / MANIFEST_FILE),
        )

    def file(self, relative: str) -> Path:
        return self.path / relative


class Staging:
    """A staging folder being filled; `manifest` is completed and written on publish."""

    def __init__(self, path: Path, manifest: Manifest):
        self.path = path
        self.manifest = manifest

    def file(self, relative: str) -> Path:
        target = self.path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        return target


def check_name(name: str) -> str:
    if not NAME_PATTERN.match(name):
        raise PtgmError(
            f"invalid artifact name {name!r}: use letters, digits, '.', '_' or '-' "
            "(starting with a letter or digit)"
        )
    return name


class Workspace:
    def __init__(self, root: Path | str):
        self.root = Path(root)

    def path(self, kind: str, name: str) -> Path:
        return self.root / kind / name

    def exists(self, kind: str, name: str) -> bool:
        return (self.path(kind, name) / MANIFEST_FILE).is_file()

    def names(self, kind: str) -> list[str]:
        folder = self.root / kind
        if not folder.is_dir():
            return []
        return sorted(
            p.name for p in folder.iterdir()
            if not p.name.startswith(".") and (p / MANIFEST_FILE).is_file()
        )

    def read_manifest(self, kind: str, name: str) -> Manifest:
        """Parse an artifact's manifest without verifying its files."""
        path = self.path(kind, name) / MANIFEST_FILE
        if not path.is_file():
            available = ", ".join(self.names(kind)) or "none"
            raise PtgmError(
                f"no {kind} named {name!r} in workspace {self.root} (available: {available}); "
                f"run `{PRODUCER[kind]}` first"
            )
        try:
            manifest = Manifest.model_validate_json(path.read_text())
        except (ValidationError, ValueError) as error:
            first = str(error).splitlines()[0]
            raise PtgmError(
                f"{kind} {name!r}: manifest {path} is corrupt ({first}); "
                f"re-create it with `{PRODUCER[kind]} --name {name} --force`"
            ) from None
        if manifest.schema_version != SCHEMA_VERSION or manifest.kind != kind:
            raise PtgmError(
                f"{kind} {name!r}: manifest schema {manifest.schema_version} of kind "
                f"{manifest.kind!r} is not readable by this ptgm (schema {SCHEMA_VERSION}); "
                f"re-create it with `{PRODUCER[kind]} --name {name} --force`"
            )
        return manifest

    def load(self, kind: str, name: str) -> Artifact:
        """Load an artifact, verifying every file's checksum and that its parents are unchanged."""
        manifest = self.read_manifest(kind, name)
        folder = self.path(kind, name)
        fix = f"re-create it with `{PRODUCER[kind]} --name {name} --force`"
        for entry in manifest.files:
            target = folder / entry.path
            if not target.is_file():
                raise PtgmError(f"{kind} {name!r}: file {entry.path} is missing; {fix}")
            if sha256_file(target) != entry.sha256:
                raise PtgmError(
                    f"{kind} {name!r}: file {entry.path} does not match its checksum "
                    f"(modified or corrupt); {fix}"
                )
        for parent in manifest.parents:
            if not self.exists(parent.kind, parent.name):
                raise PtgmError(
                    f"{kind} {name!r} was made from {parent.kind} {parent.name!r}, which is "
                    f"missing; run `{PRODUCER[parent.kind]} --name {parent.name}` and then {fix}"
                )
            if not self.is_current(parent):
                raise PtgmError(
                    f"{kind} {name!r} was made from an earlier {parent.kind} {parent.name!r} that "
                    f"has since been replaced; {fix}"
                )
        return Artifact(folder, manifest)

    def is_current(self, ref: ParentRef) -> bool:
        """Whether the artifact a reference points to still exists unchanged."""
        manifest = self.path(ref.kind, ref.name) / MANIFEST_FILE
        return manifest.is_file() and sha256_file(manifest) == ref.manifest_sha256

    def all_manifests(self) -> tuple[list[Manifest], list[str]]:
        """The readable manifests, and why each of the others cannot be read."""
        manifests, problems = [], []
        for kind in ARTIFACT_KINDS:
            for name in self.names(kind):
                try:
                    manifests.append(self.read_manifest(kind, name))
                except PtgmError as error:
                    problems.append(str(error))
        return manifests, problems

    @contextmanager
    def publish(self, manifest: Manifest, *, overwrite: bool = False) -> Iterator[Staging]:
        """Yield a staging folder; on success, list its files in the manifest and move it in place.

        On any exception the staging folder is removed and nothing becomes visible.
        """
        kind, name = manifest.kind, check_name(manifest.name)
        final = self.path(kind, name)
        if final.exists() and not overwrite:
            raise PtgmError(
                f"{kind} {name!r} already exists in {self.root}; pass --force to replace it "
                "or choose another --name"
            )
        final.parent.mkdir(parents=True, exist_ok=True)
        staging = Staging(final.parent / f".staging-{name}-{uuid.uuid4().hex[:8]}", manifest)
        staging.path.mkdir()
        try:
            yield staging
            staging.manifest.files = [
                FileEntry(
                    path=str(path.relative_to(staging.path)),
                    sha256=sha256_file(path),
                    bytes=path.stat().st_size,
                )
                for path in sorted(staging.path.rglob("*"))
                if path.is_file()
            ]
            manifest_path = staging.path / MANIFEST_FILE
            manifest_path.write_text(staging.manifest.model_dump_json(indent=2))
            _fsync_tree(staging.path)
            if final.exists():
                retired = final.parent / f".retired-{name}-{uuid.uuid4().hex[:8]}"
                os.replace(final, retired)
                os.replace(staging.path, final)
                shutil.rmtree(retired, ignore_errors=True)
            else:
                os.replace(staging.path, final)
        finally:
            if staging.path.exists():
                shutil.rmtree(staging.path, ignore_errors=True)

    def remove_stale_staging(self) -> int:
        """Delete staging folders left by crashed runs; returns how many were removed."""
        removed = 0
        for kind in ARTIFACT_KINDS:
            folder = self.root / kind
            if folder.is_dir():
                for path in folder.glob(".staging-*"):
                    shutil.rmtree(path, ignore_errors=True)
                    removed += 1
        return removed


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())


