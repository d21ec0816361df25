"""How many of the papers' reported numbers the paper config can attempt (benchmark/coverage.py)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

from benchmark import configs, coverage
from benchmark.reporting import read_reported

ROOT = Path(__file__).resolve().parents[1]


def reported_and_tables() -> tuple[pd.DataFrame, dict[str, str]]:
    config = configs.shipped("paper")
    reported = read_reported([ROOT / p for p in config["paper"]["reported"]])
    claims = yaml.safe_load((ROOT / config["paper"]["claims"]).read_text())
    return reported, claims["numbers"]["tables"]


def test_the_paper_config_attempts_45_of_the_49_reported_numbers() -> None:
    """The four it cannot: what the suite lacks (PaBT's 8/8-bit network, XNOR-Net + Bop),
    XNOR-Net's AlexNet and Cityscapes segmentation. Bi-Real's own training (``bireal``) and
    PaBT's Table 2 rows that are options of ``pabt`` (the unpruned 3/3 network, the
    latent-weight Adam rows) are attempted."""
    reported, tables = reported_and_tables()
    found = coverage.attemptable(configs.shipped("paper"), reported, tables)
    assert (int(found.sum()), len(found)) == (45, 49)
    missing = set(reported.loc[~found, "variant"])
    assert missing == {"bop", "fp", "xnor_bop", "pabt"}
    assert set(reported.loc[~found & (reported["variant"] == "pabt"), "dataset"]) == {"cityscapes"}
    assert set(reported.loc[~found & (reported["variant"] == "fp"), "regime"]) == {"mbn_8bit"}
    table2 = reported[(reported["paper"] == "pabt") & (reported["where"] == "Table 2")]
    attempted = set(table2.loc[found[table2.index], "variant"])
    assert attempted == {"mbn_alpha_beta_adam", "mbn_gamma_adam", "pabt_1x1", "pabt_3x3"}


def test_a_row_counts_only_in_the_table_that_judges_its_paper() -> None:
    reported, tables = reported_and_tables()
    config = configs.shipped("paper")
    config["tables"].pop("ovsw")
    found = coverage.attemptable(config, reported, tables)
    assert not found[reported["paper"] == "ovsw"].any()
