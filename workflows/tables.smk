# One CSV per table of config `tables` (its grid, or the union of its `parts`), plus
# Markdown and LaTeX renderings; every reported-numbers CSV is passed along.


rule table:
    input:
        runs=lambda wildcards: grid.section_results(config, "tables", wildcards.name),
        reported=REPORTED,
    output:
        csv=report(
            "results/table_{name}.csv",
            caption="report/output.rst",
            category=lambda wildcards: captions.category("tables", wildcards.name),
            subcategory="Tables",
            labels=lambda wildcards: captions.labels(config, "tables", wildcards.name),
        ),
    log:
        "results/logs/table_{name}.log",
    conda:
        "envs/bnnbench.yaml"
    params:
        tables_dir=config["paper"]["tables_dir"],
    shell:
        "bnnbench table {wildcards.name} --runs {input.runs}"
        " --reported {input.reported} --out {output.csv}"
        " --tables-dir {params.tables_dir} > {log} 2>&1"
