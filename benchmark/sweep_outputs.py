"""The sweep figures (StoMPP Figs. 2a, 3 and 14; OvSW Fig. 3), registered with
``benchmark.outputs`` (which imports this module at its end, so that every figure is registered
once ``benchmark.outputs`` is imported). A sweep is a :class:`benchmark.sweeps.SweepSpec`: its
data and table from ``benchmark.sweeps``, its drawing and display from ``benchmark.sweep_figures``.
"""

from __future__ import annotations

from benchmark import sweep_figures, sweeps
from benchmark.outputs import FigureDef, register_figure
from benchmark.sweeps import Axis, Panel, Series, SweepSpec


def sweep_definition(name: str, description: str, spec: SweepSpec, order: int) -> FigureDef:
    """A sweep figure (``benchmark.sweeps``): one row per run and panel with its axis values
    (``<name>.csv``), its table (``<name>_table.csv``, ``.md``, ``.tex``) and the figure of it."""
    return FigureDef(
        name=name,
        description=description,
        read=lambda runs, recipe: sweeps.read_sweep(runs, spec, recipe),
        draw=lambda data, variants: sweep_figures.sweep_figure(sweeps.summarize(data, spec), spec),
        order=order,
        summary=lambda data: sweeps.summarize(data, spec),
        table=lambda summary: sweep_figures.display(summary, spec),
        pinned=True,
    )


# the display order of categorical axis values (methods.schedules.SCHEDULES; StoMPP's `scheme`)
_SCHEDULE = Axis("schedule", "freezing schedule p(t)", ("linear", "cosine", "step", "exponential"))
_REFRESH = Axis("refresh", "refresh rate r (steps between mask redraws; 0 = never)")
_EPOCHS = Axis("recipe.epochs", "training epochs")
_STOMPP_GRID = ("stompp", "stompp_sweep_*")  # the default StoMPP and its schedule x refresh variants

register_figure(
    sweep_definition(
        "sweep_schedule_refresh",
        "StoMPP's freezing schedule x refresh rate, final top-1 of BNNs as a heatmap (StoMPP Fig. 2a)",
        SweepSpec(
            "StoMPP BNN: freezing schedule x refresh rate, final top-1 (StoMPP Fig. 2a)",
            (Panel("schedule x refresh", _SCHEDULE, (Series("StoMPP", _STOMPP_GRID),), y=_REFRESH),),
        ),
        order=30,
    )
)
register_figure(
    sweep_definition(
        "sweep_masking",
        "StoMPP's masking schemes (random vs magnitude masks), each over freezing schedule x refresh "
        "rate (StoMPP Fig. 14)",
        SweepSpec(
            "StoMPP BNN masking schemes: schedule x refresh per scheme, final top-1 (StoMPP Fig. 14)",
            (
                Panel(
                    "masking scheme",
                    _SCHEDULE,
                    (
                        Series("random masks", _STOMPP_GRID),
                        Series("magnitude masks", ("stompp_magnitude_*",)),
                    ),
                    y=_REFRESH,
                ),
            ),
        ),
        order=32,
    )
)
register_figure(
    sweep_definition(
        "sweep_epochs",
        "final top-1 of STE and StoMPP against the epoch budget, one recipe per budget (StoMPP Fig. 3)",
        SweepSpec(
            "STE vs StoMPP against the epoch budget (StoMPP Fig. 3)",
            (Panel("epoch budget", _EPOCHS, (Series("STE", ("ste",)), Series("StoMPP", ("stompp",)))),),
        ),
        order=34,
    )
)
register_figure(
    sweep_definition(
        "ovsw_sweeps",
        "OvSW's hyperparameters on ResNet-18: AGS's lambda, SAD's penalty (the paper's sigma, the "
        "code's gamma) and the epoch budget, mean +- std (OvSW Fig. 3)",
        SweepSpec(
            "OvSW: lambda of AGS, SAD's penalty and epochs, final top-1 mean ± std (OvSW Fig. 3)",
            (
                Panel(
                    "(a) AGS lambda",
                    Axis("ags_lambda", "AGS lower bound λ"),
                    (Series("AGS", ("ovsw_ags", "ovsw_ags_l*")),),
                    references=(Series("vanilla", ("ovsw_vanilla",)),),
                ),
                Panel(
                    "(b) SAD penalty",
                    Axis("sad_gamma", "SAD penalty (paper: σ; code: γ)"),
                    (Series("AGS + SAD (OvSW)", ("ovsw", "ovsw_gamma_*")),),
                    references=(Series("AGS only", ("ovsw_ags",)),),
                ),
                Panel(
                    "(c) epochs",
                    _EPOCHS,
                    (Series("vanilla", ("ovsw_vanilla",)), Series("OvSW", ("ovsw",))),
                ),
            ),
        ),
        order=36,
    )
)
