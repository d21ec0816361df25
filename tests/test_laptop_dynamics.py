"""The laptop forms of the claims that read training dynamics (issue 13): S6's sawtooth as
"StoMPP has more resolvable drops than STE" and O1's silent weights as "OvSW cuts vanilla's
never-flipped share", on hand-made curves and tables: HOLDS, FAILS, INCONCLUSIVE, NOT RUN, and
the same data judged by the paper forms on a paper dataset."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from benchmark import claims as cl
from benchmark import evals
from benchmark.claims import FAILS, HOLDS, INCONCLUSIVE, NOT_RUN
from tests.test_claims import CLAIMS_YAML, verdicts
from tests.test_peer_claims import peer, table

LAPTOP = {"digits", "digits8", "synthetic", "mnist", "fashion_mnist"}
K = 128  # the default config's evaluation subset (workflows/config/default.yaml, evals)


@pytest.fixture(scope="module")
def claims() -> dict[str, cl.Claim]:
    parsed, _ = cl.load_claims(CLAIMS_YAML)
    return {c.id: c for c in parsed}


def test_the_laptop_forms_are_documented_and_keep_the_published_thresholds(claims) -> None:
    s6, o1 = claims["S6"], claims["O1"]
    assert s6.check == "sawtooth" and s6.laptop is not None and s6.laptop.check == "sawtooth_contrast"
    assert set(s6.laptop.datasets) == LAPTOP
    lp, pp = s6.laptop.params, s6.params
    assert (lp.drop_pp, lp.min_drops, lp.freeze_end) == (pp.drop_pp, pp.min_drops, pp.freeze_end)
    assert lp.resolution_z == 1.96 and "more smoothly" in s6.laptop.reason
    assert o1.check == "silent_weights" and o1.params.ratio == 10.0
    assert (
        o1.laptop is not None
        and o1.laptop.check == "silent_weights_cut"
        and set(o1.laptop.datasets) == LAPTOP
    )
    assert o1.laptop.params.large_share_pct == o1.params.large_share_pct and o1.laptop.params.cut_pp == 2.0
    assert "440 steps" in o1.laptop.reason


# --------------------------------------------------------------------------- the resolution floor


@pytest.mark.parametrize("k", [64, 128, 360, 10_000])
def test_the_resolution_floor_is_the_smallest_fall_a_paired_test_can_call_significant(k: int) -> None:
    """McNemar's statistic for a net loss of d examples is largest, d, when no example was
    gained; d examples fall by 100 d / K points: significant exactly above the floor."""
    z = 1.96
    floor = cl.resolvable_drop_pp(k, z)
    assert floor == pytest.approx(100 * z * z / k)
    for d in range(1, 12):
        best_case = d * d / d  # (c - b)^2 / (b + c) with b = 0, c = d
        assert (best_case > z * z) == (100 * d / k > floor)


def test_the_floor_is_three_points_on_the_default_subset_and_negligible_on_cifar() -> None:
    assert cl.resolvable_drop_pp(K, 1.96) == pytest.approx(3.0012, abs=1e-4)
    assert cl.resolvable_drop_pp(10_000, 1.96) < 0.05  # the paper's 1 point then decides


# --------------------------------------------------------------------------- S6's laptop form


def fine_curve(drops: int, size: float, noise: float = 0.0) -> list[float]:
    """50 evaluations (every 2 steps of 10 epochs of 10 steps), rising 0.5 an evaluation, with
    ``drops`` recovered dips of ``size`` points in the freezing phase (the first 45), each a fall
    of size - 0.5 from the evaluation before, and recovered dips of ``noise`` between them."""
    acc = [30.0 + 0.5 * i for i in range(50)]
    teeth = {4 + 5 * j for j in range(drops)}
    wobble = {2 + 5 * j for j in range(9)}
    return [a - (size if i in teeth else noise if i in wobble else 0.0) for i, a in enumerate(acc)]


def trajectories(stompp: list[list[float]], ste: list[list[float]], dataset: str = "digits") -> pd.DataFrame:
    """A curves frame with fine rows only where every run has them, as the readers build it
    (:func:`benchmark.evals.with_fine_curves`): per-epoch rows plus one row per evaluation."""
    rows = []
    for variant, curves in (("stompp", stompp), ("ste", ste)):
        for seed, fine in enumerate(curves):
            cell = {
                "dataset": dataset,
                "arch": "resnet18",
                "regime": "bnn",
                "variant": variant,
                "ordering": "forward" if variant == "stompp" else "none",
                "seed": seed,
                "recipe": "mini",
                "epochs": 10,
                "status": "ok",
            }
            for epoch in range(1, 11):
                rows.append(
                    cell | {"epoch": float(epoch), evals.METRIC: fine[5 * epoch - 1], evals.CURVE: "epoch"}
                )
            for i, value in enumerate(fine):
                step = 2 * (i + 1)
                rows.append(
                    cell
                    | {"epoch": step / 10, evals.METRIC: value, evals.CURVE: evals.FINE}
                    | {"step": step, "every": 2, "n_examples": K}
                )
    frame = pd.DataFrame(rows)
    for name in ("step", "every", "n_examples"):
        frame[name] = frame[name].astype("Int64")
    return frame


def s6(claims, stompp, ste, dataset: str = "digits") -> cl.Outcome:
    (outcome,) = claims["S6"].evaluate(cl.Tables(trajectories=trajectories(stompp, ste, dataset)))
    return outcome


def test_s6_laptop_holds_when_only_stompp_falls_beyond_the_subsets_resolution(claims) -> None:
    # StoMPP: 9 recovered falls of 4.5 points (> 3.0); STE: 9 falls of 1.5 (2 images), above the
    # published 1 point but below the subset's resolution
    saw, noisy = fine_curve(9, 5.0), fine_curve(0, 0.0, noise=2.0)
    outcome = s6(claims, [saw] * 3, [noisy] * 3)
    assert (outcome.form, outcome.verdict) == (cl.LAPTOP_FORM, HOLDS)
    repeated, contrast = outcome.parts
    assert "> 3.00 pp (the larger of 1 and 100 z^2/K = 3.00, K = 128)" in repeated.text
    assert "every 2 steps on 128 test images" in repeated.text and "{0: 9, 1: 9, 2: 9}" in repeated.text
    assert (contrast.estimate, contrast.ci_low, contrast.ci_high) == (9.0, 9.0, 9.0)
    # the paper form counts STE's 1.5-point falls as drops: the same curves on CIFAR-10 FAIL
    paper = s6(claims, [saw] * 3, [noisy] * 3, dataset="cifar10")
    assert (paper.form, paper.verdict) == (cl.PAPER_FORM, FAILS)


def test_s6_laptop_fails_when_ste_falls_as_often_or_stompp_only_within_the_resolution(claims) -> None:
    saw = fine_curve(9, 5.0)
    same = s6(claims, [saw] * 3, [saw] * 3)
    assert same.verdict == FAILS and [p.verdict for p in same.parts] == [HOLDS, FAILS]
    assert "+0.00 [0.00, 0.00] vs > 0: FAILS" in same.parts[1].text
    small = s6(claims, [fine_curve(9, 2.5)] * 3, [fine_curve(0, 0.0)] * 3)  # falls of 2.0: 2.6 images
    assert small.verdict == FAILS and "{0: 0, 1: 0, 2: 0}" in small.parts[0].text


def test_s6_laptop_is_inconclusive_when_the_counts_overlap(claims) -> None:
    # StoMPP 3, 6, 9 drops; STE 0, 4, 8: difference +2 with a Welch half-width above 2
    stompp = [fine_curve(n, 5.0) for n in (3, 6, 9)]
    ste = [fine_curve(n, 5.0) for n in (0, 4, 8)]
    outcome = s6(claims, stompp, ste)
    repeated, contrast = outcome.parts
    assert repeated.verdict == HOLDS and contrast.verdict == INCONCLUSIVE
    assert contrast.estimate == pytest.approx(2.0) and contrast.ci_low < 0 < contrast.ci_high
    assert outcome.verdict == INCONCLUSIVE
    # some StoMPP seeds without repeated drops: the first part cannot decide either
    mixed = s6(claims, [fine_curve(9, 5.0), fine_curve(1, 5.0)], [fine_curve(0, 0.0)] * 2)
    assert mixed.parts[0].verdict == INCONCLUSIVE


def test_s6_laptop_without_ste_runs_is_not_run(claims) -> None:
    outcome = s6(claims, [fine_curve(9, 5.0)] * 2, [])
    assert outcome.verdict == NOT_RUN and "ste no runs" in outcome.parts[0].text


def test_s6_laptop_on_the_per_epoch_curve_uses_the_published_threshold(claims) -> None:
    frame = trajectories([fine_curve(9, 5.0)] * 2, [fine_curve(0, 0.0)] * 2)
    per_epoch = evals.per_epoch(frame)
    (outcome,) = claims["S6"].evaluate(cl.Tables(trajectories=per_epoch))
    assert "> 1 pp (the test subset's size is not recorded)" in outcome.parts[0].text
    assert "on the curve per epoch" in outcome.parts[0].text


# --------------------------------------------------------------------------- O1's laptop form

LAPTOP_SCOPE = "mini/digits/resnet18"


def o1(claims, vanilla: tuple[float, float], ovsw: tuple[float, float], half: float = 0.5, n: int = 5):
    rows = table(
        peer("ovsw_vanilla", 60.0, recipe="mini", flips=vanilla, flip_half_width=half),
        peer("ovsw", 66.0, n=n, recipe="mini", flips=ovsw, flip_half_width=half),
    )
    (outcome,) = claims["O1"].evaluate(cl.Tables(ovsw=rows))
    assert (outcome.scope, outcome.form) == (LAPTOP_SCOPE, cl.LAPTOP_FORM)
    return outcome


def test_o1_laptop_holds_on_a_cut_of_more_than_two_points(claims) -> None:
    # (all, last layer): vanilla 95, 94; OvSW 90, 88: cuts of 5 and 6 points, bounds +-1
    outcome = o1(claims, (95.0, 94.0), (90.0, 88.0))
    assert outcome.verdict == HOLDS
    large, last, overall = outcome.parts
    assert large.verdict == HOLDS and "> 25%" in large.text
    assert (last.estimate, last.ci_low, last.ci_high) == pytest.approx((6.0, 5.0, 7.0))
    assert "layer4.1.conv2" in last.text and "vs > 2: HOLDS" in last.text
    assert (overall.estimate, overall.ci_low) == pytest.approx(
        (5.0, 4.0)
    ) and "all binary layers" in overall.text
    # the paper form would have failed it: 94 / 88 is far from tenfold
    cifar = table(
        peer(
            "ovsw_vanilla", 60.0, recipe="mini", flips=(95.0, 94.0), flip_half_width=0.5, dataset="cifar100"
        ),
        peer("ovsw", 66.0, recipe="mini", flips=(90.0, 88.0), flip_half_width=0.5, dataset="cifar100"),
    )
    assert verdicts(claims["O1"], cl.Tables(ovsw=cifar)) == {"mini/cifar100/resnet18": FAILS}


def test_o1_laptop_fails_inconclusive_and_not_run(claims) -> None:
    assert o1(claims, (95.0, 94.0), (94.5, 93.5)).verdict == FAILS  # half a point: no cut
    assert o1(claims, (95.0, 94.0), (94.5, 93.5)).parts[1].ci_high == pytest.approx(1.5)
    assert o1(claims, (95.0, 94.0), (92.0, 91.0), half=1.0).verdict == INCONCLUSIVE  # [1, 5] holds 2
    assert o1(claims, (95.0, 94.0), (90.0, 88.0), n=1).verdict == INCONCLUSIVE  # one OvSW seed
    not_large = o1(claims, (20.0, 15.0), (5.0, 2.0))
    assert not_large.verdict == FAILS and not_large.parts[0].verdict == FAILS
    missing = o1(claims, (95.0, 94.0), (math.nan, math.nan))
    assert missing.verdict == NOT_RUN and "no flip statistics" in missing.parts[1].text
