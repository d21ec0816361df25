"""Sweeps (benchmark.sweeps, benchmark.sweep_figures) on hand-made run records: the axis values
read from each run's config.json, the points' means and stds over seeds, the base-recipe pin,
the refusal to mix runs along anything but the declared axes (a table spanning recipes only
along a swept recipe field), the registered sweeps' grids in the default config, and the
figure and table files the figure command writes."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from benchmark import configs, grid, outputs, sweep_figures, sweeps
from benchmark.errors import UserError
from benchmark.reporting import build_figure
from benchmark.sweeps import Axis, Panel, Series, SweepSpec
from tests.test_tables import write_run

RECIPE = {"optimizer": "sgd", "lr": 0.1, "epochs": 10, "batch_size": 32, "schedule": "cosine"}
STOMPP = {"schedule": "linear", "refresh": 0, "scheme": "random", "freeze_end": 0.9, "ordering": "forward"}
HEATMAP = SweepSpec(
    "schedule x refresh",
    (
        Panel(
            "grid",
            Axis("schedule", "schedule", ("linear", "cosine")),
            (Series("StoMPP", ("stompp", "stompp_sweep_*")),),
            y=Axis("refresh", "refresh"),
        ),
    ),
)
EPOCHS = SweepSpec(
    "epochs",
    (
        Panel(
            "budget",
            Axis("recipe.epochs", "epochs"),
            (Series("STE", ("ste",)), Series("StoMPP", ("stompp",))),
        ),
    ),
)


def sweep_run(
    root: Path,
    acc: float,
    variant: str,
    seed: int,
    recipe: str = "mini",
    method: str | None = None,
    recipe_fields: dict | None = None,
    **options,
) -> Path:
    """A finished run with its resolved config.json: ``options`` override the method's
    hyperparameters, ``recipe_fields`` the recipe's."""
    method = method or ("ste" if variant == "ste" else "stompp")
    path = write_run(root, acc, [acc - 5.0, acc], variant=variant, seed=seed, recipe=recipe)
    config = {
        "arch": "resnet18",
        "dataset": "digits",
        "regime": "bnn",
        "seed": seed,
        "variant": variant,
        "method": method,
        "ordering": "forward" if method != "ste" else "none",
        "width": 0.125,
        "config_hash": f"h{variant}{seed}{recipe}",
        "method_overrides": options,
        "recipe": {"name": recipe, **RECIPE, **(recipe_fields or {})},
        "method_config": ({**STOMPP, **options} if method != "ste" else {"clip": 1.0}),
    }
    (path.parent / "config.json").write_text(json.dumps(config))
    return path


def read(paths: list[Path], spec: SweepSpec, recipe: str | None = "mini") -> pd.DataFrame:
    from benchmark.aggregate import read_runs

    return sweeps.read_sweep(read_runs(paths), spec, recipe)


@pytest.fixture
def grid_runs(tmp_path: Path) -> list[Path]:
    """stompp (linear, 0) and three more points of a 2 x 2 grid, two seeds each; a run of
    another recipe that the pin keeps out; an unfinished run."""
    paths = []
    points = {
        "stompp": {},
        "stompp_sweep_cosine_r0": {"schedule": "cosine"},
        "stompp_sweep_linear_r5": {"refresh": 5},
        "stompp_sweep_cosine_r5": {"schedule": "cosine", "refresh": 5},
    }
    for k, (variant, options) in enumerate(points.items()):
        for seed in (0, 1):
            paths.append(sweep_run(tmp_path, 50.0 + 10 * k + 2 * seed, variant, seed, **options))
    paths.append(sweep_run(tmp_path, 99.0, "stompp", 0, recipe="mini_double", recipe_fields={"epochs": 20}))
    paths.append(write_run(tmp_path, 99.0, variant="stompp_sweep_linear_r5", seed=7, finished=False))
    return paths


def test_points_read_their_axes_from_the_config_and_average_over_seeds(grid_runs: list[Path]) -> None:
    data = read(grid_runs, HEATMAP)
    assert len(data) == 8 and set(data["recipe"]) == {"mini"}  # pinned: no mini_double run, no unfinished
    table = sweeps.summarize(data, HEATMAP)
    assert list(table.columns) == sweeps.SUMMARY_COLUMNS
    cell = table.set_index(["x", "y"])
    assert (cell.loc[("linear", 0), "mean"], cell.loc[("linear", 0), "n"]) == (51.0, 2)
    assert cell.loc[("cosine", 5), "mean"] == 81.0
    assert cell.loc[("linear", 5), "std"] == pytest.approx(2**0.5)  # 70 and 72
    assert cell.loc[("cosine", 0), "variants"] == "stompp_sweep_cosine_r0"
    assert list(zip(table["x"], table["y"], strict=True)) == [
        ("linear", 0),
        ("cosine", 0),
        ("linear", 5),
        ("cosine", 5),
    ]


def test_without_a_base_recipe_every_recipe_counts_and_is_refused_off_axis(grid_runs: list[Path]) -> None:
    with pytest.raises(UserError, match=r"differ in recipe\.epochs \(10, 20\).*not swept"):
        read(grid_runs, HEATMAP, recipe=None)


def test_a_recipe_axis_spans_recipes_that_differ_only_along_it(tmp_path: Path) -> None:
    paths = [
        sweep_run(
            tmp_path,
            40.0 + e,
            v,
            s,
            recipe=f"e{e}",
            method="ste" if v == "ste" else "stompp",
            recipe_fields={"epochs": e},
        )
        for e in (5, 10, 20)
        for v in ("ste", "stompp")
        for s in (0, 1)
    ]
    table = sweeps.summarize(read(paths, EPOCHS, recipe="e10"), EPOCHS)  # a recipe axis is not pinned
    assert list(table["series"]) == ["STE"] * 3 + ["StoMPP"] * 3
    assert list(table["x"]) == [5, 10, 20] * 2 and list(table["recipes"]) == ["e5", "e10", "e20"] * 2
    assert list(table["mean"]) == [45.0, 50.0, 60.0] * 2


def test_a_sweep_refuses_recipes_that_differ_off_its_axis(tmp_path: Path) -> None:
    paths = [
        sweep_run(tmp_path, 50.0, "stompp", 0, recipe="e5", recipe_fields={"epochs": 5}),
        sweep_run(tmp_path, 60.0, "stompp", 1, recipe="e10", recipe_fields={"epochs": 10, "lr": 0.05}),
    ]
    with pytest.raises(
        UserError, match=r"series 'StoMPP'.*differ in recipe\.lr \(0\.1, 0\.05\).*axes are recipe\.epochs"
    ):
        read(paths, EPOCHS, recipe=None)


def test_a_sweep_refuses_a_hyperparameter_that_differs_off_its_axes(tmp_path: Path) -> None:
    paths = [
        sweep_run(tmp_path, 50.0, "stompp", 0),
        sweep_run(tmp_path, 60.0, "stompp_sweep_a", 0, freeze_end=0.5),
    ]
    with pytest.raises(UserError, match=r"differ in freeze_end \(0\.9, 0\.5\)"):
        read(paths, HEATMAP)


def test_two_variants_at_one_point_and_seed_are_refused(tmp_path: Path) -> None:
    paths = [sweep_run(tmp_path, 50.0, "stompp", 0), sweep_run(tmp_path, 51.0, "stompp_sweep_same", 0)]
    with pytest.raises(UserError, match="share a seed at one point"):
        read(paths, HEATMAP)


def test_a_reference_is_one_point_drawn_beside_the_series(tmp_path: Path) -> None:
    spec = SweepSpec(
        "lambda",
        (
            Panel(
                "a",
                Axis("refresh", "r"),
                (Series("swept", ("sw_*",)),),
                references=(Series("base", ("stompp",)),),
            ),
        ),
    )
    paths = [sweep_run(tmp_path, 60.0 + r, f"sw_{r}", s, refresh=r) for r in (1, 2) for s in (0, 1)]
    paths += [sweep_run(tmp_path, 40.0 + s, "stompp", s) for s in (0, 1)]
    table = sweeps.summarize(read(paths, spec), spec)
    ref = table[table["reference"]].iloc[0]
    assert (ref["series"], ref["mean"], ref["n"]) == ("base", 40.5, 2)
    assert list(table.loc[~table["reference"], "mean"]) == [61.0, 62.0]
    fig = sweep_figures.sweep_figure(table, spec)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert sorted(labels) == ["base (mean ± std, n=2)", "swept (mean ± std, n=2)"]


def test_an_unknown_axis_names_the_fields(tmp_path: Path) -> None:
    spec = SweepSpec("x", (Panel("a", Axis("lambda", "λ"), (Series("s", ("stompp",)),)),))
    with pytest.raises(UserError, match="'lambda' is not a field.*refresh"):
        read([sweep_run(tmp_path, 50.0, "stompp", 0)], spec)


def test_the_figure_command_writes_the_sweep_table_as_csv_markdown_and_latex(grid_runs, tmp_path) -> None:
    spec_name = "sweep_schedule_refresh"
    definition = outputs.figure(spec_name)
    assert definition.pinned and definition.table is not None
    out = tmp_path / "out"
    build_figure(spec_name, grid_runs, out / f"fig_{spec_name}", tmp_path / "paper", recipe="mini")
    for name in (
        "fig_sweep_schedule_refresh.png",
        "sweep_schedule_refresh.csv",
        "sweep_schedule_refresh_table.csv",
        "sweep_schedule_refresh_table.md",
        "sweep_schedule_refresh_table.tex",
    ):
        assert (out / name).is_file(), name
    assert (tmp_path / "paper" / "sweep_schedule_refresh_table.md").is_file()
    md = (out / "sweep_schedule_refresh_table.md").read_text()
    assert "| grid |" not in md and "schedule x refresh" in md
    assert "freezing schedule p(t) = cosine, refresh rate r" in md and "81.00 ± 1.41" in md
    assert "\\pm" in (out / "sweep_schedule_refresh_table.tex").read_text()


# --------------------------------------------------------------------------- config


def test_variant_patterns_expand_in_declaration_order() -> None:
    config = {"variants": {"stompp": {}, "stompp_sweep_b": {}, "ste": {}, "stompp_sweep_a": {}}}
    assert grid.expand_variants(config, ["stompp", "stompp_sweep_*", "stompp_sweep_a"], "w") == [
        "stompp",
        "stompp_sweep_b",
        "stompp_sweep_a",
    ]
    with pytest.raises(grid.ConfigError, match=r"w: the pattern 'ovsw_\*' matches no variant"):
        grid.expand_variants(config, ["ovsw_*"], "w")


def test_the_default_config_sweeps_cover_their_grids() -> None:
    config = configs.load()
    runs = grid.section_runs(config, "figures", "sweep_schedule_refresh")
    assert len({r.variant for r in runs}) == 12 and {r.recipe for r in runs} == {"mini"}
    masking = {r.variant for r in grid.section_runs(config, "figures", "sweep_masking")}
    assert len(masking) == 24 and sum(v.startswith("stompp_magnitude_") for v in masking) == 12
    epochs = grid.section_runs(config, "figures", "sweep_epochs")
    assert {r.recipe for r in epochs} == {"mini_half", "mini", "mini_double"}
    recipes = {name: config["recipes"][name] for name in ("mini_half", "mini", "mini_double")}
    rest = [{k: v for k, v in r.items() if k != "epochs"} for r in recipes.values()]
    assert rest[0] == rest[1] == rest[2]  # the epoch sweep's recipes differ only in epochs
    ovsw = grid.section_runs(config, "figures", "ovsw_sweeps")
    assert {r.variant for r in ovsw if r.recipe == "mini_double"} == {"ovsw_vanilla", "ovsw"}
    assert {r.variant for r in ovsw} >= {"ovsw_ags_l0.01", "ovsw_ags_l0.09", "ovsw_gamma_0.003"}
