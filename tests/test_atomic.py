"""The one atomic writer (benchmark/atomic.py) behind records, tables, figures and checkpoints."""

from pathlib import Path

import pytest

from benchmark.atomic import replacing, write_text


def test_a_write_replaces_the_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "result.json"
    write_text(target, "old")
    write_text(target, "new")
    assert target.read_text() == "new"
    assert sorted(p.name for p in target.parent.iterdir()) == ["result.json"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "table.csv"
    write_text(target, "complete")
    with pytest.raises(RuntimeError), replacing(target) as tmp:
        tmp.write_text("half of a")
        raise RuntimeError("disk full")
    assert target.read_text() == "complete"
    assert [p.name for p in tmp_path.iterdir()] == ["table.csv"]
