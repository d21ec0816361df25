# Shared names for the rule files: targets, source files, wildcard patterns. No logic here;
# the grid expansion is benchmark/grid.py.

import os

TABLES = expand("results/table_{name}.csv", name=config["tables"])
FIGURES = expand("results/fig_{name}.{ext}", name=config["figures"], ext=["pdf", "png"])
REGRESSION_REPORT = ["results/regression_report.csv", "results/regression_report.md"]
RUN_DIR = identity.pattern()  # results/runs/{recipe}/.../seed{seed}

# Reported numbers (one CSV per paper) and claims are source files: resolve them against
# the repository (the Snakefile's directory), so that `--directory elsewhere` finds them.
_reported = config["paper"]["reported"]
REPORTED = [
    os.path.relpath(os.path.join(workflow.basedir, path))
    for path in ([_reported] if isinstance(_reported, str) else _reported)
]
CLAIMS = os.path.relpath(os.path.join(workflow.basedir, config["paper"]["claims"]))


wildcard_constraints:
    recipe=r"[A-Za-z0-9_.-]+",
    dataset=r"[A-Za-z0-9_.-]+",
    arch=r"[A-Za-z0-9_.-]+",
    regime=r"bnn|bwn|fp",
    variant=r"[A-Za-z0-9_.-]+",
    ordering=r"[A-Za-z0-9_.-]+",
    seed=r"\d+",
    name=r"[A-Za-z0-9_]+",


localrules:
    all,
    table,
    figure,
    check,
