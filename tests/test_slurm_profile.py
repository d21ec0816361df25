"""The SLURM profile and what ``nox -s slurm`` builds on, without a cluster (fast, pure).

The cluster itself (``tools/local_slurm.py``) and the requeue test run in ``nox -s slurm``.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.profiles import ProfileConfigFileParser
from snakemake.utils import validate

from benchmark import cluster, configs, grid
from benchmark.errors import UserError
from benchmark.identity import RunId
from tools import local_slurm, slurm_checks

ROOT = Path(__file__).resolve().parents[1]
PROFILE = ROOT / "workflows" / "profiles" / "slurm" / "config.yaml"
SCHEMA = ROOT / "workflows" / "schemas" / "config.schema.yaml"
CONFIGS = ROOT / "workflows" / "config"
SITE_VARS = ("BNNBENCH_SLURM_PARTITION", "BNNBENCH_SLURM_ACCOUNT", "BNNBENCH_SLURM_QOS")


def load(name: str) -> dict:
    """A shipped config as the workflow sees it: laid over the default."""
    return configs.shipped(name)


def wildcards(dataset: str = "cifar10", arch: str = "resnet18") -> SimpleNamespace:
    return SimpleNamespace(dataset=dataset, arch=arch)


# -- resources per run and attempt -------------------------------------------------------


CONFIG = {
    "threads": 4,
    "resources": {
        "mem_mb": 8000,
        "runtime": 100,
        "gpus": 1,
        "runtime_growth": 2,
        "estimates": {
            "cifar10": {"resnet50": {"runtime": 300, "mem_mb": 20000}, "default": {"runtime": 150}},
            "digits": {"default": {"gpus": 0}},
        },
    },
}


def test_resources_fall_back_arch_then_dataset_default_then_top_level():
    assert cluster.resource_estimate(CONFIG, "cifar10", "resnet50") == {
        "mem_mb": 20000,
        "runtime": 300,
        "gpus": 1,
        "runs_per_gpu": 1,
    }
    assert cluster.resource_estimate(CONFIG, "cifar10", "resnet18") == {
        "mem_mb": 8000,
        "runtime": 150,
        "gpus": 1,
        "runs_per_gpu": 1,
    }
    assert cluster.resource_estimate(CONFIG, "cifar100", "resnet18") == {
        "mem_mb": 8000,
        "runtime": 100,
        "gpus": 1,
        "runs_per_gpu": 1,
    }
    assert cluster.resource_estimate({}, "x", "y") == {
        "mem_mb": 4096,
        "runtime": 60,
        "gpus": 0,
        "runs_per_gpu": 1,
    }


@pytest.mark.parametrize(("attempt", "runtime"), [(1, 300), (2, 600), (3, 1200)])
def test_runtime_grows_with_the_attempt(attempt, runtime):
    assert cluster.train_resources(CONFIG, wildcards("cifar10", "resnet50"), attempt)["runtime"] == runtime


def test_fractional_growth_rounds_up():
    config = {"resources": {"runtime": 10, "runtime_growth": 1.5}}
    assert [cluster.train_resources(config, wildcards(), a)["runtime"] for a in (1, 2, 3)] == [10, 15, 23]


def test_loader_workers_add_cpus():
    config = {**CONFIG, "data_options": {"cifar10": {"workers": 8}}}
    assert cluster.train_resources(config, wildcards("cifar10", "resnet18"))["cpus_per_gpu"] == 4 + 8
    assert cluster.train_resources(config, wildcards("cifar100", "resnet18"))["cpus_per_gpu"] == 4


def test_runs_that_share_a_gpu_ask_for_one_between_them():
    """runs_per_gpu = 3 for cifar10 resnet20: each run asks for gres gpu:1 (a string, equal in
    the group, so the group's job asks for one GPU) and no GPU of its own; CPUs per task; its
    runtime times 3. Runs on several GPUs, or none, never share."""
    shared = {"resnet20": {"runtime": 20, "runs_per_gpu": 3}, "resnet50": {"gpus": 2, "runs_per_gpu": 3}}
    estimates = {**CONFIG["resources"]["estimates"], "cifar10": shared}
    config = {**CONFIG, "resources": {**CONFIG["resources"], "estimates": estimates}}
    r = cluster.train_resources(config, wildcards("cifar10", "resnet20"))
    assert (r["gpu"], r["gres"], r["cpus_per_task"], r["cpus_per_gpu"], r["runtime"]) == (
        0,
        "gpu:1",
        4,
        0,
        60,
    )
    alone = cluster.train_resources(config, wildcards("cifar10", "resnet50"))
    assert (alone["gpu"], alone["gres"]) == (2, "")
    group = cluster.share_group(config)
    assert group(wildcards("cifar10", "resnet20")) == "gpu_share_3"
    assert group(wildcards("cifar10", "resnet50")) is None  # two GPUs: data-parallel, not shared
    assert group(wildcards("cifar100", "resnet20")) is None
    assert cluster.share_components(config) == {"gpu_share_3": 3}
    assert cluster.share_components(CONFIG) == {}
    cluster.check_share_components(config, {"gpu_share_3": 3})
    with pytest.raises(UserError, match="--group-components gpu_share_3=3"):
        cluster.check_share_components(config, {})
    # on a cluster the first shared run checks the command's --group-components; locally, none
    on_cluster = cluster.share_group(config, lambda: {"gpu_share_3": 2})
    assert on_cluster(wildcards("cifar100", "resnet20")) is None  # not shared: nothing checked
    with pytest.raises(UserError, match="gpu_share_3=3"):
        on_cluster(wildcards("cifar10", "resnet20"))
    assert (
        cluster.share_group(config, lambda: {"gpu_share_3": 3})(wildcards("cifar10", "resnet20"))
        == "gpu_share_3"
    )
    assert cluster.share_group(config, lambda: False)(wildcards("cifar10", "resnet20")) == "gpu_share_3"


def test_a_group_jobs_log_names_its_runs(tmp_path):
    log = tmp_path / "7.log"
    command = (
        "--target-jobs train:recipe=smoke,dataset=synthetic train:recipe=smoke,dataset=digits --cores all"
    )
    log.write_text(
        f"Building\n  Command: /x/snakemake --snakefile S {command}\n  Command: later one train:x\n"
    )
    assert slurm_checks._group_members(log) == 2


def test_cpus_are_threads_per_gpu_or_per_task():
    gpu = cluster.train_resources(CONFIG, wildcards("cifar10", "resnet18"))
    assert (gpu["gpu"], gpu["cpus_per_gpu"], gpu["cpus_per_task"]) == (1, 4, 0)
    cpu = cluster.train_resources(CONFIG, {"dataset": "digits", "arch": "resnet18"})
    assert (cpu["gpu"], cpu["cpus_per_gpu"], cpu["cpus_per_task"]) == (0, 0, 4)


def test_resource_callables_take_what_snakemake_passes():
    for name in cluster.TRAIN_RESOURCES:
        fn = cluster.train_resource(CONFIG, name)
        if name == "gres":  # no run of CONFIG shares a GPU: the same for every run
            assert fn == ""
            continue
        assert list(inspect.signature(fn).parameters) == ["wildcards", "attempt"]
        assert (
            fn(wildcards("cifar10", "resnet50"), 2)
            == cluster.train_resources(CONFIG, wildcards("cifar10", "resnet50"), 2)[name]
        )
    with pytest.raises(ValueError, match="unknown train resource"):
        cluster.train_resource(CONFIG, "gpus_per_node")


def test_resources_the_same_for_every_run_are_numbers_not_callables():
    """Fewer callables for Snakemake to evaluate per job; the paper config varies mem and runtime."""
    paper = {name: cluster.train_resource(load("paper"), name) for name in cluster.TRAIN_RESOURCES}
    constants = {name: value for name, value in paper.items() if not callable(value)}
    assert constants == {"cpus_per_task": 0, "gres": ""}
    assert callable(paper["mem_mb"]) and callable(paper["runtime"])
    assert callable(paper["gpu"])  # imagenet trains data-parallel on 4 GPUs
    assert cluster.resource_estimate(load("paper"), "imagenet", "resnet18_imagenet")["gpus"] == 4
    assert cluster.resource_estimate(load("paper"), "cifar10", "resnet18")["gpus"] == 1
    assert callable(paper["cpus_per_gpu"])  # imagenet adds its loader workers
    fixed = {"threads": 1, "datasets": ["digits"], "archs": ["resnet18"], "resources": {"runtime_growth": 1}}
    assert cluster.train_resource(fixed, "runtime") == cluster.RESOURCE_DEFAULTS["runtime"]
    assert callable(cluster.train_resource({**fixed, "resources": {"runtime_growth": 2}}, "runtime"))


def test_shipped_configs_estimate_every_run():
    paper, smoke = load("paper"), load("smoke")
    minimum = paper["resources"]["from_plan"]["minimum"]
    for run in grid.all_runs(paper):
        r = cluster.train_resources(paper, run, 1)
        workers = paper["data_options"].get(run.dataset, {}).get("workers", 0)
        assert r["gpu"] == (4 if run.dataset == "imagenet" else 1)  # ImageNet: data-parallel
        assert r["cpus_per_gpu"] == paper["threads"] + workers and r["runtime"] >= minimum
    # the paper's runtimes come from the planner: per run, deeper networks ask for more
    wanted = ("paper", "cifar100", "ste", 0)
    ste = {r.arch: r for r in grid.all_runs(paper) if (r.recipe, r.dataset, r.variant, r.seed) == wanted}
    shallow, deepest = ste["resnet18"], dataclasses.replace(ste["resnet18"], arch="resnet50")
    assert (
        cluster.train_resources(paper, deepest)["runtime"]
        > cluster.train_resources(paper, shallow)["runtime"]
    )
    r = cluster.train_resources(smoke, wildcards("synthetic", "resnet18"), 1)
    assert r["gpu"] == 0 and r["cpus_per_task"] == smoke["threads"]


@pytest.mark.parametrize(
    "resources",
    [
        {"estimates": {"cifar10": {"resnet18": {"runtim": 10}}}},
        {"estimates": {"cifar10": {"resnet18": {"runtime": 0}}}},
        {"estimates": {"cifar10": {"resnet18": {}}}},
        {"runtime_growth": 0.5},
        {"gpus": -1},
    ],
)
def test_schema_rejects_bad_resources(resources):
    config = load("smoke")
    config["resources"] = resources
    with pytest.raises(WorkflowError):
        validate(config, str(SCHEMA))


def test_schema_fills_checkpoint_defaults():
    config = load("smoke")
    config.pop("checkpoint")
    validate(config, str(SCHEMA))
    assert config["checkpoint"] == {"seconds": 300, "steps": 0}


def test_train_rule_execs_bnnbench_with_the_checkpoint_settings():
    text = (ROOT / "workflows" / "train.smk").read_text()
    assert '"exec {params.launch} train' in text  # the signal reaches python (or torchrun), not a shell
    assert cluster.launcher(load("smoke")) == "bnnbench"
    launch = cluster.launcher(load("paper"))  # ImageNet runs: one process per GPU
    assert (
        launch(wildcards("imagenet", "resnet18_imagenet"))
        == "torchrun --standalone --nproc-per-node 4 -m benchmark.cli"
    )
    assert launch(wildcards("cifar10", "resnet18")) == "bnnbench"
    assert "--checkpoint-seconds {resources.checkpoint_seconds}" in text
    assert "--checkpoint-steps {resources.checkpoint_steps}" in text
    assert 'checkpoint_seconds=config["checkpoint"]["seconds"]' in text  # not a param: no reruns


# -- the profile -------------------------------------------------------------------------


def parse_profile(monkeypatch, **site: str) -> dict:
    for var in SITE_VARS:
        monkeypatch.delenv(var, raising=False)
    for var, value in site.items():
        monkeypatch.setenv(var, value)
    with PROFILE.open() as stream:
        return ProfileConfigFileParser().parse(stream)


def test_profile_takes_partition_account_qos_from_the_environment(monkeypatch):
    profile = parse_profile(
        monkeypatch, BNNBENCH_SLURM_PARTITION="gpu", BNNBENCH_SLURM_ACCOUNT="lab", BNNBENCH_SLURM_QOS="long"
    )
    assert "slurm_partition=gpu" in profile["default-resources"]
    assert "slurm_account=lab" in profile["default-resources"]
    assert profile["slurm-qos"] == "long"


def test_profile_without_site_settings_names_no_partition_account_or_qos(monkeypatch):
    profile = parse_profile(monkeypatch)
    assert "slurm_partition=" in profile["default-resources"]
    assert "slurm_account=" in profile["default-resources"]
    assert "slurm-qos" not in profile
    text = PROFILE.read_text()
    for line in text.splitlines():  # nothing site-specific is written in the repository
        if line.split("#")[0].strip().startswith(("slurm_partition", "slurm_account", "slurm-qos")):
            assert "os.environ" in line


def test_profile_selects_the_paper_config_and_the_slurm_executor(monkeypatch):
    profile = parse_profile(monkeypatch)
    assert profile["executor"] == "slurm"
    assert Path(profile["configfile"]).resolve() == (CONFIGS / "paper.yaml").resolve()
    assert profile["slurm-requeue"] == "True"
    assert profile["slurm-status-command"] == "squeue"
    assert int(profile["retries"]) >= 1
    extra = next(v for v in profile["default-resources"] if v.startswith("slurm_extra="))
    assert "--signal=TERM@" in extra and "--open-mode=append" in extra


def test_profile_options_exist_in_the_installed_plugin():
    plugin = pytest.importorskip("snakemake_executor_plugin_slurm")
    fields = set(plugin.ExecutorSettings.__dataclass_fields__)
    keys = {k for k in yaml.safe_load(PROFILE.read_text()) if k.startswith("slurm-")}
    assert {k.removeprefix("slurm-").replace("-", "_") for k in keys} <= fields


# -- the local cluster's configuration -----------------------------------------------------


def test_slurm_conf_keeps_every_file_in_the_state_directory(tmp_path):
    layout = local_slurm.Layout(tmp_path)
    node = local_slurm.Node("vm", 2, 4000)
    conf = local_slurm.slurm_conf(layout, node, 7001, 7002, kill_wait=3, cred_expire=10)
    settings = dict(line.split("=", 1) for line in conf.splitlines() if "=" in line and " " not in line)
    assert settings["AccountingStorageType"] == "accounting_storage/none"
    assert settings["JobAcctGatherType"] == "jobacct_gather/none"
    assert settings["ProctrackType"] == "proctrack/linuxproc"
    assert settings["TaskPlugin"] == "task/none"
    assert settings["SelectType"] == "select/cons_tres"
    assert settings["ReturnToService"] == "2"
    assert settings["SlurmUser"] == "root"
    assert settings["KillWait"] == "3"
    assert int(settings["MinJobAge"]) >= 120  # squeue-only status checks need it
    assert (settings["SlurmctldPort"], settings["SlurmdPort"]) == ("7001", "7002")
    assert "cred_expire=10" in settings["AuthInfo"]
    for key in (
        "StateSaveLocation",
        "SlurmdSpoolDir",
        "SlurmctldPidFile",
        "SlurmdPidFile",
        "SlurmctldLogFile",
    ):
        assert settings[key].startswith(str(tmp_path)), key
    assert "NodeName=vm NodeAddr=127.0.0.1 CPUs=2 RealMemory=4000 State" in conf
    assert "PartitionName=debug Nodes=vm Default=YES" in conf
    assert "GresTypes" not in settings


def test_a_node_with_a_generic_gpu_declares_it_with_a_device_file(tmp_path):
    node = local_slurm.Node("vm", 2, 4000)
    conf = local_slurm.slurm_conf(local_slurm.Layout(tmp_path), node, 7001, 7002, gpus=1)
    assert "GresTypes=gpu" in conf.splitlines()
    assert "NodeName=vm NodeAddr=127.0.0.1 CPUs=2 RealMemory=4000 Gres=gpu:1 State=UNKNOWN" in conf
    assert local_slurm.gres_conf(node, 1) == "NodeName=vm Name=gpu File=/dev/null\n"


def test_local_node_is_this_host():
    node = local_slurm.local_node()
    assert node.name and "." not in node.name
    assert node.cpus >= 1 and node.memory_mb >= 256


def test_environment_points_clients_at_the_cluster(tmp_path):
    env = local_slurm.environment(tmp_path)
    assert env["SLURM_CONF"] == str(tmp_path / "slurm.conf")
    assert env["PATH"].split(":")[0] == str(tmp_path / "bin")


def test_free_ports_are_distinct():
    ports = local_slurm.free_ports(3)
    assert len(set(ports)) == 3 and all(1024 < p < 65536 for p in ports)


def test_stop_without_a_cluster_stops_nothing(tmp_path):
    assert local_slurm.stop(tmp_path) == []
    assert "not running" in local_slurm.status(tmp_path)


# -- comparing runs, finding jobs --------------------------------------------------------


def write_run(directory: Path, *, seconds: str = "1.5", acc: str = "50.0", wall: float = 3.0) -> Path:
    directory.mkdir(parents=True)
    (directory / "metrics.csv").write_text(f"epoch,step,test_acc,seconds\n1,8,{acc},{seconds}\n")
    (directory / "layers.csv").write_text("epoch,name,weight_frozen\n1,conv1,0.5\n")
    result = {
        "status": "ok",
        "test_acc": float(acc),
        "wall_seconds": wall,
        "steps_per_second": 8 / wall,
        "provenance": {"hostname": str(directory)},
    }
    (directory / "result.json").write_text(json.dumps(result))
    return directory


def test_runs_that_differ_only_in_timing_are_equal(tmp_path):
    a = write_run(tmp_path / "a", seconds="1.5", wall=3.0)
    b = write_run(tmp_path / "b", seconds="9.9", wall=7.0)
    assert slurm_checks.compare_runs(a, b) == []


def test_a_different_number_is_a_difference(tmp_path):
    a = write_run(tmp_path / "a", acc="50.0")
    b = write_run(tmp_path / "b", acc="50.00001")
    diffs = slurm_checks.compare_runs(a, b)
    assert any("metrics.csv row 1 test_acc" in d for d in diffs)
    assert any("result.json test_acc" in d for d in diffs)


def test_a_missing_record_is_a_difference(tmp_path):
    a = write_run(tmp_path / "a")
    b = write_run(tmp_path / "b")
    (b / "layers.csv").unlink()
    assert slurm_checks.compare_runs(a, b) == ["layers.csv: present in only one of the runs"]


def test_timing_keys():
    assert slurm_checks.strip_timing(
        {"wall_seconds": 1, "a": {"time_total": 2, "b": 3}, "provenance": {}}
    ) == {"a": {"b": 3}}
    assert not slurm_checks.is_timing_key("test_acc")


def test_job_comment_is_the_plugins():
    utils = pytest.importorskip("snakemake_executor_plugin_slurm.utils")
    run = RunId("smoke", "synthetic", "resnet18", "bnn", "stompp_ste", "forward", 0)
    job = SimpleNamespace(
        wildcards=[
            str(v)
            for v in (run.recipe, run.dataset, run.arch, run.regime, run.variant, run.ordering, run.seed)
        ]
    )
    assert slurm_checks.job_comment(run) == f"rule_train_wildcards_{utils.get_job_wildcards(job)}"


def test_run_from_directory_inverts_run_directory():
    run = RunId("smoke", "synthetic", "resnet34", "bwn", "stompp", "global", 3)
    assert RunId.from_directory(Path("/tmp/w") / run.directory) == run
    with pytest.raises(UserError, match="cannot tell which run"):
        RunId.from_directory("/a/b/c/d/e/f/g/h")


def test_configs_merge_like_snakemake():
    merged = configs.merge({"a": {"x": 1, "y": 2}, "l": [1]}, {"a": {"y": 3}, "l": [2]})
    assert merged == {"a": {"x": 1, "y": 3}, "l": [2]}
    config = configs.load(CONFIGS / "smoke.yaml")
    targets = configs.targets(config)
    assert "results/regression_report.md" in targets
    assert all(f"results/table_{name}.csv" in targets for name in config["tables"])


def test_a_grid_that_built_one_target_is_checked_on_that_target_and_its_runs(tmp_path):
    smoke, target = load("smoke"), "results/table_depth_scaling.csv"
    assert slurm_checks.check_target(tmp_path, smoke, target) == [f"missing {target}"]
    (tmp_path / target).parent.mkdir(parents=True)
    (tmp_path / target).write_text("table\n")
    assert slurm_checks.check_target(tmp_path, smoke, target) == [
        f"no run of {target} was trained in {tmp_path}"
    ]
    run = grid.all_runs(smoke)[0]
    (tmp_path / run.directory).mkdir(parents=True)
    (tmp_path / run.result).write_text(json.dumps({"status": "ok"}))
    assert slurm_checks.check_target(tmp_path, smoke, target) == []
    (tmp_path / run.result).write_text(json.dumps({"status": "diverged"}))
    assert slurm_checks.check_target(tmp_path, smoke, target) == [
        f"{run.result}: status 'diverged', expected 'ok'"
    ]
