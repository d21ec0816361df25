"""The peers' claims (O1-O3, B1, P1, P2) on hand-made peer tables: HOLDS, FAILS,
INCONCLUSIVE and NOT RUN for each, with the thresholds of paper/claims.yaml."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from benchmark import claims as cl
from benchmark import stats
from benchmark.claims import FAILS, HOLDS, INCONCLUSIVE, NOT_RUN
from benchmark.errors import UserError

CLAIMS_YAML = Path(__file__).resolve().parents[1] / "paper" / "claims.yaml"
NAN = float("nan")


def peer(
    variant: str,
    mean: float,
    std: float = 0.5,
    n: int = 5,
    recipe: str = "ovsw_ablation",
    flips: tuple[float, float] | None = None,
    flip_half_width: float = 1.0,
    dataset: str = "digits",
) -> dict:
    """One peer-table row on digits/resnet18/bnn; ``flips`` = final never-flipped shares (all,
    last layer) with intervals of +- flip_half_width (undefined for a single seed)."""
    low, high = stats.t_interval(mean, std, n)
    row = {
        "recipe": recipe,
        "dataset": dataset,
        "arch": "resnet18",
        "regime": "bnn",
        "variant": variant,
        "ordering": "none",
        "n": n,
        "mean": mean if n else NAN,
        "std": std if n > 1 else NAN,
        "ci_low": low,
        "ci_high": high,
        "last_layer": "layer4.1.conv2",
    }
    for column, value in zip(("never_flipped", "never_flipped_last"), flips or (NAN, NAN), strict=True):
        hw = flip_half_width if n > 1 else NAN
        row |= {column: value, f"{column}_ci_low": value - hw, f"{column}_ci_high": value + hw}
    return row


def table(*rows: dict) -> pd.DataFrame:
    return pd.DataFrame(list(rows))


@pytest.fixture(scope="module")
def claims() -> dict[str, cl.Claim]:
    parsed, _ = cl.load_claims(CLAIMS_YAML)
    return {c.id: c for c in parsed}


def verdicts(claim: cl.Claim, tables: cl.Tables) -> dict[str, str]:
    return {o.scope: o.verdict for o in claim.evaluate(tables)}


SCOPE = "ovsw_ablation/digits/resnet18"
PAPER = "cifar100"  # O1 has a laptop form for digits (tests/test_laptop_claims.py): its paper form here
O1_SCOPE = f"ovsw_ablation/{PAPER}/resnet18"


# --------------------------------------------------------------------------- O1 silent weights


@pytest.mark.parametrize(
    ("num", "den", "ratio", "expected"),
    [
        ((50.0, 54.0), (2.0, 3.0), 10.0, HOLDS),  # 50/3 = 16.7 >= 10
        ((50.0, 54.0), (6.0, 7.0), 10.0, FAILS),  # 54/6 = 9 < 10
        ((38.0, 42.0), (3.0, 5.0), 10.0, INCONCLUSIVE),  # [7.6, 14]
        ((50.0, 54.0), (0.0, 0.0), 10.0, HOLDS),  # OvSW leaves none silent
        ((50.0, 54.0), (0.0, 3.0), 10.0, HOLDS),  # upper bound infinite, lower 16.7
        ((0.0, 0.0), (0.0, 0.0), 10.0, FAILS),  # upper bound 0: nothing to cut
        ((NAN, NAN), (2.0, 3.0), 10.0, INCONCLUSIVE),
    ],
)
def test_ratio_at_least(num, den, ratio, expected) -> None:
    verdict, low, high = cl.ratio_at_least(num, den, ratio)
    assert verdict == expected
    if expected == HOLDS and den[1] > 0:
        assert low == pytest.approx(num[0] / den[1])


def o1_table(ovsw_flips: tuple[float, float], n: int = 5) -> pd.DataFrame:
    return table(
        peer("fp", 95.0, recipe="ovsw_cifar", dataset=PAPER),
        peer("ovsw_vanilla", 60.0, flips=(40.0, 54.0), dataset=PAPER),
        peer("ovsw", 66.0, n=n, flips=ovsw_flips, flip_half_width=0.2, dataset=PAPER),
    )


def test_o1_holds_when_ovsw_cuts_silent_weights_tenfold(claims) -> None:
    outcome = claims["O1"].evaluate(cl.Tables(ovsw=o1_table((3.0, 2.0))))
    assert [o.scope for o in outcome] == [O1_SCOPE]  # the recipe without ovsw_vanilla has no scope
    (o,) = outcome
    assert o.verdict == HOLDS
    large, last, overall = o.parts
    assert large.estimate == 54.0 and "layer4.1.conv2" in large.text and "> 25%" in large.text
    assert last.estimate == pytest.approx(27.0) and last.ci_low == pytest.approx(53.0 / 2.2)
    assert overall.estimate == pytest.approx(40.0 / 3.0)
    assert "all binary layers" in overall.text and ">= 10x" in overall.text


def test_o1_fails_inconclusive_and_not_run(claims) -> None:
    def judge(ovsw_flips, **kw) -> str:
        return verdicts(claims["O1"], cl.Tables(ovsw=o1_table(ovsw_flips, **kw)))[O1_SCOPE]

    assert judge((20.0, 2.0)) == FAILS  # overall only halved
    assert judge((4.0, 2.0)) == INCONCLUSIVE  # overall ratio interval [39/4.2, 41/3.8] spans 10
    assert judge((3.0, 2.0), n=1) == INCONCLUSIVE  # a single OvSW seed: no interval
    assert judge((NAN, NAN)) == NOT_RUN  # OvSW recorded no flip statistics
    little = table(
        peer("ovsw_vanilla", 60.0, flips=(5.0, 8.0), dataset=PAPER),
        peer("ovsw", 66.0, flips=(0.2, 0.1), dataset=PAPER),
    )
    assert verdicts(claims["O1"], cl.Tables(ovsw=little)) == {O1_SCOPE: FAILS}  # vanilla's share is not large
    assert verdicts(claims["O1"], cl.Tables()) == {"all": NOT_RUN}
    only_vanilla = table(peer("ovsw_vanilla", 60.0, flips=(40.0, 54.0), dataset=PAPER))
    assert verdicts(claims["O1"], cl.Tables(ovsw=only_vanilla)) == {"all": NOT_RUN}
    # our plain STE is another baseline than OvSW's vanilla BNN: it does not stand in for it
    plain_ste = table(
        peer("ste", 60.0, flips=(40.0, 54.0), dataset=PAPER),
        peer("ovsw", 66.0, flips=(3.0, 2.0), dataset=PAPER),
    )
    assert verdicts(claims["O1"], cl.Tables(ovsw=plain_ste)) == {"all": NOT_RUN}


# --------------------------------------------------------------------------- O2 components


def o2_table(ags: float, sad: float, ovsw: float, std: float = 0.5, sad_n: int = 5) -> pd.DataFrame:
    return table(
        peer("ovsw_vanilla", 60.0, std),
        peer("ovsw_ags", ags, std),
        peer("ovsw_sad", sad, std, n=sad_n),
        peer("ovsw", ovsw, std),
    )


def test_o2_components(claims) -> None:
    def judge(t: pd.DataFrame) -> str:
        return verdicts(claims["O2"], cl.Tables(ovsw=t))[SCOPE]

    assert judge(o2_table(65.0, 64.0, 67.0)) == HOLDS
    assert judge(o2_table(58.0, 64.0, 67.0)) == FAILS  # AGS alone is worse than vanilla
    assert judge(o2_table(65.0, 64.0, 63.0)) == FAILS  # the combination is not best
    assert judge(o2_table(65.0, 64.0, 65.2)) == INCONCLUSIVE  # OvSW vs AGS within the noise
    assert judge(o2_table(65.0, 64.0, 67.0, sad_n=0)) == NOT_RUN  # SAD only never finished
    (o,) = claims["O2"].evaluate(cl.Tables(ovsw=o2_table(65.0, 64.0, 67.0)))
    assert len(o.parts) == 4 and o.parts[0].text.startswith("ovsw_ags 65.00")
    assert o.parts[3].text.startswith("ovsw 67.00") and "- ovsw_sad 64.00" in o.parts[3].text
    no_sad = o2_table(65.0, 64.0, 67.0)
    assert verdicts(claims["O2"], cl.Tables(ovsw=no_sad[no_sad.variant != "ovsw_sad"])) == {"all": NOT_RUN}


# --------------------------------------------------------------------------- O3 convergence


def o3_table(ovsw_half: float, std: float = 0.5, n: int = 5, recipe: str = "ovsw_ablation") -> pd.DataFrame:
    return table(
        peer("ovsw_vanilla", 60.0, std, recipe=recipe),
        peer("ovsw", 66.0, std, recipe=recipe),
        peer("ovsw_vanilla", 55.0, std, recipe=f"{recipe}_half"),
        peer("ovsw", ovsw_half, std, n=n, recipe=f"{recipe}_half"),
    )


def test_o3_convergence(claims) -> None:
    def judge(t: pd.DataFrame, scope: str = SCOPE) -> str:
        return verdicts(claims["O3"], cl.Tables(ovsw=t))[scope]

    assert judge(o3_table(63.0)) == HOLDS
    assert judge(o3_table(57.0)) == FAILS
    assert judge(o3_table(60.5, std=3.0, n=3)) == INCONCLUSIVE
    assert judge(o3_table(63.0, n=0)) == NOT_RUN
    # the mini recipes follow the same naming: <recipe>_half
    mini = o3_table(63.0, recipe="mini_ovsw_ablation")
    assert verdicts(claims["O3"], cl.Tables(ovsw=mini)) == {"mini_ovsw_ablation/digits/resnet18": HOLDS}
    (o,) = claims["O3"].evaluate(cl.Tables(ovsw=o3_table(63.0)))
    assert o.parts[0].estimate == pytest.approx(3.0)
    assert "ovsw at ovsw_ablation_half vs ovsw_vanilla at ovsw_ablation" in o.parts[0].text
    full_only = o3_table(63.0).iloc[:2]
    assert verdicts(claims["O3"], cl.Tables(ovsw=full_only)) == {"all": NOT_RUN}


# --------------------------------------------------------------------------- B1, P1, P2


def pair(
    variant: str, baseline: str, a: float, b: float, std: float = 0.2, n: int = 5, a_n: int | None = None
):
    recipe = "bop_cifar" if baseline == "ste" else "pabt_cifar"
    n_a = n if a_n is None else a_n
    return table(peer(baseline, b, std, n, recipe=recipe), peer(variant, a, std, n_a, recipe=recipe))


def test_b1_bop_at_least_ste(claims) -> None:
    def judge(t: pd.DataFrame) -> str:
        return verdicts(claims["B1"], cl.Tables(bop=t))["bop_cifar/digits/resnet18"]

    assert judge(pair("bop", "ste", 91.3, 90.9)) == HOLDS
    assert judge(pair("bop", "ste", 90.6, 90.9)) == HOLDS  # 0.3 worse, within the 1-point tolerance
    assert judge(pair("bop", "ste", 85.0, 90.9)) == FAILS
    assert judge(pair("bop", "ste", 90.4, 90.9, std=0.5, n=3)) == INCONCLUSIVE
    assert judge(pair("bop", "ste", 91.3, 90.9, a_n=0)) == NOT_RUN
    assert verdicts(claims["B1"], cl.Tables(pabt=pair("bop", "ste", 91.3, 90.9))) == {"all": NOT_RUN}


@pytest.mark.parametrize(("claim", "baseline"), [("P1", "pabt_1x1"), ("P2", "pabt_random")])
def test_p1_p2_pabt_beats_its_controls(claims, claim: str, baseline: str) -> None:
    def judge(t: pd.DataFrame) -> str:
        return verdicts(claims[claim], cl.Tables(pabt=t))["pabt_cifar/digits/resnet18"]

    assert judge(pair("pabt", baseline, 86.6, 84.3)) == HOLDS
    assert judge(pair("pabt", baseline, 83.0, 84.3)) == FAILS
    assert judge(pair("pabt", baseline, 84.5, 84.3, std=1.0, n=3)) == INCONCLUSIVE
    assert judge(pair("pabt", baseline, 86.6, 84.3, a_n=0)) == NOT_RUN
    assert verdicts(claims[claim], cl.Tables()) == {"all": NOT_RUN}
    (o,) = claims[claim].evaluate(cl.Tables(pabt=pair("pabt", baseline, 86.6, 84.3)))
    assert o.parts[0].estimate == pytest.approx(2.3)
    assert math.isfinite(o.parts[0].ci_low) and f"- {baseline} 84.30" in o.parts[0].text


def test_peer_claims_are_scoped_per_recipe_dataset_arch(claims) -> None:
    two = pd.concat(
        [pair("pabt", "pabt_1x1", 86.6, 84.3), pair("pabt", "pabt_1x1", 80.0, 84.3).assign(arch="resnet20")]
    )
    assert verdicts(claims["P1"], cl.Tables(pabt=two)) == {
        "pabt_cifar/digits/resnet18": HOLDS,
        "pabt_cifar/digits/resnet20": FAILS,
    }


def test_peer_claims_yaml_parameters(claims) -> None:
    assert claims["O1"].params.ratio == 10.0 and claims["O1"].params.table == "ovsw"
    assert claims["O2"].params.components == ("ovsw_ags", "ovsw_sad")
    # OvSW's vanilla BNN (its binarizer, AGS and SAD off) is the baseline of Fig. 1, Table 3, Sec. 5.3
    assert {claims[c].params.baseline for c in ("O1", "O2", "O3")} == {"ovsw_vanilla"}
    assert claims["O3"].params.half_suffix == "_half"
    assert claims["B1"].params.tolerance_pp == 1.0
    assert (claims["P1"].params.baseline, claims["P2"].params.baseline) == ("pabt_1x1", "pabt_random")


def test_a_claim_must_name_a_known_table() -> None:
    entry = {
        "id": "X",
        "check": "beats",
        "description": "d",
        "params": {"table": "nope", "regime": "bnn", "variant": "a", "baseline": "b", "margin_pp": 0.0},
    }
    with pytest.raises(UserError, match="'table' must be one of"):
        cl.parse_claim(entry)


def test_numbers_tables_must_name_known_tables(tmp_path: Path) -> None:
    path = tmp_path / "claims.yaml"
    path.write_text("numbers: {tolerance_pp: 2.0, tables: {ovsw: table_ovsw}}\nclaims: []\n")
    with pytest.raises(UserError, match="numbers.tables"):
        cl.load_claims(path)


def test_the_report_gives_the_smallest_difference_a_claim_could_detect(claims) -> None:
    """half_width on hand-made cells of known std and n: Welch's t-interval of a - b, written
    out here with scipy (one claim of one comparison; a claim of several: the widest)."""
    from scipy.stats import t as student

    from benchmark import regression

    std, n = 2.0, 5
    (outcome,) = claims["P1"].evaluate(cl.Tables(pabt=pair("pabt", "pabt_1x1", 86.0, 85.0, std=std, n=n)))
    row = regression.claim_row(claims["P1"], outcome)
    se = math.sqrt(2 * std**2 / n)  # equal std and n: Welch's df is 2 (n - 1)
    assert row["half_width"] == pytest.approx(student.ppf(0.975, 2 * (n - 1)) * se, rel=1e-9)
    assert row["verdict"] == INCONCLUSIVE and row["half_width"] > abs(row["mean"])  # too small a study
    big = pair("pabt", "pabt_1x1", 86.0, 85.0, std=std, n=200)
    (narrow,) = claims["P1"].evaluate(cl.Tables(pabt=big))
    assert regression.claim_row(claims["P1"], narrow)["half_width"] < 0.5  # 200 seeds see 1 point

    o2 = o2_table(65.0, 64.0, 67.0)  # several comparisons: the widest of their intervals
    (several,) = claims["O2"].evaluate(cl.Tables(ovsw=o2))
    widths = [(p.ci_high - p.ci_low) / 2 for p in several.parts]
    assert regression.claim_row(claims["O2"], several)["half_width"] == pytest.approx(max(widths))


def test_the_report_says_how_many_seeds_would_bring_a_claim_to_the_target_half_width(claims) -> None:
    """seeds_needed on hand-made cells of known std and n: the first seed count at which Welch's
    interval of the same two cells, recomputed, is at most power.half_width_pp wide; the claim's
    widest comparison decides, and comparisons of shares (O1) are not projected."""
    from benchmark import regression

    target = cl.load_half_width_target(CLAIMS_YAML)
    assert target == 2.0  # issue 13's 2 points
    std, n = 3.0, 5
    (outcome,) = claims["P1"].evaluate(cl.Tables(pabt=pair("pabt", "pabt_1x1", 86.0, 85.0, std=std, n=n)))
    row = regression.claim_row(claims["P1"], outcome, target)

    def half(seeds: int) -> float:
        c = stats.welch(86.0, std, seeds, 85.0, std, seeds)
        return (c.ci_high - c.ci_low) / 2

    assert row["seeds_needed"] == min(k for k in range(2, 100) if half(k) <= target) == 19
    assert math.isnan(regression.claim_row(claims["P1"], outcome)["seeds_needed"])  # no target given
    cells = [f"pabt_cifar/digits/resnet18/bnn/{v}/none" for v in ("pabt", "pabt_1x1")]
    assert row["cells"] == ";".join(cells)  # the run directories whose seeds that counts

    o2 = o2_table(65.0, 64.0, 67.0)  # several comparisons: the one that needs the most seeds
    (several,) = claims["O2"].evaluate(cl.Tables(ovsw=o2))
    each = [stats.seeds_for_half_width((p.ci_high - p.ci_low) / 2, p.n, p.df, target) for p in several.parts]
    assert regression.claim_row(claims["O2"], several, target)["seeds_needed"] == max(each)

    (silent,) = claims["O1"].evaluate(cl.Tables(ovsw=o1_table((3.0, 2.0))))  # shares and ratios
    assert math.isnan(regression.claim_row(claims["O1"], silent, target)["seeds_needed"])
    assert regression.claim_row(claims["O1"], silent, target)["cells"] == ""  # nor priced
    o2_cells = regression.claim_row(claims["O2"], several, target)["cells"].split(";")
    assert len(o2_cells) == len(set(o2_cells)) == 4  # vanilla, AGS, SAD, OvSW: each once


def test_the_half_width_target_is_read_from_claims_yaml_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "claims.yaml"
    path.write_text("numbers: {tolerance_pp: 2.0}\nclaims: []\n")
    assert math.isnan(cl.load_half_width_target(path))  # none named: the report projects nothing
    path.write_text("numbers: {tolerance_pp: 2.0}\npower: {half_width_pp: 1.5}\nclaims: []\n")
    assert cl.load_half_width_target(path) == 1.5
    for bad in ("0", "-1", "two", "true"):
        path.write_text(f"power: {{half_width_pp: {bad}}}\nclaims: []\n")
        with pytest.raises(UserError, match="power.half_width_pp"):
            cl.load_half_width_target(path)


# --------------------------------------------------------------------------- S7 beyond ResNets
def on(arch: str, recipe: str, *rows: dict) -> list[dict]:
    return [{**row, "arch": arch, "recipe": recipe, "ordering": "forward"} for row in rows]


def test_s7_judges_each_architecture_and_says_which_is_missing(claims: dict[str, cl.Claim]) -> None:
    """S7 holds on MobileNetV2 where StoMPP clearly beats STE; BERT, absent from the table
    (no SST-2 here), is a NOT RUN outcome of its own that says why."""
    rows = on("mobilenetv2", "mini", peer("ste", 80.0), peer("stompp", 85.0))
    outcomes = {o.scope: o for o in claims["S7"].evaluate(cl.Tables(architectures=table(*rows)))}
    assert {k: o.verdict for k, o in outcomes.items()} == {
        "mini/digits/mobilenetv2": HOLDS,
        "bert_base|bert_tiny": NOT_RUN,
    }
    text = outcomes["bert_base|bert_tiny"].parts[0].text
    assert "no bert_base or bert_tiny cells" in text and "SST-2" in text


def test_s7_fails_and_is_inconclusive_per_architecture(claims: dict[str, cl.Claim]) -> None:
    rows = on("mobilenetv2", "mini", peer("ste", 85.0), peer("stompp", 80.0))
    rows += on("bert_tiny", "bert", peer("ste", 80.0, std=5.0, n=2), peer("stompp", 81.0, std=5.0, n=2))
    found = verdicts(claims["S7"], cl.Tables(architectures=table(*rows)))
    assert found == {"mini/digits/mobilenetv2": FAILS, "bert/digits/bert_tiny": INCONCLUSIVE}


def test_s7_without_its_table_is_not_run(claims: dict[str, cl.Claim]) -> None:
    assert verdicts(claims["S7"], cl.Tables()) == {"all": NOT_RUN}
