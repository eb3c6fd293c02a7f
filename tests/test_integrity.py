"""A changed byte anywhere in any artifact, its manifest included, is refused by the next load.

No flip is harmless: every file but the manifest is pinned by its sha256 in the manifest, and
the manifest by its digest (a changed value) and by its layout (a change that parses to the
same values, such as a space turned into a tab), so every flip must raise.
"""

import numpy as np
import pytest

from ptgm_cli.errors import PtgmError
from ptgm_cli.workspace import Workspace

FLIPS_PER_FILE = 6
TINY_RL = ("--env-steps", "300", "--warmup-transitions", "10", "--batch-size", "16",
           "--num-envs", "2", "--episode-steps", "50", "--hidden", "32",
           "--checkpoint-every", "100", "--eval-every", "150", "--eval-episodes", "0")
# One artifact of each kind, the eval kind from both of the stages that publish it.
ARTIFACTS = [("dataset", "default"), ("codebook", "default"), ("policy", "default"),
             ("prior", "default"), ("rl", "ptgm-seed0"), ("eval", "ptgm-seed0"),
             ("eval", "policy-default")]


@pytest.fixture(scope="module")
def full_workspace(pretrained_workspace, run_cli) -> Workspace:
    """Every kind of artifact, made by the real stages at tiny budgets."""
    for command in (("train-rl", *TINY_RL), ("eval", "ptgm-seed0", "--episodes", "2"),
                    ("eval-policy", "--states", "6", "--subtask-trials", "2",
                     "--subtask-steps", "5")):
        result = run_cli(pretrained_workspace, *command)
        assert result.returncode == 0, result.stderr
    return pretrained_workspace


@pytest.mark.slow
@pytest.mark.parametrize(("kind", "name"), ARTIFACTS, ids=[f"{k}/{n}" for k, n in ARTIFACTS])
def test_every_byte_flip_is_detected_on_load(full_workspace, kind, name):
    folder = full_workspace.load(kind, name).path
    files = sorted(path for path in folder.rglob("*") if path.is_file())
    assert folder / "manifest.json" in files and len(files) >= 2
    rng = np.random.default_rng(sum(map(ord, f"{kind}/{name}")))
    undetected = []
    for path in files:
        original = path.read_bytes()
        positions = {0, len(original) - 1, *rng.integers(len(original), size=FLIPS_PER_FILE)}
        for position in sorted(positions):
            flipped = bytearray(original)
            flipped[position] ^= int(rng.integers(1, 256))
            path.write_bytes(bytes(flipped))
            try:
                full_workspace.load(kind, name)
                undetected.append(f"{path.relative_to(folder)}@{position}")
            except PtgmError as error:
                assert "\n" not in str(error) and "--force" in str(error)
            finally:
                path.write_bytes(original)
    assert undetected == []
    full_workspace.load(kind, name)
