"""Stage configs: frozen pydantic models, read from a TOML file, overridden by flags.

Defaults live only in the config classes; the CLI builds its options (and `--help`) from their
fields, and the resolved config is what an artifact's manifest stores.
"""

from __future__ import annotations

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from ptgm_cli.errors import PtgmError


class StageConfig(BaseModel):
    """Base of every stage config: frozen, unknown keys rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def read_config_file(path: Path) -> dict[str, Any]:
    """Read a TOML experiment file; keys may use '-' or '_'."""
    try:
        values = tomllib.loads(Path(path).read_text())
    except FileNotFoundError:
        raise PtgmError(f"config file {path} not found") from None
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
        option = "--" + "-".join(str(part) for part in problem["loc"]).replace("_", "-")
        raise PtgmError(f"{option}: {problem['msg']} (got {problem.get('input')!r})") from None


def config_to_toml(values: dict[str, Any]) -> str:
    """TOML text of a resolved config (None values, which TOML cannot hold, are left out)."""
    import tomli_w

    return tomli_w.dumps({k: v for k, v in values.items() if v is not None})
