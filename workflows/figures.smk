# One figure per config `figures` entry, as PDF and PNG, with its per-epoch data as CSV
# beside it (trajectories.csv, silent_weights.csv; a curves figure and silent_weights also
# <name>_summary.csv; a sweep its table as <name>_table.csv, .md and .tex).


rule figure:
    input:
        runs=lambda wildcards: grid.section_results(config, "figures", wildcards.name),
    output:
        pdf="results/fig_{name}.pdf",
        png=report(
            "results/fig_{name}.png",
            caption="report/output.rst",
            category=lambda wildcards: captions.category("figures", wildcards.name),
            subcategory="Figures",
            labels=lambda wildcards: captions.labels(
                config, "figures", wildcards.name
            ),
        ),
    log:
        "results/logs/fig_{name}.log",
    conda:
        "envs/bnnbench.yaml"
    params:
        stem=lambda wildcards, output: output.pdf.removesuffix(".pdf"),
        figures_dir=config["paper"]["figures_dir"],
        recipe=lambda wildcards: grid.grid_recipe(
            config, config["figures"][wildcards.name]
        ),
    shell:
        "bnnbench figure {wildcards.name} --runs {input.runs} --out {params.stem}"
        " --figures-dir {params.figures_dir} --recipe {params.recipe} > {log} 2>&1"
