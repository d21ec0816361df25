"""The descriptive commands: ``bnnbench methods``, ``summary`` and ``bench``."""

import pytest
import torch

from benchmark.bench import bench_data, run_bench
from benchmark.bench_data import cifar_shaped
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


@pytest.mark.parametrize(
    ("arch", "shape"),
    [("bert_tiny", ["--seq-len", "8", "--vocab-size", "50"]), ("mobilenetv2", ["--image-size", "16"])],
)
def test_bench_reports_a_ratio_per_method_for_text_and_image_archs(
    arch: str, shape: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    asked = ["ste", "stompp", "ovsw"]
    argv = ["bench", "--arch", arch, "--width", "0.25", "--batch-size", "4", "--steps", "2", *shape]
    assert main([*argv, "--threads", "1", "--methods", *asked]) == 0
    out = capsys.readouterr().out
    whole = out.split("-- whole schedule")[1].split("-- first quarter")[0]
    ratios = {line.split()[0]: float(line.split()[-1]) for line in whole.strip().splitlines()}
    assert set(ratios) == set(asked) and ratios["ste"] == 1.0
    assert all(r > 0 for r in ratios.values())


def test_bench_batch_is_seeded_and_of_the_kind_the_arch_takes() -> None:
    text = bench_data("bert_tiny", 3, seq_len=5, vocab_size=7)
    ids, labels = next(text.batches("test", 3))
    assert set(ids) == {"input_ids", "attention_mask", "token_type_ids"} and labels.shape == (3,)
    assert ids["input_ids"].shape == (3, 5) and ids["input_ids"].dtype == torch.int64
    assert ids["input_ids"].max() < 7 and bool(ids["attention_mask"].eq(1).all())
    again = next(bench_data("bert_tiny", 3, seq_len=5, vocab_size=7).batches("test", 3))[0]
    assert torch.equal(ids["input_ids"], again["input_ids"])
    images, _ = next(bench_data("mobilenetv2", 2, image_size=8).batches("test", 2))
    assert images.shape == (2, 3, 8, 8)


def test_bench_data_share_times_both_placements(capsys: pytest.CaptureFixture[str]) -> None:
    argv = [
        "bench",
        "--data-share",
        "--width",
        "0.0625",
        "--batch-size",
        "4",
        "--steps",
        "2",
        "--device",
        "cpu",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(
        "resnet18 (width 0.0625), ste, batch 4 of 3x32x32 uint8 images, 2 timed steps, cpu"
    )
    rows = {line.split()[0]: line.split() for line in out[2:]}
    assert set(rows) == {"host", "device"}
    for cells in rows.values():
        assemble, step, share = float(cells[1]), float(cells[2]), float(cells[3].rstrip("%"))
        assert assemble > 0 and step > 0
        assert share == pytest.approx(100 * assemble / (assemble + step), abs=1.0)


def test_cifar_shaped_batches_are_uint8_pixels_augmented_and_normalised() -> None:
    data = cifar_shaped(16)
    x, y = next(data.batches("train", 8, generator=torch.Generator().manual_seed(0), augment=True))
    assert x.dtype == torch.float32 and x.shape == (8, 3, 32, 32) and y.shape == (8,)
    assert data.augmentation.pad == 4 and data.augmentation.flip
    assert abs(float(x.mean())) < 0.5  # normalised with CIFAR's statistics
