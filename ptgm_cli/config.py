"""Stage configs: frozen pydantic models, read from a TOML file, overridden by flags.

Defaults live only in the config classes; the CLI builds its options (and `--help`) from their
fields, and the resolved config is what an artifact's manifest stores.
"""

from __future__ import annotations

import os
import tempfile

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from ptgm_cli.errors import PtgmError


class StageConfig(BaseModel):
    """Base of every stage config: frozen, unknown keys rejected, and no float option inf or nan
    (a learning rate of inf trains a network of NaNs)."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    @property
    def artifact_name(self) -> str:
        """The name of the artifact the stage makes."""
        return self.name


def flag(field_name: str) -> str:
    """The command-line option of a config field: `target_divergence` -> `--target-divergence`."""
    return "--" + field_name.replace("_", "-")


def read_config_file(path: Path) -> dict[str, Any]:
    """Read a TOML experiment file; keys may use '-' or '_'."""
    try:
        values = tomllib.loads(Path(path).read_text())
    except FileNotFoundError:
        raise PtgmError(f"config file {path} not found") from None
    except OSError as error:  # a folder, a file without read permission
        raise PtgmError(f"cannot read config file {path}: {error.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise PtgmError(f"config file {path} is not valid TOML: {error}") from None
    return {key.replace("-", "_"): value for key, value in values.items()}


def resolve_config(
    config_cls: type[StageConfig], file_values: dict[str, Any], flag_values: dict[str, Any],
    command: str,
) -> StageConfig:
    """Defaults < config file < command-line flags; validation errors become one line."""
    unknown = sorted(set(file_values) - set(config_cls.model_fields))
    if unknown:
        raise PtgmError(
            f"unknown option(s) {unknown} in config file for `ptgm {command}`; "
            f"see `ptgm {command} --help`"
        )
    values = {**file_values, **{k: v for k, v in flag_values.items() if v is not None}}
    try:
        return config_cls(**values)
    except ValidationError as error:
        problem = error.errors()[0]
        if not problem["loc"]:  # a check across options, whose message names them
            raise PtgmError(problem["msg"].removeprefix("Value error, ")) from None
        # An item of a list option is reported as the option (`--seeds`, not `--seeds-0`).
        option = flag("-".join(part for part in problem["loc"] if isinstance(part, str)))
        if problem["type"] == "value_error":  # our own checks, whose message names the value
            raise PtgmError(f"{option}: {problem['msg'].removeprefix('Value error, ')}") from None
        raise PtgmError(f"{option}: {problem['msg']} (got {problem.get('input')!r})") from None


def check_writable_file(path: Path) -> Path:
    """Refuse a file that cannot be written before the work that makes it starts: the path must
    not be a folder, and the file, or else its nearest existing folder (the missing ones below
    it are created when the file is written), must be writable."""
    path = target = Path(path)
    try:
        if path.is_dir():
            raise PtgmError(f"{path} is a folder; give a file name")
        if not path.exists():
            target = path.absolute().parent
            while not target.exists():
                target = target.parent
            if not target.is_dir():
                raise PtgmError(f"cannot write {path}: {target} is a file, not a folder")
        if target.is_dir():
            # Permission bits do not tell (root, read-only or virtual file systems such as
            # /proc): a file made and dropped at once does.
            with tempfile.TemporaryFile(dir=target):
                pass
        elif not os.access(target, os.W_OK):
            raise PtgmError(f"cannot write {path}: {target} is not writable")
    except OSError as error:  # a name too long, a folder that cannot be searched or written
        raise PtgmError(f"cannot write {path}: {error.strerror} in {target}") from None
    return path


def config_to_toml(values: dict[str, Any]) -> str:
    """TOML text of a resolved config (None values, which TOML cannot hold, are left out)."""
    import tomli_w

    return tomli_w.dumps({k: v for k, v in values.items() if v is not None})
