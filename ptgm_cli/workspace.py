"""Artifact folders `<workspace>/<kind>/<name>/`, atomic publishing and verified loading.

An artifact is written into a hidden staging folder and renamed into place once its manifest is
complete. The manifest lists every file with its sha256 and carries a digest of its own content,
so a crash never leaves a half-written artifact that looks valid, and a changed, added or removed
byte anywhere in an artifact is refused on load. Publishing checks everything before it replaces
anything, and takes the existence check and the rename under one lock per kind, so two writers of
one name cannot both succeed.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from ptgm_cli.errors import PtgmError
from ptgm_cli.manifests import (
    ARTIFACT_KINDS,
    SCHEMA_VERSION,
    FileEntry,
    Manifest,
    OutdatedSchema,
    ParentRef,
    manifest_json,
    missing_required_files,
    parse_manifest,
    sha256_file,
)

MANIFEST_FILE = "manifest.json"
LOCK_FILE = ".lock"
# Hidden folders beside the artifacts, named `<prefix><name>-<host>-<pid>-<random>` by their
# writer, so that a later writer on the same machine can tell a dead one's leftovers.
STAGING_PREFIX = ".staging-"
RETIRED_PREFIX = ".retired-"
RESERVATION_PREFIX = ".making-"
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
MAX_NAME_LENGTH = 100
# The command that produces each kind, for error messages that name the fix.
PRODUCER = {
    "dataset": "ptgm fetch-data",
    "codebook": "ptgm build-codebook",
    "policy": "ptgm train-policy",
    "prior": "ptgm train-prior",
    "skills": "ptgm train-skills",
    "rl": "ptgm train-rl",
    "eval": "ptgm eval",
    "sweep": "ptgm sweep",
    "report": "ptgm report",
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
    """Accept only one plain path component, so that a name never reaches outside its kind's
    folder or makes a folder that is hard to type."""
    if len(name) > MAX_NAME_LENGTH or not NAME_PATTERN.fullmatch(name):
        shown = (repr(name) if len(name) <= MAX_NAME_LENGTH
                 else f"{name[:20]!r}... ({len(name)} characters)")
        raise PtgmError(
            f"invalid artifact name {shown}: use 1 to {MAX_NAME_LENGTH} letters, digits, '.', '_' "
            "or '-' (starting with a letter or digit)"
        )
    return name


def _fix(kind: str, name: str) -> str:
    return f"re-create it with `{PRODUCER[kind]} --name {name} --force`"


class Workspace:
    def __init__(self, root: Path | str):
        self.root = Path(root)

    def path(self, kind: str, name: str) -> Path:
        if kind not in ARTIFACT_KINDS:
            raise PtgmError(f"unknown artifact kind {kind!r}; kinds: {', '.join(ARTIFACT_KINDS)}")
        return self._folder() / kind / check_name(name)

    def _folder(self) -> Path:
        if self.root.exists() and not self.root.is_dir():
            raise PtgmError(f"workspace {self.root} is not a folder; pass --workspace a folder")
        return self.root

    def exists(self, kind: str, name: str) -> bool:
        return (self.path(kind, name) / MANIFEST_FILE).is_file()

    def names(self, kind: str) -> list[str]:
        folder = self._folder() / kind
        if not folder.is_dir():
            return []
        self._remove_leftovers(kind)
        return sorted(
            p.name for p in folder.iterdir()
            if not p.name.startswith(".") and (p / MANIFEST_FILE).is_file()
        )

    def read_manifest(self, kind: str, name: str) -> Manifest:
        """Parse an artifact's manifest, checking its digest but not the files it lists."""
        path = self.path(kind, name) / MANIFEST_FILE
        self._remove_leftovers(kind)
        if not path.is_file():
            available = ", ".join(self.names(kind)) or "none"
            raise PtgmError(
                f"no {kind} named {name!r} in workspace {self.root} (available: {available}); "
                f"run `{PRODUCER[kind]}` first"
            )
        try:
            manifest = parse_manifest(path.read_text(encoding="utf-8"))
        except OutdatedSchema as outdated:
            raise PtgmError(
                f"{kind} {name!r}: manifest schema {outdated.version} is not readable by this "
                f"ptgm (schema {SCHEMA_VERSION}); {_fix(kind, name)}"
            ) from None
        except (OSError, ValueError) as error:
            first = str(error).splitlines()[0]
            raise PtgmError(
                f"{kind} {name!r}: manifest {path} is corrupt ({first}); {_fix(kind, name)}"
            ) from None
        if (manifest.kind, manifest.name) != (kind, name):
            raise PtgmError(
                f"{kind} {name!r}: manifest {path} describes {manifest.kind} {manifest.name!r}, "
                f"not this folder; {_fix(kind, name)}"
            )
        for parent in manifest.parents:
            try:
                check_name(parent.name)
            except PtgmError as error:
                raise PtgmError(f"{kind} {name!r}: parent {parent.kind}: {error}; "
                                f"{_fix(kind, name)}") from None
        return manifest

    def verify(self, kind: str, name: str) -> Artifact:
        """An artifact whose manifest and files are intact, its parents unchecked."""
        manifest = self.read_manifest(kind, name)
        folder = self.path(kind, name)
        fix = _fix(kind, name)
        listed = {entry.path: entry for entry in manifest.files}
        present = _artifact_files(folder)
        missing, unlisted = sorted(set(listed) - present), sorted(present - set(listed))
        if missing:
            raise PtgmError(f"{kind} {name!r}: file {missing[0]} is missing; {fix}")
        if unlisted:
            raise PtgmError(f"{kind} {name!r}: file {unlisted[0]} is not in its manifest "
                            f"(added after publishing); {fix}")
        needed = missing_required_files(kind, list(listed))
        if needed:
            raise PtgmError(f"{kind} {name!r}: its manifest lists no {needed}; {fix}")
        for entry in manifest.files:
            if sha256_file(folder / entry.path) != entry.sha256:
                raise PtgmError(
                    f"{kind} {name!r}: file {entry.path} does not match its checksum "
                    f"(modified or corrupt); {fix}"
                )
        return Artifact(folder, manifest)

    def load(self, kind: str, name: str) -> Artifact:
        """Load an artifact, verifying its manifest, every file and that its parents are
        unchanged."""
        artifact = self.verify(kind, name)
        self._check_parents(artifact.manifest)
        return artifact

    def _check_parents(self, manifest: Manifest) -> None:
        fix = _fix(manifest.kind, manifest.name)
        for parent in manifest.parents:
            if not self.exists(parent.kind, parent.name):
                raise PtgmError(
                    f"{manifest.kind} {manifest.name!r} was made from {parent.kind} "
                    f"{parent.name!r}, which is missing; run `{PRODUCER[parent.kind]} --name "
                    f"{parent.name}` and then {fix}"
                )
            if not self.is_current(parent):
                raise PtgmError(
                    f"{manifest.kind} {manifest.name!r} was made from an earlier {parent.kind} "
                    f"{parent.name!r} that has since been replaced; {fix}"
                )

    def is_current(self, ref: ParentRef) -> bool:
        """Whether the artifact a reference points to still exists unchanged."""
        manifest = self.path(ref.kind, ref.name) / MANIFEST_FILE
        return manifest.is_file() and sha256_file(manifest) == ref.manifest_sha256

    def all_manifests(self, verify_files: bool = True) -> tuple[list[Manifest], list[str]]:
        """The intact artifacts' manifests, and why each of the others cannot be used (an
        earlier schema, an edited manifest, a missing or changed file)."""
        manifests, problems = [], []
        for kind in ARTIFACT_KINDS:
            for name in self.names(kind):
                try:
                    manifests.append(self.verify(kind, name).manifest if verify_files
                                     else self.read_manifest(kind, name))
                except PtgmError as error:
                    problems.append(str(error))
        return manifests, problems

    def check_can_publish(self, kind: str, name: str, overwrite: bool) -> Path:
        """Refuse, before any work is done, a name that is invalid or taken (without
        `overwrite`) or a workspace that cannot be written; returns the artifact's folder."""
        final = self.path(kind, name)
        if final.exists() and not overwrite:
            raise PtgmError(
                f"{kind} {name!r} already exists in {self.root}; pass --force to replace it "
                "or choose another --name"
            )
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise PtgmError(f"cannot write to workspace {self.root} ({error.strerror}); "
                            "pass --workspace a folder you can write") from None
        if not os.access(final.parent, os.W_OK | os.X_OK):
            raise PtgmError(f"cannot write to workspace {self.root} (permission denied); "
                            "pass --workspace a folder you can write")
        return final

    @contextmanager
    def reserve(self, kind: str, name: str, overwrite: bool) -> Iterator[Path]:
        """Hold `kind/name` from a command's first check to its end: a second process making
        the same artifact is refused at once, not after doing all its work. The lock belongs to
        the open file, so the kernel drops it when a process dies."""
        final = self.check_can_publish(kind, name, overwrite)
        with open(final.parent / f"{RESERVATION_PREFIX}{name}", "a") as reservation:
            try:
                fcntl.flock(reservation, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise PtgmError(f"{kind} {name!r} is being made by another process; wait for it "
                                "to finish or stop it") from None
            yield final

    @contextmanager
    def publish(self, manifest: Manifest, *, overwrite: bool = False) -> Iterator[Staging]:
        """Yield a staging folder; on success, list its files in the manifest and move it in place.

        Everything is checked before an existing artifact is touched: the name, that it may be
        replaced, the files its kind requires and that its parents are still current. On any
        exception the staging folder is removed and the workspace is as it was.
        """
        kind, name = manifest.kind, manifest.name
        final = self.check_can_publish(kind, name, overwrite)
        self._remove_leftovers(kind)
        staging = Staging(final.parent / _owned_name(STAGING_PREFIX, name), manifest)
        staging.path.mkdir()
        try:
            yield staging
            _seal(staging)
            with self._lock(kind):
                self.check_can_publish(kind, name, overwrite)
                self._check_parents(manifest)
                if final.exists():
                    retired = final.parent / _owned_name(RETIRED_PREFIX, name)
                    os.replace(final, retired)
                    os.replace(staging.path, final)
                    shutil.rmtree(retired, ignore_errors=True)
                else:
                    os.replace(staging.path, final)
        finally:
            if staging.path.exists():
                shutil.rmtree(staging.path, ignore_errors=True)

    @contextmanager
    def _lock(self, kind: str) -> Iterator[None]:
        """Hold the kind's lock; only one holder per kind across processes, not re-entrant."""
        with open(self.root / kind / LOCK_FILE, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def _remove_leftovers(self, kind: str) -> None:
        """Delete the staging folders of processes that are gone, and put back an artifact whose
        replacement was cut between its two renames. A workspace that cannot be written keeps
        them."""
        folder = self.root / kind
        leftovers = [path for prefix in (STAGING_PREFIX, RETIRED_PREFIX)
                     for path in folder.glob(f"{prefix}*") if not _owner_alive(path)]
        if not leftovers:
            return
        with suppress(OSError), self._lock(kind):
            for path in filter(Path.exists, leftovers):  # another reader may have been first
                final = folder / _owned_by(path)[0]
                if path.name.startswith(RETIRED_PREFIX) and not final.exists():
                    os.replace(path, final)
                else:
                    shutil.rmtree(path, ignore_errors=True)


def _owned_name(prefix: str, name: str) -> str:
    return f"{prefix}{name}-{_host_tag()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def _host_tag() -> str:
    """A short tag of this machine: a pid means nothing on another one sharing the workspace."""
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def _owned_by(path: Path) -> tuple[str, str, int | None]:
    """The artifact name, writer's host tag and pid in a folder name made by `_owned_name`."""
    prefix = STAGING_PREFIX if path.name.startswith(STAGING_PREFIX) else RETIRED_PREFIX
    name, host, pid, _ = (path.name[len(prefix):].rsplit("-", 3) + ["", "", ""])[:4]
    return name, host, int(pid) if pid.isdigit() else None


def _owner_alive(path: Path) -> bool:
    """Whether the writer of a staging or retired folder may still be running; the folders of
    other machines are left to them."""
    _, host, pid = _owned_by(path)
    if pid is None:
        return False
    if host != _host_tag():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _artifact_files(folder: Path) -> set[str]:
    """Every file in an artifact's folder but its manifest, as paths relative to it."""
    return {path.relative_to(folder).as_posix() for path in folder.rglob("*")
            if path.is_file()} - {MANIFEST_FILE}


def _seal(staging: Staging) -> None:
    """List the staged files in the manifest and write it, refusing an artifact without the
    files its kind requires."""
    manifest = staging.manifest
    manifest.files = [
        FileEntry(path=relative, sha256=sha256_file(staging.path / relative),
                  bytes=(staging.path / relative).stat().st_size)
        for relative in sorted(_artifact_files(staging.path))
    ]
    needed = missing_required_files(manifest.kind, [entry.path for entry in manifest.files])
    if needed:
        raise PtgmError(f"{manifest.kind} {manifest.name!r} was not published: it has no {needed}")
    (staging.path / MANIFEST_FILE).write_text(manifest_json(manifest))
    _fsync_tree(staging.path)


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
