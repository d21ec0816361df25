"""The tables and figures the suite regenerates, each defined once.

A definition is everything about one output that the rest of the suite reads: its name
(``results/table_<name>.csv``, ``bnnbench table <name>``), a one-line description (CLI help,
config checks), its builder (a pure function of the runs and the papers' reported numbers),
how it is displayed in Markdown and LaTeX and the note printed under it, where it stands in
listings, and which of the papers' reported metrics it can judge (the columns the regression
report reads). The reporting (``benchmark.reporting``), the regression report, the claims'
view of the tables, the CLI and the config checks all derive from :data:`TABLES` and
:data:`FIGURES`: a new table is one definition here (with its builder and display), and it
needs no other file to be built, rendered, listed and judged. The sweep figures are defined in
``benchmark.sweep_outputs``, which this module imports at its end.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping, Sequence

import pandas as pd
from matplotlib.figure import Figure

from benchmark import aggregate, curves, evals, figures, histogram_panel, render, tables
from benchmark.curves import CurveSpec
from benchmark.errors import UserError
from methods.registry import Registry, UnknownNameError

Builder = Callable[[pd.DataFrame, pd.DataFrame | None], pd.DataFrame]
Metrics = Mapping[str, tuple[str, str, str]]


@dataclasses.dataclass(frozen=True)
class TableDef:
    """One table: built from the runs (``build(runs, reported)``), displayed (``display(table)``:
    a frame of strings), explained (``note``), ordered among the tables (``order``).

    ``metrics`` maps a metric of ``paper/reported`` to the (estimate, interval low, interval
    high) columns of this table that reproduce it; ``flips``: the builder reads the runs' final
    flip statistics (``aggregate.with_flip_metrics``); ``baseline``: the variant the table
    compares with, if any.
    """

    name: str
    description: str
    build: Builder
    display: Callable[[pd.DataFrame], pd.DataFrame]
    note: str
    order: int
    metrics: Metrics = dataclasses.field(default_factory=dict)
    flips: bool = False
    baseline: str | None = None

    @property
    def file(self) -> str:
        """The table's file name in the results directory."""
        return f"table_{self.name}.csv"


@dataclasses.dataclass(frozen=True)
class FigureDef:
    """One figure: its per-epoch data read from the runs (``read(runs)``, written beside it as
    ``<name>.csv``) and drawn (``draw(data, variants)``; ``variants`` None: the defaults).

    ``judged``: the claims read the figure's data (the sawtooth claim reads the trajectories).
    ``summary``: what the figure draws, computed from its data (``summary(data)``, written beside
    it as ``<name>_summary.csv``; a curves figure: n, mean and band over seeds per epoch).
    ``table``: the summary is a table (a sweep's), displayed by ``table(summary)`` and written
    beside it as ``<name>_table.csv``, ``.md`` and ``.tex`` instead. ``pinned``: ``read`` takes
    the config section's recipe too (``read(runs, recipe)``; a sweep's base recipe).
    """

    name: str
    description: str
    read: Callable[[pd.DataFrame], pd.DataFrame]
    draw: Callable[[pd.DataFrame, Sequence[str] | None], Figure]
    order: int
    judged: bool = False
    summary: Callable[[pd.DataFrame], pd.DataFrame] | None = None
    table: Callable[[pd.DataFrame], pd.DataFrame] | None = None
    pinned: bool = False

    @property
    def data_file(self) -> str:
        """The file of the figure's data, beside the figure."""
        return f"{self.name}.csv"

    @property
    def summary_file(self) -> str:
        """The file of the figure's summary (if it has one), beside the figure."""
        return f"{self.name}_table.csv" if self.table is not None else f"{self.name}_summary.csv"


TABLES: Registry[TableDef] = Registry("table")
FIGURES: Registry[FigureDef] = Registry("figure")


def register_table(definition: TableDef) -> TableDef:
    TABLES.add(definition.name, definition)
    return definition


def register_figure(definition: FigureDef) -> FigureDef:
    FIGURES.add(definition.name, definition)
    return definition


def table(name: str) -> TableDef:
    """The definition of table ``name``; UserError listing the tables (in display order)."""
    if name not in TABLES:
        raise UserError(str(UnknownNameError("table", name, [t.name for t in tables_in_order()])))
    return TABLES.get(name)


def figure(name: str) -> FigureDef:
    """The definition of figure ``name``; UserError listing the figures (in display order)."""
    if name not in FIGURES:
        raise UserError(str(UnknownNameError("figure", name, [f.name for f in figures_in_order()])))
    return FIGURES.get(name)


def tables_in_order() -> list[TableDef]:
    """Every registered table, in display order."""
    return sorted((TABLES.get(n) for n in TABLES), key=lambda d: (d.order, d.name))


def figures_in_order() -> list[FigureDef]:
    """Every registered figure, in display order."""
    return sorted((FIGURES.get(n) for n in FIGURES), key=lambda d: (d.order, d.name))


def claim_inputs() -> list[str]:
    """The names a claim may read: every table, then the data of every judged figure."""
    return [t.name for t in tables_in_order()] + [f.name for f in figures_in_order() if f.judged]


def listing(kind: str) -> str:
    """``name: description`` of every table or figure, one per line, for the CLI's help."""
    defs: list[TableDef] | list[FigureDef] = tables_in_order() if kind == "table" else figures_in_order()
    return "\n".join(f"{d.name}: {d.description}" for d in defs)


# --------------------------------------------------------------------------- the StoMPP paper

_ACCURACY = (
    "Top-1 test accuracy (%) of the fully binary network over seeds: mean ± sample std and 95% t-interval"
)
# the note on the columns every table ends with (render.display_extras, tables.EXTRA_COLUMNS)
EXTRAS_NOTE = (
    " Top-1 is the final epoch's accuracy, what every verdict uses. Best epoch (%, optimistic): mean "
    "[95% t-interval] over seeds of each run's highest per-epoch test accuracy, i.e. the epoch chosen "
    "on the test set; shown only to compare with papers that report it, never judged. OPs = FLOPs + "
    "BOPs/64 per example (the convention of Bi-Real Net, Liu et al. 2018, and ReActNet, Liu et al. "
    "2020), FLOPs = multiply-accumulates of layers that are not fully binary (a BWN's layers "
    "included), BOPs = multiply-accumulates with binary weights and inputs (PaBT: one per kept "
    "operation); Size (bits): 1 bit per binary weight, 32 per other parameter, buffers not counted "
    "(benchmark.accounting). The CSV also has flops and the best epoch's std."
)

register_table(
    TableDef(
        name="depth_scaling",
        description="accuracy of each method as ResNets get deeper, per dataset and regime, with "
        "the gain over STE (the StoMPP paper's central table)",
        build=tables.depth_scaling,
        display=render.display_depth_scaling,
        note=f"{_ACCURACY}; gain over the STE cell of the same dataset/arch/regime with its 95% "
        "Welch interval; Reported: the paper's number (gain or top-1). NOT RUN: no finished run. "
        "Diverged runs count at chance accuracy." + EXTRAS_NOTE,
        order=10,
        metrics=tables.DEPTH_METRICS,
        baseline=tables.BASELINE,
    )
)
register_table(
    TableDef(
        name="ordering",
        description="StoMPP under each layer ordering, per regime, on ResNet-18 and the deepest ResNet",
        build=lambda runs, reported: tables.ordering(runs),
        display=render.display_ordering,
        note=f"{_ACCURACY}; Δ vs forward: difference to the forward ordering of the same variant "
        "with its 95% Welch interval (none for a variant without an ordering: the random_features "
        "control, every binary layer frozen at initialisation). NOT RUN: no finished run." + EXTRAS_NOTE,
        order=20,
    )
)
register_table(
    TableDef(
        name="hybrids",
        description="StoMPP's BNN hybrids per ResNet depth: StoMPP masks on activations only "
        "(hybrid) or on weights only (reverse_hybrid), against StoMPP and STE (the StoMPP paper's "
        "appendix B.2)",
        build=lambda runs, reported: tables.hybrids(runs),
        display=render.display_hybrids,
        note="Rows: per dataset and depth (BNN), STE, StoMPP, Hybrid (hybrid: StoMPP masks on the "
        "activations, clipped STE on the weights) and Reverse hybrid (reverse_hybrid: StoMPP masks "
        f"on the weights, clipped STE on the activations), StoMPP paper appendix B.2. {_ACCURACY}; "
        "gain over the STE cell of the same dataset/arch/regime and Δ vs the StoMPP cell of the "
        "same dataset/arch/regime/ordering, each with its 95% Welch interval. The paper reports no "
        "number for the hybrids. NOT RUN: no finished run. Diverged runs count at chance accuracy."
        + EXTRAS_NOTE,
        order=22,
        baseline=tables.BASELINE,
    )
)

# --------------------------------------------------------------------------- the peers


def _peer_note(baseline: str) -> str:
    return (
        f"{_ACCURACY}; Δ: difference to the {baseline} cell of the same recipe/dataset/arch/regime "
        "with its 95% Welch interval; Steps/s: mean training steps per second over the runs (from "
        "result.json; compare within one machine only); Never flipped: share of binary weights "
        "whose sign never changed during training, at the end, over all binary layers and in the "
        "last binary layer (mean [95% t-interval]). NOT RUN: no finished run. Diverged runs count "
        "at chance accuracy."
    )


def _peer_table(
    name: str, description: str, intro: str, baseline: str, order: int, outro: str = "", matched: bool = False
) -> TableDef:
    """A peer table: cells keyed by recipe too, the difference to ``baseline``, flip statistics;
    ``matched``: one recipe for every cell (the aggregator refuses a mix)."""
    build = functools.partial(tables.peers if matched else tables.peer_table, baseline=baseline)
    return TableDef(
        name=name,
        description=description,
        build=build,
        display=render.display_peers,
        note=f"{intro}{_peer_note('STE' if matched else baseline)}{outro}{EXTRAS_NOTE}",
        order=order,
        metrics=tables.PEER_METRICS,
        flips=True,
        baseline=baseline,
    )


register_table(
    _peer_table(
        "peers",
        "every method (StoMPP, its hybrids, OvSW, Bop, PaBT, STE, full precision) under one matched "
        "recipe, with the difference to STE and the training speed",
        "Every method under one matched recipe. ",
        "ste",
        30,
        matched=True,
    )
)
register_table(
    _peer_table(
        "architectures",
        "StoMPP against STE beyond ResNets: MobileNetV2 and BERT fine-tuning (fp, ste, stompp, "
        "stompp_ste), each under its own recipe",
        "StoMPP's pattern beyond ResNets (seed 000: MobileNetV2 and BERT fine-tuning), each "
        "architecture under its recipe (BERT: the GLUE fine-tuning recipe). ",
        "ste",
        25,
        " Claim S7 reads this table.",
    )
)
register_table(
    _peer_table(
        "bireal",
        "Bi-Real-18/34 trained from scratch and fine-tuned from a trained float Bi-Real (FT), STE "
        "against StoMPP (the StoMPP paper's appendix, Figs. 10-13)",
        "Bi-Real Net (StoMPP appendix): from scratch (ste, stompp) and fine-tuned from the fp run of "
        "the same dataset, architecture and seed (ste_ft, stompp_ft; --init-from). ",
        "ste",
        27,
        " Δ of a fine-tuned row is against STE from scratch.",
    )
)
register_table(
    _peer_table(
        "ovsw",
        "OvSW's own tables under its published recipes: Table 1, the Table 3 component ablation and "
        "the convergence rows (a recipe with half the epochs, named <recipe>_half)",
        "OvSW (seed 001) under its own recipes: Table 1, the Table 3 component ablation (ovsw_vanilla = "
        "OvSW's binarizer with AGS and SAD off) and the Sec. 5.3 convergence rows (recipe *_half). ",
        "ovsw_vanilla",
        40,
        " Reported: OvSW's top-1 and never-flipped share (Fig. 1, layer4.conv2).",
    )
)
register_table(
    _peer_table(
        "bop",
        "Bop against latent-weight training with Adam and STE, under Bop's recipe",
        "Bop (seed 003) Sec. 5.2: Bop against latent-weight training with Adam and STE (ste) under "
        "Bop's recipe. ",
        "ste",
        50,
        " Reported: the paper's top-1.",
    )
)
register_table(
    _peer_table(
        "pabt",
        "PaBT (importance pruning of a 3/3 multi-bit network down to 1/1) against random pruning "
        "and direct 1/1 training with Bop, under PaBT's recipe",
        "PaBT (seed 004): importance pruning (pabt) and random pruning (pabt_random) of a 3/3 network "
        "down to 1/1, against the 1/1 network trained directly with Bop (pabt_1x1); Table 2's other "
        "rows: the unpruned 3/3 network (pabt_3x3) and the 1/1 network with latent weights and Adam, "
        "with operation (mbn_gamma_adam) or base scaling factors (mbn_alpha_beta_adam). ",
        "pabt_1x1",
        60,
        " Reported: the paper's top-1.",
    )
)

# --------------------------------------------------------------------------- figures


def curves_definition(
    name: str, description: str, spec: CurveSpec, order: int, judged: bool = False, fine: bool = False
) -> FigureDef:
    """A curves figure (``benchmark.curves``): the spec's metrics of every given run per epoch
    (``<name>.csv``, one row per run and epoch), drawn as mean over seeds with a band, the drawn
    numbers in ``<name>_summary.csv``. ``fine``: the data also holds each run's evaluations
    every N steps (``evals.csv``, ``benchmark.evals``), drawn as thin lines, not summarized."""
    read = functools.partial(aggregate.read_curves, metrics=spec.columns, required=spec.required)
    return FigureDef(
        name=name,
        description=description,
        read=(lambda runs: evals.with_fine_curves(read(runs), runs)) if fine else read,
        draw=lambda data, variants: figures.curves_figure(data, spec, variants),
        order=order,
        judged=judged,
        summary=lambda data: curves.summarize(evals.per_epoch(data), spec.metrics, spec.band),
    )


register_figure(
    curves_definition(
        "trajectories",
        "test accuracy as trained per epoch (and every N steps where the runs evaluated so), STE vs "
        "StoMPP, one row of panels per depth (StoMPP Fig. 2b-d)",
        figures.TRAJECTORIES,
        order=10,
        judged=True,
        fine=True,
    )
)
_TRAIN_TEST = ("test_acc_as_trained", "train_acc")  # the StoMPP appendix's testing and training curves
register_figure(
    curves_definition(
        "curves_bwn",
        "test and train accuracy per epoch of BWNs: full precision, STE and StoMPP (StoMPP Figs. 4-5)",
        CurveSpec(
            title="BWNs: test and train accuracy per epoch (StoMPP Figs. 4-5)",
            metrics=_TRAIN_TEST,
            variants=("ste", "stompp"),
            regimes=("bwn",),
            fp="fp",
        ),
        order=12,
    )
)
register_figure(
    curves_definition(
        "curves_hybrids",
        "test and train accuracy per epoch of StoMPP's BNN hybrids (StoMPP activations or weights "
        "only) against StoMPP, STE and full precision (StoMPP Figs. 6-9)",
        CurveSpec(
            title="StoMPP hybrids (BNN): test and train accuracy per epoch (StoMPP Figs. 6-9)",
            metrics=_TRAIN_TEST,
            variants=("stompp", "hybrid", "reverse_hybrid", "ste"),
            fp="fp",
        ),
        order=14,
    )
)
register_figure(
    curves_definition(
        "curves_bireal",
        "test and train accuracy per epoch of Bi-Real Net, STE and StoMPP from scratch and fine-tuned "
        "from the full-precision run (StoMPP Figs. 10-13)",
        CurveSpec(
            title="Bi-Real Net, from scratch and fine-tuned: test and train accuracy per epoch "
            "(StoMPP Figs. 10-13)",
            metrics=_TRAIN_TEST,
            variants=("ste", "stompp", "ste_ft", "stompp_ft"),
            groups=(("from scratch", ("ste", "stompp")), ("fine-tuned (FT)", ("ste_ft", "stompp_ft"))),
            fp="fp",
        ),
        order=16,
    )
)
register_figure(
    curves_definition(
        "curves_pabt",
        "PaBT's training behaviour: accuracy and binary convolutions left per epoch of importance "
        "pruning, random pruning and direct 1/1 training (PaBT Fig. 2)",
        CurveSpec(
            title="PaBT: accuracy and operations left per epoch (PaBT Fig. 2)",
            metrics=("test_acc_as_trained", "test_acc", "ops_left"),
            variants=("pabt", "pabt_random", "pabt_1x1"),
        ),
        order=18,
    )
)
register_figure(
    FigureDef(
        name="silent_weights",
        description="OvSW's Figure 1 in full, vanilla (ovsw_vanilla) vs OvSW: the histogram of the last "
        "binary layer's initial weights and of those that never flipped sign, and per epoch the share "
        "of never-flipped weights and the flip ratio, in the last binary layer and over all binary layers",
        read=aggregate.read_silent_figure,
        draw=lambda data, variants: figures.silent_weights_figure(data, variants or figures.SILENT_VARIANTS),
        order=20,
        summary=histogram_panel.histogram_summary,
    )
)


from benchmark import sweep_outputs  # noqa: E402,F401  (registers the sweep figures)
