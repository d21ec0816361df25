# One training run per job: `bnnbench train` writes the whole run directory (DESIGN 6);
# result.json exists only once the run has finished, so it is the rule's output.


rule train:
    output:
        result=f"{grid.RUN_DIR}/result.json",
    log:
        f"{grid.RUN_DIR}/train.log",
    conda:
        "envs/bnnbench.yaml"
    threads: config["threads"]
    resources:
        mem_mb=config["resources"]["mem_mb"],
        runtime=config["resources"]["runtime"],
    params:
        method=lambda wildcards: grid.method_of(config, wildcards.variant),
        recipe=lambda wildcards: grid.recipe_args(config, wildcards.recipe),
        overrides=lambda wildcards: grid.variant_args(config, wildcards.variant),
        width=lambda wildcards: grid.width_for(config, wildcards.arch),
        data_root=grid.data_root_args(config),
        out=lambda wildcards, output: os.path.dirname(output.result),
    shell:
        "bnnbench train --dataset {wildcards.dataset} --arch {wildcards.arch}"
        " --method {params.method} --variant {wildcards.variant}"
        " --regime {wildcards.regime} --ordering {wildcards.ordering}"
        " --seed {wildcards.seed} --recipe {wildcards.recipe} {params.recipe}"
        " {params.overrides} --width {params.width} --threads {threads}"
        " {params.data_root} --out {params.out} > {log} 2>&1"
