"""bnnbench workflow: train the grid of runs, build the paper tables and figures, check them.

Thin by design: config and schema validation, rule files, `rule all`. The grid logic lives
in `benchmark/grid.py` (a job's flags in `benchmark/job_args.py`, the config's checks in
`benchmark/config_checks.py`) and the training in the `bnnbench` CLI that the rules call.

    snakemake --cores 2 results/table_depth_scaling.csv            # mini scale, digits
    snakemake --cores 2 --configfile workflows/config/smoke.yaml   # seconds, synthetic
    snakemake --cores 8 --configfile workflows/config/paper.yaml   # CIFAR, GPUs
"""

from snakemake.utils import min_version, validate

from benchmark import (
    captions,
    cluster,
    config_checks,
    configs,
    grid,
    identity,
    job_args,
    warm,
)

min_version("9.0")


# the complete default, from the repository wherever Snakemake starts; a --configfile is laid
# over it (mappings merged, other values replaced): smoke.yaml and paper.yaml are such overlays
configfile: str(configs.DEFAULT)


config_checks.refuse_derived_keys(config)
validate(config, "workflows/schemas/config.schema.yaml")
config_checks.check_config(config)


include: "workflows/common.smk"
include: "workflows/train.smk"
include: "workflows/tables.smk"
include: "workflows/figures.smk"
include: "workflows/check.smk"
include: "workflows/warm.smk"


rule all:
    default_target: True
    input:
        TABLES,
        FIGURES,
        REGRESSION_REPORT,
