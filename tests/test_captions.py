"""What ``snakemake --report`` says about each table and figure (benchmark/captions.py): a
category per paper, the artifact it regenerates, the scale, and the caption that prints them."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import jinja2

from benchmark import captions, outputs

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / "workflows"


def test_every_registered_table_and_figure_has_a_paper_and_an_artifact() -> None:
    """A new output needs its line in captions.ARTIFACTS (else it is filed under Other)."""
    registered = {("tables", t.name) for t in outputs.tables_in_order()}
    registered |= {("figures", f.name) for f in outputs.figures_in_order()}
    assert registered <= set(captions.ARTIFACTS), sorted(registered - set(captions.ARTIFACTS))
    for (_, name), (paper, artifact) in captions.ARTIFACTS.items():
        assert paper in captions.PAPERS and paper != "other", name
        assert artifact and not re.search(r"[{}]", artifact), name  # braces would be wildcards


def test_categories_are_papers() -> None:
    assert captions.category("tables", "depth_scaling") == "StoMPP (seeds 000, 002)"
    assert captions.category("figures", "silent_weights") == "OvSW (seed 001)"
    assert captions.category("tables", "pabt") == "PaBT (seed 004)"
    assert captions.category("tables", "peers") == "All papers"
    assert captions.category("figures", "not_yet_captioned") == "Other outputs"


ONE = {"orderings": ["forward"], "regimes": ["bnn"]}
OVSW_PARTS = [
    {"variants": ["ovsw"], "archs": ["resnet18", "resnet20"]},
    {"recipe": "mini_half", "seeds": [0, 1, 2], "variants": ["ste"], "archs": ["resnet18"]},
]
CONFIG = {
    "recipe": "mini",
    "recipes": {"mini": {"epochs": 10}, "mini_half": {"epochs": 5}},
    "datasets": ["digits"],
    "archs": ["resnet18", "resnet20"],
    "regimes": ["bnn"],
    "orderings": ["forward"],
    "seeds": [0, 1],
    "variants": {"ste": {"method": "ste"}, "ovsw": {"method": "ovsw"}},
    "width": {"resnet18": 0.125, "resnet20": 0.5},
    "tables": {
        "ovsw": {"parts": OVSW_PARTS} | ONE,
        "peers": {"variants": ["ste"], "archs": ["resnet20"]} | ONE,
    },
    "figures": {"trajectories": {"variants": ["ste"], "archs": ["resnet18"]} | ONE},
}


def test_the_scale_names_datasets_recipes_seeds_and_widths() -> None:
    assert captions.scale(CONFIG, "tables", "ovsw") == (
        "digits; recipe mini (10 epochs), mini_half (5 epochs); 3 seeds; width 0.125, 0.5"
    )
    assert captions.labels(CONFIG, "figures", "trajectories") == {
        "output": "figure trajectories",
        "artifact": captions.ARTIFACTS[("figures", "trajectories")][1],
        "scale": "digits; recipe mini (10 epochs); 2 seeds; width 0.125",
    }
    zero = CONFIG | {"zero_init_residual": ["resnet18", "resnet50"]}
    ovsw = captions.scale(zero, "tables", "ovsw")
    assert ovsw.endswith("width 0.125, 0.5; residual branches from zero: resnet18")


def test_the_caption_prints_the_labels_of_its_own_output() -> None:
    """workflows/report/output.rst as Snakemake renders it: Jinja2 with the job's ``snakemake``
    object and every file of the report (each with its labels)."""
    template = jinja2.Environment().from_string((WORKFLOWS / "report" / "output.rst").read_text())

    def record(path: str, name: str) -> SimpleNamespace:
        return SimpleNamespace(
            path=Path(path), labels=captions.labels(CONFIG, "tables", name) | {"output": name}
        )

    files = [record("results/table_peers.csv", "peers"), record("results/table_ovsw.csv", "ovsw")]
    text = template.render(snakemake=SimpleNamespace(output=["results/table_ovsw.csv"]), files=files)
    assert "**ovsw** regenerates OvSW Table 1" in text and "peers" not in text
    assert "Scale: digits; recipe mini (10 epochs), mini_half (5 epochs); 3 seeds; width 0.125, 0.5." in text


def test_every_caption_the_rules_name_exists() -> None:
    named = re.findall(r'caption="([^"]+)"', "".join(p.read_text() for p in WORKFLOWS.glob("*.smk")))
    assert {"report/output.rst", "report/regression_report.rst"} <= set(named)
    assert all((WORKFLOWS / path).is_file() for path in named)
