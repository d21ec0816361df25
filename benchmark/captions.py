"""What ``snakemake --report`` says about each table and figure: the paper it is filed under (its
category), the paper artifact it regenerates, and the scale the config runs it at.

:data:`ARTIFACTS` holds one entry per registered table and figure (``benchmark.outputs``;
``tests/test_report_states.py`` checks that none lacks one); :func:`labels` adds the scale from
the config. The report rules (``workflows/tables.smk``, ``workflows/figures.smk``) call
:func:`category` and :func:`labels`; their caption, ``workflows/report/output.rst``, prints the
labels. No torch, no pandas: the Snakefile imports this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from benchmark import grid

PAPERS = {
    "stompp": "StoMPP (seeds 000, 002)",
    "ovsw": "OvSW (seed 001)",
    "bop": "Bop (seed 003)",
    "pabt": "PaBT (seed 004)",
    "all": "All papers",
    "other": "Other outputs",
}
# (section, name) -> (paper, the artifact the output regenerates); no braces: Snakemake would
# read them as wildcards
ARTIFACTS: dict[tuple[str, str], tuple[str, str]] = {
    ("tables", "depth_scaling"): (
        "stompp",
        "StoMPP's main result: each method's top-1 and gain over STE per ResNet depth and regime "
        "(the abstract's +18.0/+13.5/+3.8 on CIFAR-10/100/ImageNet)",
    ),
    ("tables", "ordering"): (
        "stompp",
        "StoMPP's ordering ablation: forward, reverse, global and random freezing, BNN and BWN",
    ),
    ("tables", "hybrids"): (
        "stompp",
        "StoMPP appendix B.2, StoMPP BNN hybrids: top-1 per ResNet depth of the hybrid (StoMPP "
        "activations, STE weights) and reverse hybrid (StoMPP weights, STE activations) against "
        "StoMPP and STE",
    ),
    ("tables", "architectures"): ("stompp", "StoMPP beyond ResNets: MobileNetV2 and BERT fine-tuning"),
    ("tables", "bireal"): (
        "stompp",
        "StoMPP appendix, Figs. 10-13: Bi-Real Net from scratch and fine-tuned (final accuracies)",
    ),
    ("tables", "peers"): ("all", "the suite's own comparison: every method under one matched recipe"),
    ("tables", "ovsw"): (
        "ovsw",
        "OvSW Table 1, the Table 3 component ablation and the Sec. 5.3 convergence rows",
    ),
    ("tables", "bop"): ("bop", "Bop Sec. 5.2: Bop against latent weights with Adam and STE"),
    ("tables", "pabt"): (
        "pabt",
        "PaBT Tables 2-3 and Fig. 2: importance and random pruning against direct 1/1 training",
    ),
    ("figures", "trajectories"): (
        "stompp",
        "StoMPP Fig. 2b-d: test accuracy per epoch of STE and StoMPP (the sawtooth)",
    ),
    ("figures", "curves_bwn"): (
        "stompp",
        "StoMPP Figs. 4-5: test and train accuracy per epoch of BWNs, full precision, STE and StoMPP",
    ),
    ("figures", "curves_hybrids"): (
        "stompp",
        "StoMPP Figs. 6-9: test and train accuracy per epoch of the hybrid and reverse hybrid BNNs",
    ),
    ("figures", "curves_bireal"): (
        "stompp",
        "StoMPP Figs. 10-13: test and train accuracy per epoch of Bi-Real Net, from scratch and fine-tuned",
    ),
    ("figures", "curves_pabt"): (
        "pabt",
        "PaBT Fig. 2: accuracy and binary convolutions left per epoch, importance vs random pruning vs 1/1",
    ),
    ("figures", "silent_weights"): (
        "ovsw",
        "OvSW Fig. 1 in full: the histogram of the last binary layer's initial weights and of those "
        "that never flip sign (Fig. 1a-b), and per epoch the never-flipped share and the flip ratio "
        "(Fig. 1c)",
    ),
    ("figures", "sweep_schedule_refresh"): (
        "stompp",
        "StoMPP Fig. 2a: final top-1 of StoMPP BNNs on ResNet-18 over freezing schedule x refresh "
        "rate (heatmap; table beside it as sweep_schedule_refresh_table)",
    ),
    ("figures", "sweep_masking"): (
        "stompp",
        "StoMPP Fig. 14: the schedule x refresh heatmap for random and for magnitude masks",
    ),
    ("figures", "sweep_epochs"): (
        "stompp",
        "StoMPP Fig. 3: final top-1 of STE and StoMPP against the epoch budget (one recipe per budget)",
    ),
    ("figures", "ovsw_sweeps"): (
        "ovsw",
        "OvSW Fig. 3: top-1 mean +- std against AGS's lambda, SAD's penalty and the epoch budget",
    ),
}


def artifact(section: str, name: str) -> tuple[str, str]:
    """(paper, artifact) of ``tables`` or ``figures`` entry ``name``; one without an entry is
    filed under ``other``."""
    return ARTIFACTS.get((section, name), ("other", f"{name}: no caption in benchmark/captions.py"))


def category(section: str, name: str) -> str:
    """The report category of an output: the paper whose artifact it regenerates."""
    return PAPERS[artifact(section, name)[0]]


def _unique(values: list[Any]) -> list[Any]:
    return list(dict.fromkeys(values))


def scale(config: Mapping[str, Any], section: str, name: str) -> str:
    """The scale the config runs an output at: its datasets, recipes (with their epochs),
    seeds and widths, e.g. ``digits; recipe mini (10 epochs); 2 seeds; width 0.125``, and the
    architectures whose residual branches start at zero, if any (``zero_init_residual``)."""
    grids = grid.section_parts(config, section, name)
    axes = [grid.grid_axes(config, g) for g in grids]
    datasets = _unique([d for a in axes for d in a["datasets"]])
    recipes = _unique([grid.grid_recipe(config, g) for g in grids])
    epochs = [f"{r} ({config['recipes'][r].get('epochs', '?')} epochs)" for r in recipes]
    seeds = _unique([s for a in axes for s in a["seeds"]])
    archs = _unique([arch for a in axes for arch in a["archs"]])
    widths = sorted({grid.width_for(config, arch) for arch in archs})
    zero = [arch for arch in archs if grid.zero_init_for(config, arch)]
    return (
        f"{', '.join(datasets)}; recipe {', '.join(epochs)}; {len(seeds)} seed{'s' * (len(seeds) != 1)}; "
        f"width {', '.join(f'{w:g}' for w in widths)}"
        + (f"; residual branches from zero: {', '.join(zero)}" if zero else "")
    )


def labels(config: Mapping[str, Any], section: str, name: str) -> dict[str, str]:
    """The report labels of an output (its row in its category, and its caption): the output,
    the artifact it regenerates and its scale."""
    kind = "table" if section == "tables" else "figure"
    what = artifact(section, name)[1]
    return {"output": f"{kind} {name}", "artifact": what, "scale": scale(config, section, name)}
