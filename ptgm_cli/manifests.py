"""Pydantic models of artifact manifests: what an artifact is, where it came from, what it holds."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# 2: train-rl records only the options of its algorithm; critics are one preset (--critics).
SCHEMA_VERSION = 2
ArtifactKind = Literal["dataset", "codebook", "policy", "prior", "rl", "eval"]
ARTIFACT_KINDS: tuple[str, ...] = ArtifactKind.__args__


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

    def parent(self, kind: str) -> ParentRef | None:
        return next((p for p in self.parents if p.kind == kind), None)


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
