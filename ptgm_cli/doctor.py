"""`ptgm doctor`: checks of the installation, each with what to do when it fails."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from importlib import metadata

from ptgm_cli.machine import cpu_count

PINNED = {"mujoco": "3.11.0", "gymnasium-robotics": "1.4.2", "torch": "2.13.0"}


@dataclass
class Check:
    name: str
    level: str  # ok, warn or fail
    detail: str
    fix: str = ""


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def check_versions() -> list[Check]:
    checks = []
    for package, pinned in PINNED.items():
        found = _version(package)
        if found is None:
            checks.append(Check(package, "fail", "not installed", "run `make setup`"))
        elif found.split("+")[0] != pinned:
            checks.append(Check(package, "warn", f"{found}, tested with {pinned}",
                                f"pip install {package}=={pinned}"))
        else:
            checks.append(Check(package, "ok", found))
    return checks


def check_simulation() -> Check:
    try:
        from ptgm_cli.kitchen.env import KitchenEnv

        env = KitchenEnv()
        env.reset(seed=0)
        env.step(env.np_random.uniform(-1, 1, env.action_dim))
    except Exception as error:  # any failure here is what the user needs to see
        return Check("kitchen env", "fail", f"{type(error).__name__}: {error}",
                     "reinstall with `make setup` (mujoco and gymnasium-robotics pinned)")
    return Check("kitchen env", "ok", f"model with nq={env.model.nq}, nu={env.model.nu} steps")


def check_rendering() -> Check:
    backend = os.environ.get("MUJOCO_GL", "(unset)")
    try:
        from ptgm_cli.kitchen.env import KitchenEnv

        env = KitchenEnv()
        env.reset(seed=0)
        frame = env.render(64, 64)
        env.close()
    except Exception as error:
        return Check("rendering", "warn", f"MUJOCO_GL={backend}: {type(error).__name__}: {error}",
                     "videos need MUJOCO_GL=egl (Mesa) or MUJOCO_GL=osmesa (apt install "
                     "libosmesa6); training does not")
    return Check("rendering", "ok", f"MUJOCO_GL={backend}, frame {frame.shape}")


def check_torch_threads() -> Check:
    try:
        import torch
    except ImportError:
        return Check("torch threads", "fail", "torch not installed", "run `make setup`")
    cores = cpu_count()
    threads = torch.get_num_threads()
    if threads > cores:
        return Check("torch threads", "warn", f"{threads} threads on {cores} cores",
                     f"export OMP_NUM_THREADS={cores}")
    return Check("torch threads", "ok", f"{threads} threads on {cores} cores")


def check_device() -> Check:
    """Where `--device auto` puts the networks, and why."""
    try:
        import torch

        from ptgm_cli.models.training import resolve_device
    except ImportError:
        return Check("device", "fail", "torch not installed", "run `make setup`")
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "torch sees no GPU"
    return Check("device", "ok", f"--device auto: {resolve_device('auto').type} ({gpu})")


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            return next(line.split(":", 1)[1].strip() for line in cpuinfo
                        if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown CPU"


def check_numerics() -> Check:
    """The kernels that round the float results. Another CPU kind, or MKL told to take other
    kernels, rounds differently, and pre-training amplifies the difference: the same seed
    trains other models there (docs/experiments.md, section 12)."""
    try:
        import torch
    except ImportError:
        return Check("numerics", "fail", "torch not installed", "run `make setup`")
    mkl = os.environ.get("MKL_ENABLE_INSTRUCTIONS", "chosen by MKL")
    return Check("numerics", "ok", f"{cpu_model()}: torch CPU kernels "
                 f"{torch.backends.cpu.get_cpu_capability()}, MKL kernels {mkl}; models "
                 "pre-trained on another CPU kind differ from this machine's")


def run_checks() -> list[Check]:
    return [*check_versions(), check_simulation(), check_rendering(), check_torch_threads(),
            check_device(), check_numerics()]
