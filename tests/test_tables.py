"""Aggregation of fake run directories into tables, and their Markdown/LaTeX renderings."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from benchmark import aggregate, render, tables
from benchmark.errors import UserError
from benchmark.outputs import TABLES
from benchmark.reporting import build_table

ORDERED = {"stompp", "stompp_ste", "hybrid", "reverse_hybrid"}
LAYERS = ("layer1.0.conv1", "layer4.1.conv2")  # order 0 and the last binary layer


def run_dir(
    root: Path,
    dataset: str = "digits",
    arch: str = "resnet18",
    regime: str = "bnn",
    variant: str = "ste",
    ordering: str | None = None,
    seed: int = 0,
    recipe: str = "mini",
) -> Path:
    ordering = ordering or ("forward" if variant in ORDERED else "none")
    regime = "fp" if variant == "fp" else regime
    parts = (recipe, dataset, arch, regime, variant, ordering, f"seed{seed}")
    return root.joinpath("runs", *parts)


def flip_curve(final: float, epochs: int) -> list[float]:
    """A never-flipped share falling linearly from 100% to ``final`` at the last epoch."""
    return [100.0 - (100.0 - final) * (e + 1) / epochs for e in range(epochs)]


def write_run(
    root: Path,
    acc: float,
    curve: list[float] | None = None,
    status: str = "ok",
    finished: bool = True,
    flips: tuple[float, float] | None = None,
    steps_per_second: float = 30.0,
    **identity,
) -> Path:
    """A run directory in the documented format; returns the path of its result.json.

    ``flips`` = (all, last): the final never-flipped shares (percent) over all binary weights
    (metrics.csv) and in the last of two binary layers (layers.csv)."""
    d = run_dir(root, **identity)
    d.mkdir(parents=True, exist_ok=True)
    _, recipe, dataset, arch, regime, variant, ordering, seed = d.relative_to(root).parts
    curve = curve if curve is not None else [acc / 2, acc]
    epochs = range(1, len(curve) + 1)
    metrics = pd.DataFrame(
        {
            "epoch": epochs,
            "step": [10 * (i + 1) for i in range(len(curve))],
            "lr": 0.1,
            "train_loss": 0.5,
            "train_acc": 90.0,
            "test_acc": curve,
            "test_acc_as_trained": curve,
            "weight_frozen": 0.5,
        }
    )
    if flips is not None:
        metrics["never_flipped"] = flip_curve(flips[0], len(curve))
        metrics["flip_ratio"] = 1.0
        last = flip_curve(flips[1], len(curve))
        layers = pd.DataFrame(
            [
                {
                    "epoch": e,
                    "order": order,
                    "name": name,
                    "never_flipped": 100.0 if order == 0 else last[e - 1],
                }
                | {"flip_ratio": 1.0}
                for e in epochs
                for order, name in enumerate(LAYERS)
            ]
        )
        layers.to_csv(d / "layers.csv", index=False)
    metrics["seconds"] = 1.0
    metrics.to_csv(d / "metrics.csv", index=False)
    (d / "config.json").write_text("{}")
    result = d / "result.json"
    if finished:
        ident = {"recipe": recipe, "dataset": dataset, "arch": arch, "regime": regime}
        ident |= {"variant": variant, "method": variant, "ordering": ordering}
        ident["seed"] = int(seed.removeprefix("seed"))
        record = {
            "schema": 1,
            "identity": ident,
            "status": status,
            "num_classes": 10,
            "chance_acc": 10.0,
            "test_acc": acc,
            "test_acc_as_trained": acc,
            "train_acc": 90.0,
            "train_loss": 0.3,
            "epochs": len(curve),
            "steps": 100,
            "wall_seconds": 3.0,
            "steps_per_second": steps_per_second,
            "config_hash": "abc",
            "provenance": {"bnnbench": "0.1.0", "git": "deadbeef", "device": "cpu"},
        }
        result.write_text(json.dumps(record))
    return result


def row(table: pd.DataFrame, **where) -> pd.Series:
    mask = pd.Series(True, index=table.index)
    for k, v in where.items():
        mask &= table[k] == v
    assert mask.sum() == 1, where
    return table[mask].iloc[0]


@pytest.fixture
def depth_runs(tmp_path: Path) -> list[Path]:
    paths = [write_run(tmp_path, a, variant="ste", seed=s) for s, a in enumerate([60, 62, 64])]
    paths += [write_run(tmp_path, a, variant="stompp", seed=s) for s, a in enumerate([70, 71])]
    paths += [write_run(tmp_path, 95.0, variant="fp", seed=0)]
    paths += [write_run(tmp_path, 10.0, variant="stompp", seed=2, status="diverged")]
    # killed mid-run: metrics.csv and config.json, no result.json
    paths += [write_run(tmp_path, 99.0, variant="stompp", seed=3, finished=False)]
    # a requested cell nobody ran
    paths += [run_dir(tmp_path, arch="resnet34", variant="ste") / "result.json"]
    return paths


def test_read_runs_keeps_partial_runs_out_of_the_statistics(depth_runs: list[Path]) -> None:
    runs = aggregate.read_runs(depth_runs)
    assert len(runs) == 9
    assert runs["complete"].sum() == 7
    partial = runs[runs["seed"] == 3].iloc[0]
    assert not partial["complete"] and math.isnan(partial["test_acc"])
    cells = aggregate.cell_summary(runs)
    stompp = row(cells, variant="stompp")
    assert stompp["n"] == 3 and stompp["n_diverged"] == 1 and stompp["n_missing"] == 1
    assert stompp["mean"] == pytest.approx((70 + 71 + 10) / 3)


def test_truncated_result_json_is_not_a_finished_run(tmp_path: Path) -> None:
    path = write_run(tmp_path, 50.0)
    path.write_text('{"schema": 1, "identity": {')
    runs = aggregate.read_runs([path])
    assert not runs["complete"].any()
    assert aggregate.cell_summary(runs)["n"].tolist() == [0]


def test_unidentifiable_missing_path_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="layout"):
        aggregate.read_runs([tmp_path / "nowhere" / "result.json"])


def test_depth_scaling_table(depth_runs: list[Path]) -> None:
    reported = pd.DataFrame(
        {
            "dataset": ["digits", "digits"],
            "arch": ["resnet18", "resnet18"],
            "regime": ["bnn", "bwn"],
            "variant": ["stompp", "stompp"],
            "metric": ["gain_over_ste_pp", "top1"],
            "value": [3.1, 91.2],
        }
    )
    table = tables.depth_scaling(aggregate.read_runs(depth_runs), reported)
    assert list(table.columns) == tables.DEPTH_COLUMNS
    # fp first (once per dataset/arch), then ste, stompp; resnet34 after resnet18
    order = list(zip(table["arch"], table["variant"], strict=True))
    assert order == [
        ("resnet18", "fp"),
        ("resnet18", "ste"),
        ("resnet18", "stompp"),
        ("resnet34", "ste"),
    ]
    ste = row(table, arch="resnet18", variant="ste")
    assert (ste["n"], ste["mean"], ste["std"]) == (3, 62.0, 2.0)
    assert ste["ci_low"] == pytest.approx(62 - 4.302653 * 2 / math.sqrt(3), abs=1e-5)
    assert math.isnan(ste["gain_over_ste"])
    stompp = row(table, variant="stompp")
    assert stompp["gain_over_ste"] == pytest.approx(50.333333 - 62.0)
    assert stompp["gain_ci_low"] < stompp["gain_over_ste"] < stompp["gain_ci_high"]
    assert (stompp["reported"], stompp["reported_metric"]) == (3.1, "gain_over_ste_pp")
    assert stompp["n_diverged"] == 1
    fp = row(table, variant="fp")
    assert fp["regime"] == "fp" and fp["n"] == 1 and math.isnan(fp["ci_low"])
    assert math.isnan(fp["gain_over_ste"])
    not_run = row(table, arch="resnet34")
    assert not_run["n"] == 0 and math.isnan(not_run["mean"])


def test_sort_order_of_archs_regimes_and_variants() -> None:
    cells = pd.DataFrame(
        {
            "dataset": ["b", "a", "a", "a", "a", "a", "a"],
            "arch": [
                "resnet18",
                "vgg_small",
                "resnet50",
                "resnet18",
                "resnet18",
                "resnet18",
                "alex",
            ],
            "regime": ["bnn", "bnn", "bnn", "bwn", "bnn", "bnn", "bnn"],
            "variant": ["ste", "ste", "ste", "ste", "zeta", "stompp_ste", "ste"],
            "ordering": ["none", "none", "none", "none", "none", "forward", "none"],
        }
    )
    out = tables.sort_cells(cells)
    assert list(zip(out["dataset"], out["arch"], out["regime"], out["variant"], strict=True)) == [
        ("a", "resnet18", "bnn", "stompp_ste"),
        ("a", "resnet18", "bnn", "zeta"),
        ("a", "resnet18", "bwn", "ste"),
        ("a", "resnet50", "bnn", "ste"),
        ("a", "vgg_small", "bnn", "ste"),  # known architectures first, then alphabetically
        ("a", "alex", "bnn", "ste"),
        ("b", "resnet18", "bnn", "ste"),
    ]


def test_ordering_table_differences_to_forward(tmp_path: Path) -> None:
    paths = [write_run(tmp_path, 40.0, variant="ste", seed=0)]
    for ordering, accs in {"forward": [80, 82], "reverse": [11, 13], "global": [30]}.items():
        for regime in ("bnn", "bwn"):
            paths += [
                write_run(tmp_path, a, variant="stompp", ordering=ordering, regime=regime, seed=s)
                for s, a in enumerate(accs)
            ]
    table = tables.ordering(aggregate.read_runs(paths))
    assert list(table.columns) == tables.ORDERING_COLUMNS
    # a variant without an ordering (a control) is a row of its own, with no forward to differ from
    (ste,) = [r for _, r in table.iterrows() if r["variant"] == "ste"]
    assert ste["ordering"] == "none" and ste["n"] == 1 and math.isnan(ste["diff_vs_forward"])
    assert list(table.loc[table["variant"] == "stompp", "ordering"][:3]) == ["forward", "reverse", "global"]
    reverse = row(table, regime="bnn", ordering="reverse")
    assert reverse["diff_vs_forward"] == pytest.approx(-69.0)
    assert reverse["chance_acc"] == 10.0
    # Welch with equal spreads (std sqrt 2, n 2 each): se 1.414, df 2
    assert reverse["diff_ci_high"] == pytest.approx(-69.0 + 4.302653 * math.sqrt(2), abs=1e-5)
    glob = row(table, regime="bnn", ordering="global")
    assert glob["n"] == 1 and math.isnan(glob["diff_ci_low"])
    assert glob["diff_vs_forward"] == pytest.approx(-51.0)
    assert math.isnan(row(table, regime="bnn", ordering="forward")["diff_vs_forward"])


def test_mixed_recipes_are_refused(tmp_path: Path) -> None:
    paths = [
        write_run(tmp_path, 60.0, variant="ste", recipe="mini"),
        write_run(tmp_path, 70.0, variant="stompp", recipe="paper"),
    ]
    with pytest.raises(UserError, match="'mini'.*'paper'"):
        tables.depth_scaling(aggregate.read_runs(paths))
    with pytest.raises(UserError, match="recipes"):
        build_table("ordering", paths, tmp_path / "t.csv")


def test_each_dataset_may_have_its_own_recipe(tmp_path: Path) -> None:
    """Cells are compared within a dataset, so ImageNet's recipe may differ from CIFAR's."""
    paths = [
        write_run(tmp_path, 60.0, variant="ste", recipe="mini"),
        write_run(tmp_path, 70.0, variant="stompp", recipe="mini"),
        write_run(tmp_path, 50.0, variant="ste", recipe="mini_imagenet", dataset="imagenet"),
        write_run(tmp_path, 55.0, variant="stompp", recipe="mini_imagenet", dataset="imagenet"),
    ]
    table = tables.depth_scaling(aggregate.read_runs(paths))
    gains = table.dropna(subset=["gain_over_ste"]).set_index("dataset")["gain_over_ste"]
    assert gains.to_dict() == {"digits": pytest.approx(10.0), "imagenet": pytest.approx(5.0)}


def test_renderings_show_mean_std_interval_and_not_run(depth_runs: list[Path]) -> None:
    table = tables.depth_scaling(aggregate.read_runs(depth_runs))
    shown = TABLES.get("depth_scaling").display(table)
    md = render.markdown(shown, "Table: depth_scaling")
    assert md.startswith("# Table: depth_scaling")
    assert "| resnet18 | bnn | ste | none | 3 | 62.00 ± 2.00 | [57.03, 66.97] |" in md
    assert "NOT RUN" in md
    assert "|:---|" in md and "---:|" in md
    tex = render.latex(shown, "generated")
    assert tex.startswith("% generated\n\\begin{tabular}{lllllrrrrrrrrrr}")  # + best epoch, OPs, size
    for rule in (r"\toprule", r"\midrule", r"\bottomrule"):
        assert tex.count(rule) == 1
    assert r"62.00 $\pm$ 2.00 & [57.03, 66.97]" in tex
    assert r"Top-1 (\%) mean $\pm$ std" in tex
    assert tex.count(r"\\") == len(table) + 1


def test_build_table_writes_csv_markdown_and_latex(tmp_path: Path, depth_runs: list[Path]) -> None:
    reported = tmp_path / "stompp.csv"
    pd.DataFrame(
        {
            "paper": ["stompp"],
            "where": ["abstract"],
            "dataset": ["digits"],
            "arch": ["resnet18"],
            "regime": ["bnn"],
            "method": ["stompp"],
            "variant": ["stompp"],
            "metric": ["gain_over_ste_pp"],
            "value": [3.1],
        }
    ).to_csv(reported, index=False)
    out = tmp_path / "results" / "table_depth_scaling.csv"
    tdir = tmp_path / "paper" / "tables"
    table = build_table("depth_scaling", depth_runs, out, reported, tdir)
    written = pd.read_csv(out)
    assert list(written.columns) == tables.DEPTH_COLUMNS and len(written) == len(table)
    md = (tdir / "table_depth_scaling.md").read_text()
    assert "3.10 (gain)" in md and "recipe mini" in md
    assert (tdir / "table_depth_scaling.tex").read_text().count(r"\toprule") == 1
    assert not list(out.parent.glob("*.tmp")) and not list(tdir.glob(".*"))


def test_build_table_rejects_unknown_names(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="depth_scaling, ordering"):
        build_table("depth", [], tmp_path / "t.csv")


def test_empty_run_list_gives_an_empty_table(tmp_path: Path) -> None:
    table = build_table("ordering", [], tmp_path / "t.csv", tables_dir=tmp_path)
    assert table.empty and list(table.columns) == tables.ORDERING_COLUMNS
    assert (tmp_path / "t.md").exists()


def test_reported_numbers_without_a_variant_column_match_by_method(depth_runs: list[Path]) -> None:
    reported = pd.DataFrame(
        {
            "dataset": ["digits"],
            "arch": ["resnet18"],
            "regime": ["bnn"],
            "method": ["stompp"],
            "metric": ["gain_over_ste_pp"],
            "value": [3.1],
        }
    )
    table = tables.depth_scaling(aggregate.read_runs(depth_runs), reported)
    assert row(table, variant="stompp")["reported"] == 3.1
    assert table["reported"].notna().sum() == 1


# the StoMPP paper's appendix B.2: (seed 0, seed 1) top-1 per arch and variant
HYBRID_ACCS = {
    "resnet18": {"ste": (60, 62), "stompp": (70, 72), "hybrid": (66, 66), "reverse_hybrid": (64, 68)},
    "resnet34": {"ste": (50, 54), "stompp": (68, 70), "hybrid": (58, 62), "reverse_hybrid": (61, 61)},
    "resnet50": {"ste": (30, 34), "stompp": (60, 64), "hybrid": (40, 44)},  # reverse_hybrid: NOT RUN
}


@pytest.fixture
def hybrid_runs(tmp_path: Path) -> list[Path]:
    paths = [
        write_run(tmp_path, acc, arch=arch, variant=variant, seed=seed)
        for arch, cells in HYBRID_ACCS.items()
        for variant, accs in cells.items()
        for seed, acc in enumerate(accs)
    ]
    return paths + [run_dir(tmp_path, arch="resnet50", variant="reverse_hybrid") / "result.json"]


def test_hybrids_table_compares_each_hybrid_with_ste_and_stompp_per_depth(hybrid_runs: list[Path]) -> None:
    table = tables.hybrids(aggregate.read_runs(hybrid_runs))
    assert list(table.columns) == tables.HYBRIDS_COLUMNS
    variants = ["ste", "stompp", "hybrid", "reverse_hybrid"]
    assert list(zip(table["arch"], table["variant"], strict=True)) == [
        (arch, v) for arch in ("resnet18", "resnet34", "resnet50") for v in variants
    ]
    assert set(table["regime"]) == {"bnn"}
    for arch, cells in HYBRID_ACCS.items():
        ste = sum(cells["ste"]) / 2
        stompp = sum(cells["stompp"]) / 2
        for variant in ("hybrid", "reverse_hybrid"):
            cell = row(table, arch=arch, variant=variant)
            assert cell["ordering"] == "forward"
            if variant not in cells:
                assert cell["n"] == 0 and math.isnan(cell["mean"]) and math.isnan(cell["gain_over_ste"])
                continue
            mean = sum(cells[variant]) / 2
            assert (cell["n"], cell["mean"]) == (2, mean)
            assert cell["gain_over_ste"] == pytest.approx(mean - ste)
            assert cell["diff_vs_stompp"] == pytest.approx(mean - stompp)
        assert row(table, arch=arch, variant="stompp")["gain_over_ste"] == pytest.approx(stompp - ste)
        for variant in ("ste", "stompp"):  # no difference of a reference to itself
            assert math.isnan(row(table, arch=arch, variant=variant)["diff_vs_stompp"])
        assert math.isnan(row(table, arch=arch, variant="ste")["gain_over_ste"])
    # Welch: hybrid (66, 66) vs stompp (70, 72) on ResNet-18: se 1, df 1
    hybrid = row(table, arch="resnet18", variant="hybrid")
    assert hybrid["diff_ci_low"] == pytest.approx(-5.0 - 12.706205, abs=1e-5)
    assert hybrid["diff_ci_high"] == pytest.approx(-5.0 + 12.706205, abs=1e-5)
    assert hybrid["gain_ci_low"] < hybrid["gain_over_ste"] < hybrid["gain_ci_high"]


def test_hybrids_table_is_registered_and_rendered(tmp_path: Path, hybrid_runs: list[Path]) -> None:
    definition = TABLES.get("hybrids")
    assert definition.metrics == {}  # the paper reports no number for the hybrids
    assert TABLES.get("ordering").order < definition.order < TABLES.get("architectures").order
    assert "reverse_hybrid" in definition.note and "appendix B.2" in definition.note
    out = tmp_path / "results" / "table_hybrids.csv"
    tdir = tmp_path / "paper" / "tables"
    table = build_table("hybrids", hybrid_runs, out, None, tdir)
    assert list(pd.read_csv(out).columns) == tables.HYBRIDS_COLUMNS and len(table) == 12
    md = (tdir / "table_hybrids.md").read_text()
    assert md.startswith("# Table: hybrids")
    # ResNet-34 reverse hybrid (61, 61): gain over STE (50, 54) +9, vs StoMPP (68, 70) -8
    assert "| resnet34 | bnn | reverse_hybrid | forward | 2 | 61.00 ± 0.00 |" in md
    assert "+9.00 [" in md and "-8.00 [" in md and "NOT RUN" in md
    tex = (tdir / "table_hybrids.tex").read_text()
    assert tex.count(r"\toprule") == 1 and tex.count(r"\\") == len(table) + 1
    assert r"$\Delta$ vs StoMPP [95\% CI]" in tex and "reverse\\_hybrid" in tex
