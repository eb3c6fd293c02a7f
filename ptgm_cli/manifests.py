"""Pydantic models of artifact manifests: what an artifact is, where it came from, what it holds."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# 2: train-rl records only the options of its algorithm; critics are one preset (--critics).
# 3: a manifest carries `digest`, the sha256 of its other fields, and is written in one layout.
SCHEMA_VERSION = 3
ArtifactKind = Literal["dataset", "codebook", "policy", "prior", "skills", "rl", "eval", "sweep",
                       "report"]
ARTIFACT_KINDS: tuple[str, ...] = ArtifactKind.__args__
# The files an artifact of each kind cannot be used without, as alternatives: an eval holds
# either `ptgm eval`'s episodes or `ptgm eval-policy`'s results.
REQUIRED_FILES: dict[str, tuple[tuple[str, ...], ...]] = {
    "dataset": (("episodes.h5",),),
    "codebook": (("codebook.safetensors",),),
    "policy": (("policy.safetensors",),),
    "prior": (("prior.safetensors",),),
    "skills": (("skills.safetensors",),),
    "rl": (("weights.safetensors", "metrics.jsonl"),),
    "eval": (("episodes.json",), ("results.json",)),
    "sweep": (("runs.json",),),
    "report": (("report.html", "report.md", "statistics.json"),),
}


class ParentRef(BaseModel):
    """A parent artifact, pinned by the sha256 of its manifest."""

    kind: ArtifactKind
    name: str
    manifest_sha256: str


class FileEntry(BaseModel):
    path: str
    sha256: str
    bytes: int


class Shapes(BaseModel):
    """Dimensions a consumer must agree with; absent fields do not apply to the artifact."""

    model_config = ConfigDict(extra="forbid")

    state_names: list[str] | None = None
    goal_names: list[str] | None = None
    goal_indices: list[int] | None = None
    n_codes: int | None = None
    action_dim: int | None = None
    skill_length: int | None = None
    latent_dim: int | None = None

    @property
    def state_dim(self) -> int | None:
        return None if self.state_names is None else len(self.state_names)

    @property
    def goal_dim(self) -> int | None:
        return None if self.goal_names is None else len(self.goal_names)


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: ArtifactKind
    schema_version: int = SCHEMA_VERSION
    name: str
    created: datetime = Field(default_factory=lambda: datetime.now(timezone.utc))
    parents: list[ParentRef] = []
    config: dict[str, Any] = {}
    shapes: Shapes = Shapes()
    seed: int | None = None
    versions: dict[str, str] = Field(default_factory=lambda: library_versions())
    metrics: dict[str, Any] = {}
    timings: dict[str, float] = {}
    files: list[FileEntry] = []
    digest: str = ""

    def parent(self, kind: str) -> ParentRef | None:
        return next((p for p in self.parents if p.kind == kind), None)


class OutdatedSchema(ValueError):
    """A manifest written by a ptgm of another schema version."""

    def __init__(self, version: Any):
        super().__init__(f"schema {version}")
        self.version = version


def manifest_json(manifest: Manifest) -> str:
    """The manifest's file: its fields, then `digest`, the sha256 of the fields' JSON."""
    fields = json.loads(manifest.model_dump_json(exclude={"digest"}))
    return _layout({**fields, "digest": _digest(fields)})


def parse_manifest(text: str) -> Manifest:
    """Parse a manifest file, refusing any byte that differs from what `manifest_json` writes.

    The digest catches a changed value, and comparing the text with the layout `manifest_json`
    gives the parsed values catches a change that parses to the same values (a space turned
    into a tab, an escaped letter), so every edit is refused, not only those that matter.
    """
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    if data.get("schema_version") != SCHEMA_VERSION:
        raise OutdatedSchema(data.get("schema_version"))
    fields = {key: value for key, value in data.items() if key != "digest"}
    if _layout({**fields, "digest": data.get("digest")}) != text:
        raise ValueError("its text is not laid out as ptgm writes it: edited or damaged")
    if data.get("digest") != _digest(fields):
        raise ValueError("its content does not match its digest: edited or damaged")
    return Manifest.model_validate(data)


def missing_required_files(kind: str, paths: list[str]) -> str | None:
    """What `paths` lacks of the files an artifact of `kind` requires, or None."""
    alternatives = REQUIRED_FILES[kind]
    if any(set(files) <= set(paths) for files in alternatives):
        return None
    return " or ".join(" and ".join(files) for files in alternatives)


def _layout(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2) + "\n"


def _digest(fields: dict[str, Any]) -> str:
    return hashlib.sha256(_layout(fields).encode()).hexdigest()


def library_versions() -> dict[str, str]:
    versions = {}
    for package in ("ptgm", "torch", "mujoco", "gymnasium-robotics"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def sha256_file(path: Path, chunk_bytes: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()
