"""The registry-check stamp: a config and code checked once are not checked again."""

from pathlib import Path

import pytest

from benchmark.checkcache import check_key, checked_once


def test_a_passed_check_runs_once_per_config(tmp_path: Path) -> None:
    calls: list[dict] = []
    config = {"seeds": [0, 1], "variants": {"ste": {"method": "ste"}}}
    assert checked_once(config, calls.append, tmp_path)
    assert not checked_once(config, calls.append, tmp_path)
    assert checked_once({**config, "seeds": [0]}, calls.append, tmp_path)  # another config
    assert len(calls) == 2


def test_a_failed_check_leaves_no_stamp(tmp_path: Path) -> None:
    def failing(config: object) -> None:
        raise ValueError("unknown method 'stomp'")

    for _ in range(2):
        with pytest.raises(ValueError, match="stomp"):
            checked_once({"a": 1}, failing, tmp_path)


def test_the_key_follows_the_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import benchmark.checkcache as cc

    before = check_key({"a": 1})
    fingerprint = cc.code_fingerprint()
    changed = [(fingerprint[0][0], fingerprint[0][1] + 1, fingerprint[0][2]), *fingerprint[1:]]
    monkeypatch.setattr(cc, "code_fingerprint", lambda: changed)
    assert check_key({"a": 1}) != before
