# The regression report: every reported number and claim with its verdict (DESIGN 8). It
# reads the workflow's --configfile overlays (not --config values) for the grid behind
# PENDING and NOT RUN; by now every run of the grid has finished, so none is PENDING.


rule check:
    input:
        tables=TABLES,
        figures=FIGURES,
        reported=REPORTED,
        claims=CLAIMS,
    output:
        csv=report(
            "results/regression_report.csv",
            caption="report/regression_report.rst",
            category="Regression report",
        ),
        md="results/regression_report.md",
    log:
        "results/logs/check.log",
    conda:
        "envs/bnnbench.yaml"
    params:
        results_dir=lambda wildcards, output: os.path.dirname(output.csv),
        stem=lambda wildcards, output: output.csv.removesuffix(".csv"),
        overlays=[str(path) for path in workflow.overwrite_configfiles],
    shell:
        "bnnbench check --results-dir {params.results_dir}"
        " --reported {input.reported} --claims {input.claims}"
        " --out {params.stem} --config {params.overlays:q} > {log} 2>&1"
