"""The descriptive commands: ``bnnbench methods``, ``summary`` and ``bench``."""

import pytest

from benchmark.bench import run_bench
from benchmark.cli import main


def test_methods_lists_every_method_with_hyperparameters_and_sources(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["methods"]) == 0
    out = capsys.readouterr().out
    for name in ("fp:", "ste:", "stompp:", "stompp_ste:"):
        assert name in out
    assert "freeze_end = 0.9" in out and "frozen_grad = 'ste'" in out and "source:" in out


def test_summary_shows_what_is_binary(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["summary", "--arch", "resnet18", "--method", "ste", "--regime", "bwn", "--width", "0.0625"])
        == 0
    )
    out = capsys.readouterr().out
    lines = out.splitlines()
    conv1 = next(line for line in lines if line.startswith("conv1 "))
    fc = next(line for line in lines if line.startswith("fc "))
    block = next(line for line in lines if line.startswith("layer1.0.conv1 "))
    assert "float" in conv1 and "float" in fc
    assert "BinaryConv2d  binary   float" in block  # bwn: binary weights, float inputs
    assert "binary layers: 19" in out


def test_bench_times_every_method() -> None:
    medians = run_bench(
        "resnet18", width=0.0625, batch_size=4, image_size=16, steps=2, names=["ste", "stompp", "fp"]
    )
    assert set(medians) >= {"ste", "stompp", "fp", "stompp@first_quarter"}
    assert all(t > 0 for t in medians.values())
