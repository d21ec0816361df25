"""The training run: records, determinism, divergence, and errors before any training."""

import json
from pathlib import Path

import pandas as pd
import pytest

import methods
from benchmark.cli import main
from tests.cifar_files import write_cifar10

FAST = [
    "--dataset",
    "synthetic",
    "--arch",
    "resnet18",
    "--width",
    "0.0625",
    "--epochs",
    "2",
    "--threads",
    "1",
    "--no-progress",
]


def train(out: Path, *extra: str) -> int:
    return main(["train", *FAST, *extra, "--out", str(out)])


def test_a_run_writes_its_records(tmp_path: Path) -> None:
    assert train(tmp_path / "run", "--method", "stompp", "--set", "freeze_end=0.8") == 0
    result = json.loads((tmp_path / "run" / "result.json").read_text())
    assert result["status"] == "ok" and result["epochs"] == 2
    assert result["identity"] == {
        "recipe": "custom",
        "dataset": "synthetic",
        "arch": "resnet18",
        "regime": "bnn",
        "variant": "stompp",
        "method": "stompp",
        "ordering": "forward",
        "seed": 0,
    }
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["method_overrides"] == {"freeze_end": 0.8} and len(config["config_hash"]) == 64
    assert config["method_config"]["freeze_end"] == 0.8 and config["method_config"]["ordering"] == "forward"
    metrics = pd.read_csv(tmp_path / "run" / "metrics.csv")
    assert list(metrics.columns[:7]) == [
        "epoch",
        "step",
        "lr",
        "train_loss",
        "train_acc",
        "test_acc",
        "test_acc_as_trained",
    ]
    assert metrics.columns[-1] == "seconds" and "weight_frozen" in metrics.columns
    assert metrics["weight_frozen"].iloc[-1] == 1.0
    layers = pd.read_csv(tmp_path / "run" / "layers.csv")
    assert len(layers) == 2 * 19 and set(layers.columns) >= {
        "epoch",
        "order",
        "name",
        "weight_frozen",
        "act_frozen",
    }
    for key in ("torch", "hostname", "device", "python", "cpu_model"):
        assert key in result["provenance"]


def test_provenance_records_the_cpu_capability_and_its_pins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The kernels' instruction set decides CPU numbers (AVX2 and AVX-512 differ by points)."""
    import torch

    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    monkeypatch.delenv("ATEN_CPU_CAPABILITY", raising=False)
    assert train(tmp_path / "run", "--method", "fp", "--regime", "fp") == 0
    provenance = json.loads((tmp_path / "run" / "result.json").read_text())["provenance"]
    assert provenance["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert provenance["cpu_capability"] in (
        "DEFAULT",
        "VSX",
        "Z VECTOR",
        "NO AVX",
        "AVX2",
        "AVX512",
        "SVE256",
    )
    assert provenance["cpu_isa_pins"] == {"ATEN_CPU_CAPABILITY": None, "ONEDNN_MAX_CPU_ISA": "AVX2"}


@pytest.mark.parametrize("method", methods.method_names())
def test_same_run_twice_gives_identical_metrics(tmp_path: Path, method: str) -> None:
    for name in ("a", "b"):
        assert train(tmp_path / name, "--method", method, "--seed", "3") == 0
    a = pd.read_csv(tmp_path / "a" / "metrics.csv").drop(columns="seconds")
    b = pd.read_csv(tmp_path / "b" / "metrics.csv").drop(columns="seconds")
    pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_different_seeds_give_different_runs(tmp_path: Path) -> None:
    for seed in ("0", "1"):
        assert train(tmp_path / seed, "--method", "ste", "--seed", seed) == 0
    a = pd.read_csv(tmp_path / "0" / "metrics.csv")
    b = pd.read_csv(tmp_path / "1" / "metrics.csv")
    assert not a["train_loss"].equals(b["train_loss"])


def test_an_absurd_learning_rate_ends_as_diverged_not_a_traceback(tmp_path: Path) -> None:
    assert train(tmp_path / "run", "--method", "fp", "--set", "recipe.lr=1e12") == 0
    result = json.loads((tmp_path / "run" / "result.json").read_text())
    assert result["status"] == "diverged"
    assert result["test_acc"] == result["chance_acc"] == 10.0


@pytest.mark.parametrize(
    ("flag", "value", "valid"),
    [
        ("--method", "stomp", "stompp"),
        ("--arch", "resnet19", "resnet18"),
        ("--dataset", "cifar11", "cifar10"),
    ],
)
def test_unknown_names_stop_with_the_valid_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str, value: str, valid: str
) -> None:
    args = {"--method": "ste", "--arch": "resnet18", "--dataset": "synthetic", flag: value}
    code = main(["train", *[x for kv in args.items() for x in kv], "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and value in err and valid in err and "Valid" in err
    assert not (tmp_path / "r").exists()


def test_bad_hyperparameters_name_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert train(tmp_path / "r", "--method", "stompp", "--set", "freeze_end=2") == 2
    assert "freeze_end" in capsys.readouterr().err
    assert train(tmp_path / "r", "--method", "stompp", "--set", "warmup=3") == 2
    assert "warmup" in capsys.readouterr().err
    assert train(tmp_path / "r", "--method", "ste", "--set", "recipe.batch_size=0") == 2
    assert "recipe.batch_size" in capsys.readouterr().err
    assert train(tmp_path / "r", "--method", "ste", "--ordering", "forward") == 2
    assert "no ordering" in capsys.readouterr().err


CIFAR = [
    "train",
    "--dataset",
    "cifar10",
    "--arch",
    "resnet18",
    "--method",
    "ste",
    "--width",
    "0.0625",
    "--no-progress",
]


def test_missing_cifar_stops_before_training(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    code = main([*CIFAR, "--data-root", str(tmp_path / "nowhere"), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "nowhere" in err and "data_batch_1" in err and "cifar.html" in err
    assert not (out / "metrics.csv").exists() and not (out / "result.json").exists()


def test_cifar10_trains_from_files_in_the_real_format(tmp_path: Path) -> None:
    write_cifar10(tmp_path / "data", per_batch=4, test_size=4)
    out = tmp_path / "run"
    extra = ["--epochs", "1", "--set", "recipe.batch_size=4", "--data-root", str(tmp_path / "data")]
    code = main([*CIFAR, *extra, "--out", str(out)])
    assert code == 0 and json.loads((out / "result.json").read_text())["status"] == "ok"
