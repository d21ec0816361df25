"""How much the workflow's own logic costs when Snakemake builds the DAG (issue 4).

Times ``snakemake -n`` on the real workflow with a config (the paper grid by default) and on a
trivial Snakefile with the same number of jobs (one rule, ``touch`` outputs, nothing
computed), interleaved, and reports the ratio of the medians. The trivial workflow is what
Snakemake itself costs for that many jobs; the ratio is what our grid expansion, params
functions and validation add on top.

    python -m benchmark.dagtime [--configfile workflows/config/paper.yaml] [--repeats 3]
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TRIVIAL = """\
N = {n}


rule all:
    input:
        expand("out/{{i}}.txt", i=range(N)),


rule make:
    output:
        "out/{{i}}.txt",
    shell:
        "touch {{output}}"
"""


def dry_run(args: list[str], cwd: Path) -> tuple[float, str]:
    """Wall seconds and output of ``snakemake -n`` with ``args``."""
    start = time.perf_counter()
    proc = subprocess.run(
        ["snakemake", "-n", "--cores", "1", *args], cwd=cwd, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"snakemake -n {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return seconds, proc.stdout + proc.stderr


def job_count(output: str) -> int:
    """The ``total`` row of Snakemake's job-stats table."""
    match = re.search(r"^total\s+(\d+)", output, re.MULTILINE)
    if match is None:
        raise RuntimeError("no job-stats table in snakemake's output (nothing to do?)")
    return int(match.group(1))


def measure(configfile: Path, repeats: int = 3) -> dict[str, float]:
    """Median dry-run seconds of the real and the trivial workflow and their ratio."""
    with tempfile.TemporaryDirectory(prefix="bnnbench-dag-") as tmp:
        work, trivial = Path(tmp, "work"), Path(tmp, "trivial")
        work.mkdir()
        trivial.mkdir()
        real_args = ["all", "--snakefile", str(ROOT / "Snakefile"), "--directory", str(work)]
        real_args += ["--configfile", str(configfile)]
        _, output = dry_run(real_args, ROOT)  # warm-up, and the job count
        jobs = job_count(output)
        (trivial / "Snakefile").write_text(TRIVIAL.format(n=jobs - 1))  # + rule all
        dry_run([], trivial)
        real, triv = [], []
        for _ in range(repeats):
            real.append(dry_run(real_args, ROOT)[0])
            triv.append(dry_run([], trivial)[0])
    r, t = statistics.median(real), statistics.median(triv)
    return {"jobs": jobs, "real_s": r, "trivial_s": t, "ratio": r / t}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--configfile", type=Path, default=ROOT / "workflows" / "config" / "paper.yaml")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    m = measure(args.configfile.resolve(), args.repeats)
    print(
        f"snakemake -n, {m['jobs']:.0f} jobs: workflow {m['real_s']:.2f} s, trivial Snakefile "
        f"{m['trivial_s']:.2f} s, ratio {m['ratio']:.2f} (target <= 1.2)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
