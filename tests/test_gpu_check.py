"""The prepared device check (``tools/gpu_check.py``, ``nox -s gpu``): without CUDA it says so
in one line and succeeds; its CPU dry run runs every part at toy sizes and passes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "tools" / "gpu_check.py"


def test_without_cuda_the_check_says_so_in_one_line_and_succeeds(tmp_path: Path) -> None:
    out = tmp_path / "check.json"
    hidden = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}  # no GPU, on any machine
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        env=hidden,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines() == [
        "gpu check: no CUDA device here, nothing run (on a GPU machine: nox -s gpu)"
    ]
    assert not out.exists()


def test_the_cpu_dry_run_runs_every_part_and_passes(tmp_path: Path) -> None:
    out, table = tmp_path / "check.json", tmp_path / "throughput.json"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--cpu-dry-run", "--out", str(out), "--throughput", str(table)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr  # CPU dry run: even with a GPU here
    assert done.stdout.strip().splitlines()[-1].startswith("gpu check: all ok")
    report = json.loads(out.read_text())
    assert report["dry_run"] is True
    assert report["methods"]["ok"] and report["agreement"]["ok"] and report["resume"]["ok"]
    import methods

    assert set(report["methods"]["runs"]) == set(methods.method_names())
    speeds = report["throughput"]["images_per_second"]
    assert set(speeds) == {"resnet18", "resnet50"}
    assert all(v > 0 for arch in speeds.values() for row in arch.values() for v in row.values())
    assert set(speeds["resnet18"]["ste"]) == {"fp32_host", "fp32", "tf32", "bf16"}
    written = json.loads(table.read_text())
    assert (
        written["source"] == "cpu dry run"
        and "fp32_host" not in written["images_per_second"]["resnet18"]["ste"]
    )
