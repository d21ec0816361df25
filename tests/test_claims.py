"""Claim checks on hand-made tables: HOLDS, FAILS, INCONCLUSIVE, NOT RUN."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from benchmark import claims as cl
from benchmark import stats
from benchmark.claims import FAILS, HOLDS, INCONCLUSIVE, NOT_RUN
from benchmark.errors import UserError

CLAIMS_YAML = Path(__file__).resolve().parents[1] / "paper" / "claims.yaml"
ORDERED = {"stompp", "stompp_ste"}


def cell(arch: str, regime: str, variant: str, mean: float, std: float = 0.5, n: int = 5, **kw):
    ordering = kw.pop("ordering", "forward" if variant in ORDERED else "none")
    low, high = stats.t_interval(mean, std, n)
    return {
        "dataset": kw.pop("dataset", "digits"),
        "arch": arch,
        "regime": regime,
        "variant": variant,
        "ordering": ordering,
        "n": n,
        "mean": mean if n else float("nan"),
        "std": std if n > 1 else float("nan"),
        "ci_low": low,
        "ci_high": high,
        "chance_acc": 10.0,
    }


def frame(*cells: dict) -> pd.DataFrame:
    return pd.DataFrame(list(cells))


@pytest.fixture(scope="module")
def claims() -> dict[str, cl.Claim]:
    parsed, numbers = cl.load_claims(CLAIMS_YAML)
    assert numbers["tolerance_pp"] == 2.0
    return {c.id: c for c in parsed}


def verdicts(claim: cl.Claim, tables: cl.Tables) -> dict[str, str]:
    return {o.scope: o.verdict for o in claim.evaluate(tables)}


# --------------------------------------------------------------------------- primitives


@pytest.mark.parametrize(
    ("low", "high", "margin", "expected"),
    [
        (0.5, 3.0, 0.0, HOLDS),
        (-3.0, -0.5, 0.0, FAILS),
        (-1.0, 1.0, 0.0, INCONCLUSIVE),
        (5.0, 20.0, 10.0, INCONCLUSIVE),
        (11.0, 20.0, 10.0, HOLDS),
        (float("nan"), float("nan"), 0.0, INCONCLUSIVE),
    ],
)
def test_greater(low: float, high: float, margin: float, expected: str) -> None:
    assert cl.greater(low, high, margin) == expected


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [(-1.0, 1.5, HOLDS), (2.5, 4.0, FAILS), (-5.0, -2.1, FAILS), (-1.0, 3.0, INCONCLUSIVE)],
)
def test_within(low: float, high: float, expected: str) -> None:
    assert cl.within(low, high, 2.0) == expected


def test_conjunction() -> None:
    assert cl.conjunction([HOLDS, HOLDS]) == HOLDS
    assert cl.conjunction([HOLDS, FAILS, NOT_RUN]) == FAILS
    assert cl.conjunction([HOLDS, NOT_RUN, INCONCLUSIVE]) == NOT_RUN
    assert cl.conjunction([HOLDS, INCONCLUSIVE]) == INCONCLUSIVE
    assert cl.conjunction([]) == NOT_RUN


# --------------------------------------------------------------------------- S1 depth scaling


def depth(gains: dict[str, float], std: float = 0.5, n: int = 5) -> pd.DataFrame:
    cells = []
    for arch, gain in gains.items():
        cells += [
            cell(arch, "bnn", "ste", 60.0, std, n),
            cell(arch, "bnn", "stompp", 60 + gain, std, n),
        ]
    cells.append(cell("resnet18", "fp", "fp", 95.0))
    return frame(*cells)


def test_s1_holds_fails_inconclusive(claims: dict[str, cl.Claim]) -> None:
    growing = depth({"resnet18": 2.0, "resnet34": 6.0, "resnet50": 12.0})
    assert verdicts(claims["S1"], cl.Tables(depth_scaling=growing)) == {"digits": HOLDS}
    shrinking = depth({"resnet18": 12.0, "resnet34": 6.0, "resnet50": 2.0})
    assert verdicts(claims["S1"], cl.Tables(depth_scaling=shrinking)) == {"digits": FAILS}
    noisy = depth({"resnet18": 2.0, "resnet34": 6.0, "resnet50": 12.0}, std=10.0, n=3)
    assert verdicts(claims["S1"], cl.Tables(depth_scaling=noisy)) == {"digits": INCONCLUSIVE}


def test_s1_and_s5_read_the_imagenet_resnets_on_imagenet(claims: dict[str, cl.Claim]) -> None:
    """On ImageNet the depth series is the ImageNet ResNets (resnet50|resnet50_imagenet)."""
    cifar = depth({"resnet18": 2.0, "resnet34": 6.0, "resnet50": 12.0})
    imagenet = depth({"resnet18_imagenet": 12.0, "resnet34_imagenet": 6.0, "resnet50_imagenet": 2.0})
    imagenet["dataset"] = "imagenet"
    both = cl.Tables(depth_scaling=pd.concat([cifar, imagenet], ignore_index=True))
    assert verdicts(claims["S1"], both) == {"digits": HOLDS, "imagenet": FAILS}
    texts = [p.text for o in claims["S1"].evaluate(both) if o.scope == "imagenet" for p in o.parts]
    assert "gain resnet34_imagenet +6.00 - gain resnet18_imagenet +12.00" in texts[0]
    assert {o.scope for o in claims["S5"].evaluate(both)} == {"digits/resnet50", "imagenet/resnet50_imagenet"}


def test_s1_uses_the_four_cell_welch_interval(claims: dict[str, cl.Claim]) -> None:
    table = depth({"resnet18": 2.0, "resnet34": 6.0, "resnet50": 12.0})
    (outcome,) = claims["S1"].evaluate(cl.Tables(depth_scaling=table))
    first = outcome.parts[0]
    expected = stats.contrast((1, -1, -1, 1), (66, 60, 62, 60), (0.5,) * 4, (5,) * 4)
    assert (first.estimate, first.ci_low) == pytest.approx((4.0, expected.ci_low))
    assert "gain resnet34 +6.00 - gain resnet18 +2.00" in first.text


def test_s1_not_run_when_a_depth_or_the_table_is_missing(claims: dict[str, cl.Claim]) -> None:
    partial = depth({"resnet18": 2.0, "resnet34": 6.0})
    (outcome,) = claims["S1"].evaluate(cl.Tables(depth_scaling=partial))
    assert outcome.verdict == NOT_RUN
    assert "resnet50" in outcome.parts[1].text
    assert verdicts(claims["S1"], cl.Tables()) == {"all": NOT_RUN}
    empty_cell = depth({"resnet18": 2.0, "resnet34": 6.0, "resnet50": 12.0})
    empty_cell.loc[5, ["n", "mean"]] = [0, float("nan")]  # resnet50 stompp never finished
    assert verdicts(claims["S1"], cl.Tables(depth_scaling=empty_cell)) == {"digits": NOT_RUN}


# --------------------------------------------------------------------------- S2-S4 orderings


def orderings(bnn: dict[str, float], bwn: dict[str, float], std: float = 0.5, n: int = 5):
    cells = [
        cell("resnet18", regime, "stompp", mean, std, n, ordering=ordering)
        for regime, accs in (("bnn", bnn), ("bwn", bwn))
        for ordering, mean in accs.items()
    ]
    return frame(*cells)


def test_s2_reverse_collapse(claims: dict[str, cl.Claim]) -> None:
    def judge(table: pd.DataFrame) -> str:
        # S2's paper form, on a paper dataset (digits is its laptop form's: tests/test_laptop_claims.py)
        table = table.assign(dataset="cifar10")
        return verdicts(claims["S2"], cl.Tables(ordering=table))["cifar10/resnet18/stompp"]

    assert judge(orderings({"forward": 80.0, "reverse": 12.0}, {})) == HOLDS
    assert judge(orderings({"forward": 80.0, "reverse": 60.0}, {})) == FAILS
    # near chance but the forward ordering is no better: "far below forward" fails
    assert judge(orderings({"forward": 14.0, "reverse": 12.0}, {})) == FAILS
    # reverse 19 +- 3 (n 3): interval reaches past chance + 10
    wide = frame(
        cell("resnet18", "bnn", "stompp", 80.0, ordering="forward"),
        cell("resnet18", "bnn", "stompp", 19.0, 3.0, 3, ordering="reverse"),
    )
    assert judge(wide) == INCONCLUSIVE
    assert judge(orderings({"forward": 80.0}, {})) == NOT_RUN


def test_s3_bwn_order_insensitivity(claims: dict[str, cl.Claim]) -> None:
    def judge(table: pd.DataFrame) -> str:
        return verdicts(claims["S3"], cl.Tables(ordering=table))["digits/resnet18/stompp"]

    assert judge(orderings({}, {"forward": 80.0, "reverse": 80.3})) == HOLDS
    assert judge(orderings({}, {"forward": 80.0, "reverse": 70.0})) == FAILS
    assert judge(orderings({}, {"forward": 80.0, "reverse": 80.3}, std=3.0, n=3)) == INCONCLUSIVE
    only_bnn = orderings({"forward": 80.0, "reverse": 12.0}, {})
    assert verdicts(claims["S3"], cl.Tables(ordering=only_bnn)) == {"all": NOT_RUN}


def test_s4_global_freezing(claims: dict[str, cl.Claim]) -> None:
    def judge(table: pd.DataFrame) -> str:
        return verdicts(claims["S4"], cl.Tables(ordering=table))["digits/resnet18/stompp"]

    good_bwn = {"forward": 80.0, "global": 79.8}
    assert judge(orderings({"forward": 80.0, "global": 20.0}, good_bwn)) == HOLDS
    assert judge(orderings({"forward": 80.0, "global": 79.0}, good_bwn)) == FAILS
    assert judge(orderings({"forward": 80.0, "global": 20.0}, {"forward": 80.0})) == NOT_RUN
    bad_bwn = {"forward": 80.0, "global": 60.0}
    assert judge(orderings({"forward": 80.0, "global": 20.0}, bad_bwn)) == FAILS


# --------------------------------------------------------------------------- S5 composition


def test_s5_uses_the_deepest_resnet(claims: dict[str, cl.Claim]) -> None:
    def table(r50: tuple[float, float, float]) -> pd.DataFrame:
        return frame(
            cell("resnet18", "bnn", "ste", 80.0),
            cell("resnet18", "bnn", "stompp", 70.0),
            cell("resnet50", "bnn", "ste", r50[0]),
            cell("resnet50", "bnn", "stompp", r50[1]),
            cell("resnet50", "bnn", "stompp_ste", r50[2]),
        )

    assert verdicts(claims["S5"], cl.Tables(depth_scaling=table((60, 70, 80)))) == {"digits/resnet50": HOLDS}
    assert verdicts(claims["S5"], cl.Tables(depth_scaling=table((60, 80, 70)))) == {"digits/resnet50": FAILS}
    # resnet18 has no stompp_ste cell, but resnet18 is not the deepest: irrelevant
    missing = table((60, 70, 80)).iloc[:4]
    assert verdicts(claims["S5"], cl.Tables(depth_scaling=missing)) == {"digits/resnet50": NOT_RUN}


# --------------------------------------------------------------------------- S6 sawtooth


def test_count_recovered_drops() -> None:
    epochs = list(range(1, 11))
    # two teeth (50->47, 60->57), each recovered; a drop of 0.5 does not count
    acc = [40, 50, 47, 55, 60, 57, 58, 62, 61.5, 63]
    assert cl.count_recovered_drops(epochs, acc, 9, 1.0) == 2
    # a long descent counts once; an unrecovered drop does not count
    assert cl.count_recovered_drops(epochs, [50, 49, 48, 47, 52, 40, 41, 42, 43, 44], 9, 1.0) == 1
    # drops that start after the freezing phase are ignored
    assert cl.count_recovered_drops(epochs, acc, 4, 1.0) == 1


def curves(variant: str, per_seed: list[list[float]], dataset: str = "cifar100") -> pd.DataFrame:
    """Per-epoch trajectories of one cell (a paper dataset: S6's paper form judges it)."""
    rows = []
    for seed, acc in enumerate(per_seed):
        for epoch, value in enumerate(acc, start=1):
            rows.append(
                {
                    "dataset": dataset,
                    "arch": "resnet18",
                    "regime": "bnn",
                    "variant": variant,
                    "ordering": "forward" if variant in ORDERED else "none",
                    "seed": seed,
                    "epoch": epoch,
                    "test_acc": value,
                    "test_acc_as_trained": value,
                    "recipe": "mini",
                    "epochs": len(acc),
                    "status": "ok",
                }
            )
    return pd.DataFrame(rows)


SAW = [40, 50, 45, 55, 60, 52, 58, 65, 66, 66]
SMOOTH = [40, 50, 55, 58, 60, 61, 62, 63, 64, 64]


def test_s6_sawtooth(claims: dict[str, cl.Claim]) -> None:
    def judge(stompp: list[list[float]], ste: list[list[float]]) -> str:
        traj = pd.concat([curves("stompp", stompp), curves("ste", ste)], ignore_index=True)
        return verdicts(claims["S6"], cl.Tables(trajectories=traj))["cifar100/resnet18"]

    assert judge([SAW, SAW], [SMOOTH, SMOOTH]) == HOLDS
    assert judge([SMOOTH, SMOOTH], [SMOOTH]) == FAILS
    assert judge([SAW, SAW], [SAW, SAW]) == FAILS
    assert judge([SAW, SMOOTH], [SMOOTH]) == INCONCLUSIVE
    assert judge([SAW], []) == NOT_RUN
    assert verdicts(claims["S6"], cl.Tables()) == {"all": NOT_RUN}


# --------------------------------------------------------------------------- the YAML file


def test_claims_yaml_has_the_stompp_and_peer_claims(claims: dict[str, cl.Claim]) -> None:
    assert list(claims) == ["S1", "S2", "S3", "S4", "S5", "S6", "S7", "O1", "O2", "O3", "B1", "P1", "P2"]
    assert claims["S6"].params.freeze_end == 0.9
    assert claims["S2"].params.chance_margin_pp == 10.0
    assert claims["S1"].params.archs[0] == "resnet18|resnet18_imagenet"


def test_thresholds_come_from_the_yaml(tmp_path: Path) -> None:
    doc = yaml.safe_load(CLAIMS_YAML.read_text())
    s3 = next(c for c in doc["claims"] if c["id"] == "S3")
    table = orderings({}, {"forward": 80.0, "reverse": 77.0})
    path = tmp_path / "claims.yaml"
    for tolerance, expected in ((2.0, FAILS), (5.0, HOLDS)):
        s3["params"]["order_tolerance_pp"] = tolerance
        path.write_text(yaml.safe_dump(doc))
        parsed, _ = cl.load_claims(path)
        claim = next(c for c in parsed if c.id == "S3")
        assert verdicts(claim, cl.Tables(ordering=table)) == {"digits/resnet18/stompp": expected}


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"id": "X", "check": "nope", "description": "d"}, "unknown check 'nope'"),
        (
            {"id": "X", "check": "order_insensitive", "description": "d", "params": {}},
            "missing keys",
        ),
        (
            {
                "id": "X",
                "check": "sawtooth",
                "description": "d",
                "params": {
                    "regime": "bnn",
                    "variant": "stompp",
                    "ordering": "forward",
                    "baseline": "ste",
                    "freeze_end": 0.9,
                    "drop_pp": 1.0,
                    "min_drops": "two",
                },
            },
            "'min_drops' must be of type int",
        ),
    ],
)
def test_bad_claims_are_user_errors(entry: dict, message: str) -> None:
    with pytest.raises(UserError, match=message):
        cl.parse_claim(entry)


def test_a_cell_names_its_run_directory_without_the_seed() -> None:
    from benchmark.claims.cells import directories

    keys = {"recipe": "mini", "dataset": "digits", "arch": "resnet18", "regime": "bnn"}
    row = pd.Series(keys | {"variant": "stompp", "ordering": "forward", "n": 5, "mean": 90.0})
    assert directories(row) == ("mini/digits/resnet18/bnn/stompp/forward",)
    assert directories(row.drop("recipe"), row) == ("mini/digits/resnet18/bnn/stompp/forward",)  # hand-made
