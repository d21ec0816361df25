"""Precision, compilation, determinism and data placement (``benchmark.runtime``; issue 12):
recorded choices that enter the config where they decide the numbers, and a data path on the
device that gives the host path's batches."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from benchmark import checkpoint, cluster, job_args, records, runtime
from benchmark import train as train_module
from benchmark.data import load_dataset
from benchmark.errors import UserError
from benchmark.runtime import Runtime, prepare_model
from methods.step import training_step
from tests.test_resume import assert_same_records, spec_for, stop_at
from tests.tiny import batch, tiny_net


def with_runtime(spec, **settings):  # noqa: ANN001, ANN201
    return dataclasses.replace(spec, runtime=Runtime(**settings))


# -- the config -------------------------------------------------------------------------------
def test_default_settings_leave_the_config_and_its_hash_as_they_were() -> None:
    spec = spec_for("ste")
    explicit = with_runtime(spec, precision="fp32", compile=False, deterministic=True, data="host")
    assert "runtime" not in spec.to_dict()
    assert records.config_hash(spec.to_dict()) == records.config_hash(explicit.to_dict())


@pytest.mark.parametrize(
    ("settings", "entry"),
    [
        ({"precision": "bf16"}, {"precision": "bf16"}),
        ({"precision": "tf32"}, {"precision": "tf32"}),
        ({"compile": True}, {"compile": True}),
        ({"deterministic": False, "precision": "bf16"}, {"precision": "bf16", "deterministic": False}),
        ({"cpu_isa": "avx2"}, {"cpu_isa": "avx2"}),
    ],
)
def test_numeric_settings_enter_the_config_and_change_its_hash(settings: dict, entry: dict) -> None:
    spec = spec_for("ste")
    changed = with_runtime(spec, **settings)
    assert changed.to_dict()["runtime"] == entry
    assert records.config_hash(changed.to_dict()) != records.config_hash(spec.to_dict())


def test_data_placement_is_not_part_of_the_config() -> None:
    spec = spec_for("ste")
    assert with_runtime(spec, data="device").to_dict() == spec.to_dict()


def test_unknown_settings_are_refused_by_name() -> None:
    with pytest.raises(UserError, match="precision 'fp16' is not one of fp32, tf32, bf16"):
        Runtime(precision="fp16")  # type: ignore[arg-type]
    with pytest.raises(UserError, match="cpu_isa 'avx512' is not one of native, avx2"):
        Runtime(cpu_isa="avx512")  # type: ignore[arg-type]
    with pytest.raises(UserError, match=r"unknown runtime key\(s\) \['precison'\]"):
        Runtime.from_dict({"precison": "bf16"})
    with pytest.raises(UserError, match="streams from disk: use --data host"):
        Runtime(data="device").data_on_device(torch.device("cpu"), in_memory=False)


def test_auto_placement_moves_in_memory_data_to_cuda_only() -> None:
    auto = Runtime()
    assert auto.data_on_device(torch.device("cuda"), in_memory=True)
    assert not auto.data_on_device(torch.device("cuda"), in_memory=False)
    assert not auto.data_on_device(torch.device("cpu"), in_memory=True)
    assert Runtime(data="device").data_on_device(torch.device("cpu"), in_memory=True)


def test_the_workflow_passes_only_settings_that_differ_from_the_defaults() -> None:
    assert job_args.runtime_args({}) == ""
    defaults = {"precision": "fp32", "compile": False, "deterministic": True, "data": "auto"}
    assert job_args.runtime_args({"runtime": defaults}) == ""
    fast = {"precision": "bf16", "compile": True, "deterministic": False, "data": "host", "cpu_isa": "avx2"}
    assert job_args.runtime_args({"runtime": fast}) == (
        "--precision bf16 --compile --no-deterministic --data-placement host --cpu-isa avx2"
    )


# -- the CPU kernels' instruction set ---------------------------------------------------------
PINS = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}


def test_the_workflow_starts_a_pinned_run_behind_its_pins() -> None:
    assert cluster.launcher({}) == "bnnbench"
    pinned = cluster.launcher({"runtime": {"cpu_isa": "avx2"}})
    assert pinned == "env ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 bnnbench"
    assert runtime.isa_environment(Runtime(cpu_isa="avx2")) == PINS
    assert runtime.isa_environment(Runtime()) == {}


def test_a_pinned_run_refuses_to_start_without_its_pins_or_on_another_isa(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    avx2 = Runtime(cpu_isa="avx2")
    runtime.check_cpu_isa(Runtime())  # native: nothing to check
    monkeypatch.delenv("ATEN_CPU_CAPABILITY", raising=False)
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    with pytest.raises(
        UserError, match="start it as `ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 bnnbench"
    ):
        runtime.check_cpu_isa(avx2)
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "avx2")
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "DEFAULT")  # no AVX2 in this CPU
    with pytest.raises(UserError, match="dispatches this CPU's kernels to DEFAULT, not AVX2"):
        runtime.check_cpu_isa(avx2)
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX2")
    runtime.check_cpu_isa(avx2)


def test_a_pinned_run_records_avx2(tmp_path: Path) -> None:
    """A real process started as the workflow starts it: torch loads with the pins set."""
    env = {**os.environ, **PINS}
    args = ["train", "--dataset", "synthetic", "--arch", "resnet18", "--width", "0.0625", "--epochs", "1"]
    args += [
        "--method",
        "ste",
        "--cpu-isa",
        "avx2",
        "--threads",
        "1",
        "--no-progress",
        "--out",
        str(tmp_path),
    ]
    done = subprocess.run(
        [sys.executable, "-m", "benchmark.cli", *args], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["provenance"]["cpu_capability"] == "AVX2"
    assert result["provenance"]["cpu_isa_pins"] == PINS
    assert result["provenance"]["runtime"]["cpu_isa"] == "avx2"
    assert json.loads((tmp_path / "config.json").read_text())["runtime"] == {"cpu_isa": "avx2"}


def test_a_checkpoint_of_the_native_kernels_is_refused_by_a_pinned_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = spec_for("ste")
    with monkeypatch.context() as patch:
        stop_at(patch, 2)
        with pytest.raises(checkpoint.Preempted):
            train_module.train(spec, tmp_path, show_progress=False)
    for key, value in PINS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX2")
    with pytest.raises(UserError, match=r"cpu_isa=native \(this run: avx2\)"):
        train_module.train(with_runtime(spec, cpu_isa="avx2"), tmp_path, show_progress=False)


# -- data on the device -----------------------------------------------------------------------
def test_a_dataset_on_the_device_yields_the_host_batches() -> None:
    host = load_dataset("synthetic")
    device = host.to(torch.device("cpu"))
    assert device.device == torch.device("cpu")
    g_host, g_device = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    pairs = zip(
        host.batches("train", 32, generator=g_host, augment=True),
        device.batches("train", 32, generator=g_device, augment=True),
        strict=True,
    )
    for (xa, ya), (xb, yb) in pairs:
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    assert torch.equal(g_host.get_state(), g_device.get_state())


def test_device_placement_trains_the_host_records(tmp_path: Path) -> None:
    spec = spec_for("stompp")
    train_module.train(with_runtime(spec, data="host"), tmp_path / "host", show_progress=False)
    result = train_module.train(with_runtime(spec, data="device"), tmp_path / "device", show_progress=False)
    assert_same_records(tmp_path / "host", tmp_path / "device")
    assert result["provenance"]["runtime"]["data"] == "device"
    host = json.loads((tmp_path / "host" / "result.json").read_text())
    assert host["provenance"]["runtime"] == {
        "precision": "fp32",
        "compile": False,
        "deterministic": True,
        "processes": 1,
        "cpu_isa": "native",
        "data": "host",
        "device_type": "cpu",
    }


# -- bf16 -------------------------------------------------------------------------------------
def test_bf16_keeps_batchnorm_and_the_loss_in_float32() -> None:
    model = prepare_model(tiny_net(), Runtime(precision="bf16"))
    seen: dict[str, list[torch.dtype]] = {"conv": [], "bn_in": [], "bn_out": []}

    def conv_hook(module: nn.Module, args: tuple, out: torch.Tensor) -> None:
        seen["conv"].append(out.dtype)

    def bn_hook(module: nn.Module, args: tuple, out: torch.Tensor) -> None:
        seen["bn_in"].append(args[0].dtype)
        seen["bn_out"].append(out.dtype)

    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            module.register_forward_hook(conv_hook)
        if isinstance(module, nn.BatchNorm2d):
            module.register_forward_hook(bn_hook)
    x, y = batch()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        model(x)
    assert set(seen["conv"]) == {torch.bfloat16}
    assert set(seen["bn_in"]) == set(seen["bn_out"]) == {torch.float32}
    from methods import get_method

    method = get_method("fp")(get_method("fp").config_class.from_dict({}), "fp", 0)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    amp = lambda: torch.autocast("cpu", dtype=torch.bfloat16)  # noqa: E731
    loss, logits = training_step(model, method, [opt], x, y, 0, autocast=amp)
    assert logits.dtype == torch.bfloat16 and loss.dtype == torch.float32
    assert all(p.dtype == torch.float32 for p in model.parameters())


def test_a_bf16_run_trains_and_records_its_precision(tmp_path: Path) -> None:
    result = train_module.train(
        with_runtime(spec_for("ste", epochs=1), precision="bf16"), tmp_path, show_progress=False
    )
    assert result["status"] == "ok" and math.isfinite(result["train_loss"])
    assert result["provenance"]["runtime"]["precision"] == "bf16"
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["runtime"] == {"precision": "bf16"}


def test_a_checkpoint_of_another_precision_is_refused_with_the_difference(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = spec_for("stompp")
    with monkeypatch.context() as patch:
        stop_at(patch, 2)
        with pytest.raises(checkpoint.Preempted):
            train_module.train(spec, tmp_path, show_progress=False)
    bf16 = with_runtime(spec, precision="bf16")
    with pytest.raises(UserError, match=r"precision=fp32 \(this run: bf16\)"):
        train_module.train(bf16, tmp_path, show_progress=False)
    with pytest.raises(UserError, match=r"deterministic=True \(this run: False\)"):
        train_module.train(with_runtime(spec, deterministic=False), tmp_path, show_progress=False)
    assert (tmp_path / checkpoint.CHECKPOINT_NAME).exists()
