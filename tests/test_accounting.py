"""Accounting (benchmark.accounting) on a hand-countable network, and the best-epoch and
accounting columns of the tables (issue 11, items 4 and 5).

The network: ``a`` = Conv2d(2 -> 4, 3x3, pad 1) on a 2x8x8 input, BatchNorm(4), ``b`` =
Conv2d(4 -> 6, 3x3, stride 2, pad 1), BatchNorm(6), average pool, ``head`` = Linear(6 -> 10).
Only ``head`` stays full precision. By hand, per example:

- MACs: a = (4 * 8 * 8 outputs) * (2 * 3 * 3) = 256 * 18 = 4608; b = (6 * 4 * 4) * (4 * 3 * 3)
  = 96 * 36 = 3456; head = 6 * 10 = 60.
- parameters: a 72 and b 216 binary weight entries (288); BatchNorm 2 * 4 + 2 * 6 = 20 and head
  60 + 10 = 70 float (90). BatchNorm's running statistics are buffers: not counted.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch
from torch import nn

import methods
from benchmark import accounting, aggregate, render, tables
from benchmark.cli import main
from benchmark.outputs import TABLES
from benchmark.reporting import build_table
from methods.convert import Binarizable
from methods.multibit import MultiBitMixin
from tests.test_tables import row, write_run

MACS_A, MACS_B, MACS_HEAD = 4608, 3456, 60
BINARY_WEIGHTS, FLOAT_PARAMS = 72 + 216, 8 + 12 + 70
ARCH = Binarizable(full_precision=("head",))


class HandNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(2, 4, 3, padding=1, bias=False)
        self.bn_a = nn.BatchNorm2d(4)
        self.b = nn.Conv2d(4, 6, 3, stride=2, padding=1, bias=False)
        self.bn_b = nn.BatchNorm2d(6)
        self.head = nn.Linear(6, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn_b(self.b(self.bn_a(self.a(x))))
        return self.head(x.mean((2, 3)))


EXAMPLE = torch.zeros(2, 2, 8, 8)  # a batch of two: counts are per example


def converted(method: str, regime: str) -> tuple[nn.Module, methods.Method]:
    torch.manual_seed(0)
    m = methods.build_method(method, {}, regime, 0)
    return m.convert(HandNet(), EXAMPLE, ARCH), m


def test_bnn_counts_binary_macs_as_bops_and_the_float_head_as_flops() -> None:
    model, _ = converted("ste", "bnn")
    counted = accounting.count(model, EXAMPLE)
    assert counted.bops == MACS_A + MACS_B == 8064
    assert counted.flops == MACS_HEAD == 60
    assert counted.ops == 60 + 8064 / 64 == 186.0
    assert counted.size_bits == BINARY_WEIGHTS * 1 + FLOAT_PARAMS * 32 == 3168
    by_name = {layer.name: layer for layer in accounting.layer_counts(model, EXAMPLE)}
    assert list(by_name) == ["a", "b", "head"]  # execution order
    assert (by_name["a"].macs, by_name["b"].macs, by_name["head"].macs) == (MACS_A, MACS_B, MACS_HEAD)


def test_bwn_macs_are_flops_and_its_weights_one_bit() -> None:
    model, _ = converted("ste", "bwn")
    counted = accounting.count(model, EXAMPLE)
    assert (counted.bops, counted.flops, counted.ops) == (0, 8124, 8124.0)
    assert counted.size_bits == 3168


def test_full_precision_is_all_flops_and_32_bits() -> None:
    model, _ = converted("fp", "fp")
    counted = accounting.count(model, EXAMPLE)
    assert (counted.bops, counted.flops, counted.ops) == (0, 8124, 8124.0)
    assert counted.size_bits == (BINARY_WEIGHTS + FLOAT_PARAMS) * 32 == 12096


def test_a_multibit_layer_counts_its_kept_operations_and_the_bases_they_use() -> None:
    """PaBT, M = N = 3: each kept (m, n) is one binary convolution; each weight base in use is
    1 bit per entry; each kept operation's scale gamma_mn is 32 bits."""
    model, method = converted("pabt", "bnn")
    counted = accounting.count(model, EXAMPLE)
    assert counted.bops == 9 * 8064 == 72576 and counted.flops == 60
    assert counted.ops == 60 + 72576 / 64 == 1194.0
    assert counted.size_bits == 3 * BINARY_WEIGHTS + 2 * 9 * 32 + FLOAT_PARAMS * 32 == 4320

    a, b = (model.get_submodule(n) for n in ("a", "b"))
    assert isinstance(a, MultiBitMixin) and isinstance(b, MultiBitMixin)
    for op in [(m, n) for m in range(3) for n in range(3)][1:]:
        a.prune(*op)  # a keeps (0, 0): one base
    for op in [(m, n) for m in range(3) for n in range(3)]:
        if op not in {(0, 0), (0, 1), (2, 2)}:
            b.prune(*op)  # b keeps three operations over bases 0 and 2
    counted = accounting.count(model, EXAMPLE)
    assert counted.bops == 1 * MACS_A + 3 * MACS_B == 14976
    assert counted.ops == 60 + 14976 / 64 == 294.0
    assert counted.size_bits == 72 + 2 * 216 + (1 + 3) * 32 + FLOAT_PARAMS * 32 == 3512

    # the run's record: the network evaluated as binary (one operation per layer)
    record = accounting.final(model, method, EXAMPLE, epoch=1)
    assert record == {"bops": 8064, "flops": 60, "ops": 186.0, "size_bits": 288 + 2 * 32 + 2880}


def test_pabt_bwn_counts_each_weight_base_as_a_float_convolution() -> None:
    model, _ = converted("pabt", "bwn")
    counted = accounting.count(model, EXAMPLE)
    assert counted.bops == 0 and counted.flops == 3 * 8064 + 60
    assert counted.size_bits == 3 * BINARY_WEIGHTS + 2 * 3 * 32 + FLOAT_PARAMS * 32


def test_a_training_run_records_its_accounting(tmp_path: Path) -> None:
    argv = ["train", "--dataset", "synthetic", "--arch", "resnet18", "--width", "0.0625"]
    argv += ["--epochs", "1", "--threads", "1", "--no-progress", "--method", "ste"]
    assert main([*argv, "--out", str(tmp_path / "run")]) == 0
    record = json.loads((tmp_path / "run" / "result.json").read_text())["accounting"]
    assert list(record) == list(accounting.KEYS)
    assert record["bops"] > 0 and record["ops"] == record["flops"] + record["bops"] / 64


# --------------------------------------------------------------------------- tables


def with_accounting(result: Path, **numbers: float) -> Path:
    record = json.loads(result.read_text())
    result.write_text(json.dumps(record | {"accounting": numbers}))
    return result


@pytest.fixture
def selection_runs(tmp_path: Path) -> list[Path]:
    """STE, two seeds whose best epoch is not the last (80 then 70, 84 then 72); StoMPP's two
    seeds peak at the last epoch; a StoMPP seed recorded before accounting existed."""
    cost = {"bops": 8064, "flops": 60, "ops": 186.0, "size_bits": 3168}
    paths = [
        with_accounting(write_run(tmp_path, 70.0, curve=[50.0, 80.0, 70.0], variant="ste", seed=0), **cost),
        with_accounting(write_run(tmp_path, 72.0, curve=[50.0, 84.0, 72.0], variant="ste", seed=1), **cost),
        with_accounting(
            write_run(tmp_path, 75.0, curve=[50.0, 60.0, 75.0], variant="stompp", seed=0), **cost
        ),
        write_run(tmp_path, 77.0, curve=[50.0, 60.0, 77.0], variant="stompp", seed=1),
        write_run(tmp_path, 90.0, curve=[90.0, 95.0], arch="resnet34", variant="ste", seed=0),
    ]
    return paths


def test_best_epoch_column_shows_the_maximum_and_the_main_column_the_final(
    selection_runs: list[Path],
) -> None:
    table = tables.depth_scaling(aggregate.read_runs(selection_runs))
    assert list(table.columns[-len(tables.EXTRA_COLUMNS) :]) == tables.EXTRA_COLUMNS
    ste = row(table, arch="resnet18", variant="ste")
    assert ste["mean"] == 71.0 and ste["best_mean"] == 82.0  # finals 70, 72; bests 80, 84
    assert ste["best_std"] == pytest.approx(2**0.5 * 2) and ste["best_ci_low"] < 82.0 < ste["best_ci_high"]
    stompp = row(table, arch="resnet18", variant="stompp")
    assert stompp["mean"] == stompp["best_mean"] == 76.0
    assert (ste["bops"], ste["flops"], ste["ops"], ste["size_bits"]) == (8064, 60, 186.0, 3168)
    assert stompp["ops"] == 186.0  # one seed without the record: the other's numbers
    old = row(table, arch="resnet34", variant="ste")
    assert pd.isna(old[list(aggregate.ACCOUNTING_FIELDS)]).all() and old["best_mean"] == 95.0

    shown = render.display_depth_scaling(table).set_index(["Arch", "Variant"])
    assert shown.loc[("resnet18", "ste"), "Top-1 (%) mean ± std"] == "71.00 ± 1.41"
    assert shown.loc[("resnet18", "ste"), render.BEST_HEADER].startswith("82.00 [")
    assert shown.loc[("resnet18", "ste"), render.OPS_HEADER] == "186"
    assert shown.loc[("resnet18", "ste"), render.SIZE_HEADER] == "3.17e3"
    assert shown.loc[("resnet34", "ste"), render.OPS_HEADER] == render.DASH


def test_every_table_writes_the_extra_columns_and_notes_them(
    selection_runs: list[Path], tmp_path: Path
) -> None:
    for name in ("depth_scaling", "ordering", "peers"):
        out = tmp_path / f"table_{name}.csv"
        build_table(name, selection_runs, out, tables_dir=tmp_path / "paper")
        written = pd.read_csv(out)
        assert list(written.columns[-len(tables.EXTRA_COLUMNS) :]) == tables.EXTRA_COLUMNS
        markdown = (tmp_path / "paper" / f"table_{name}.md").read_text()
        assert render.BEST_HEADER in markdown and "optimistic" in TABLES.get(name).note
        assert "BOPs/64" in markdown and "never judged" in markdown


def test_a_diverged_run_best_epoch_is_its_best_recorded_epoch() -> None:
    assert aggregate.best_epoch_acc([40.0, 55.0], 10.0) == 55.0  # diverged: chance recorded
    assert aggregate.best_epoch_acc([], 10.0) == 10.0  # diverged before the first epoch ended
    assert pd.isna(aggregate.best_epoch_acc([], None))


def test_counts_display_with_three_significant_digits() -> None:
    assert [render.fmt_count(x) for x in (186.0, 3168, 1.634e8, float("nan"))] == [
        "186",
        "3.17e3",
        "1.63e8",
        render.DASH,
    ]
