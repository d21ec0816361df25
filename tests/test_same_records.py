"""The records comparison behind structural changes (tools/same_records.py)."""

from __future__ import annotations

import json
from pathlib import Path

from tools.same_records import ABSENT, IDENTICAL, compare, compare_file


def write(run: Path, metrics: str, result: dict) -> None:
    run.mkdir(parents=True)
    (run / "metrics.csv").write_text(metrics)
    (run / "result.json").write_text(json.dumps(result))


def test_timings_and_provenance_do_not_count_values_and_order_do(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    result = {"test_acc": 90.0, "config_hash": "x"}
    write(a / "ste", "epoch,lr,test_acc,seconds\n1,0.1,90,3.2\n", result | {"wall_seconds": 9})
    write(
        b / "ste", "epoch,lr,test_acc,seconds\n1,0.1,90,4.7\n", result | {"wall_seconds": 7, "provenance": {}}
    )
    assert compare_file(a / "ste" / "metrics.csv", b / "ste" / "metrics.csv") == IDENTICAL
    assert compare_file(a / "ste" / "result.json", b / "ste" / "result.json") == IDENTICAL
    assert compare_file(a / "ste" / "layers.csv", b / "ste" / "layers.csv") == ABSENT
    assert compare(a, b) == 0

    write(a / "bop", "epoch,gamma,never_flipped\n1,0.1,90\n", result)
    write(b / "bop", "epoch,never_flipped,gamma\n1,90,0.1\n", result | {"config_hash": "y"})
    assert compare_file(a / "bop" / "metrics.csv", b / "bop" / "metrics.csv").startswith(
        "same values, column order"
    )
    assert compare_file(a / "bop" / "result.json", b / "bop" / "result.json") == "differs in ['config_hash']"
    (b / "ste" / "metrics.csv").write_text("epoch,lr,test_acc,seconds\n1,0.1,89,3.2\n")
    assert compare_file(a / "ste" / "metrics.csv", b / "ste" / "metrics.csv") == "DIFFERENT VALUES"
    assert compare(a, b) == 3
