# The regression report: every reported number and claim with its verdict (DESIGN 8).


rule check:
    input:
        tables=TABLES,
        figures=FIGURES,
        reported=REPORTED,
        claims=CLAIMS,
    output:
        csv=report("results/regression_report.csv", category="Regression report"),
        md="results/regression_report.md",
    log:
        "results/logs/check.log",
    conda:
        "envs/bnnbench.yaml"
    params:
        results_dir=lambda wildcards, output: os.path.dirname(output.csv),
        stem=lambda wildcards, output: output.csv.removesuffix(".csv"),
    shell:
        "bnnbench check --results-dir {params.results_dir}"
        " --reported {input.reported} --claims {input.claims}"
        " --out {params.stem} > {log} 2>&1"
