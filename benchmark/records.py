"""Run records: JSON and CSV written atomically, config hashes and provenance (DESIGN 6)."""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import socket
import subprocess
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from benchmark import warm
from benchmark.atomic import write_text


def write_json(path: Path, data: Any) -> None:
    """Atomic JSON; NaN and infinities become ``null`` so the file is strict JSON."""
    write_text(path, json.dumps(_finite(data), indent=2, sort_keys=True, default=str) + "\n")


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    write_text(path, pd.DataFrame(rows).to_csv(index=False, float_format="%.6g"))


def config_hash(config: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of a resolved config."""
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def git_revision() -> str | None:
    """The repository's commit (with ``+dirty`` when modified), or None outside a checkout."""
    root = Path(__file__).resolve().parent.parent
    try:
        rev = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return rev + ("+dirty" if dirty else "")


# Environment variables that pin the CPU kernels' instruction set (ATen's dispatch, oneDNN's JIT):
# CPU results are bit-exact on one machine but differ across instruction sets (DESIGN 9).
ISA_VARIABLES = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA")


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def provenance(device: torch.device) -> dict[str, Any]:
    """Where and with what a run was produced; for the CPU, the instruction set its kernels
    dispatched to (``cpu_capability``: e.g. AVX2, AVX512) and the variables that pin it."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        pkg = version("bnnbench")
    except PackageNotFoundError:
        pkg = None
    return {
        "bnnbench": pkg,
        "git": git_revision(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else platform.processor() or platform.machine(),
        "hostname": socket.gethostname(),
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
        "cpu_model": cpu_model(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpu_isa_pins": {name: os.environ.get(name) for name in ISA_VARIABLES},
        "started": warm.STARTED,  # forked from a warm-start server, or a process of its own
    }
