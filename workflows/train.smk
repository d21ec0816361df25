# One training run per job: `bnnbench train` writes the whole run directory (DESIGN 6);
# result.json exists only once the run has finished, so it is the rule's output.
#
# Interruptions (DESIGN 9): the run checkpoints every `checkpoint` seconds/steps and, on
# SIGTERM or SIGUSR1, at the next step, then exits 75. `exec` makes the shell become
# bnnbench, so a signal SLURM sends to the job's processes reaches it directly; started
# again (a retry, a requeued SLURM job, a rerun), the same command resumes from
# checkpoint.pt (Snakemake clears the log first: it shows the latest attempt, which says
# `resumed from ... at step K`).


rule train:
    input:
        # the run this one starts from (a variant's init_from), trained first
        init=lambda wildcards: job_args.train_inputs(config, wildcards),
    output:
        result=f"{RUN_DIR}/result.json",
    log:
        f"{RUN_DIR}/train.log",
    # runs that share one GPU (resources.runs_per_gpu = N): gpu_share_N, N to a SLURM job
    group:
        cluster.share_group(
            config,
            # on the submitting Snakemake only: a group job's own Snakemake has no flags
            lambda: workflow.is_main_process
            and workflow.non_local_exec
            and workflow.group_settings.group_components,
        )
    conda:
        "envs/bnnbench.yaml"
    threads: config["threads"]
    resources:
        # estimates per dataset and arch; the runtime grows with the retry attempt (a plain
        # number where a value is the same for every run, else a callable)
        mem_mb=cluster.train_resource(config, "mem_mb"),
        runtime=cluster.train_resource(config, "runtime"),
        gpu=cluster.train_resource(config, "gpu"),
        gres=cluster.train_resource(config, "gres"),
        cpus_per_task=cluster.train_resource(config, "cpus_per_task"),
        cpus_per_gpu=cluster.train_resource(config, "cpus_per_gpu"),
        # how often to checkpoint: a resource, not a param, so changing it reruns nothing
        checkpoint_seconds=config["checkpoint"]["seconds"],
        checkpoint_steps=config["checkpoint"]["steps"],
    params:
        # --method, the recipe's fields, the variant's overrides and --width: one callable,
        # since Snakemake evaluates every callable of every job when it builds the DAG
        args=lambda wildcards: job_args.train_args(config, wildcards),
        data_root=job_args.data_root_args(config),
        # bnnbench, or torchrun with one process per GPU for a run on several GPUs
        launch=cluster.launcher(config),
    shell:
        "exec {params.launch} train --dataset {wildcards.dataset} --arch {wildcards.arch}"
        " --variant {wildcards.variant} --regime {wildcards.regime}"
        " --ordering {wildcards.ordering} --seed {wildcards.seed}"
        " --recipe {wildcards.recipe} {params.args} --threads {threads}"
        ' {params.data_root} --out "$(dirname {output.result})"'
        " --checkpoint-seconds {resources.checkpoint_seconds}"
        " --checkpoint-steps {resources.checkpoint_steps} > {log} 2>&1"
