"""Qualitative claims as checks over the aggregated tables, judged with the spread in mind.

Each entry of ``paper/claims.yaml`` names a *check* and its parameters; every threshold
lives in the YAML, none in this package. A check is evaluated per scope (a dataset, or a
dataset/arch/variant) and returns comparisons ("parts") whose verdicts come from 95% Welch
intervals (the rules: :mod:`benchmark.claims.verdicts`).

Checks (``check:`` in the YAML):
``gain_grows_with_depth`` (S1), ``collapse`` (S2; ``collapse_to_control``, its laptop form),
``order_insensitive`` (S3),
``global_freezing`` (S4), ``ranking`` (S5), ``sawtooth`` (S6; ``sawtooth_contrast``, its laptop
form) on the StoMPP tables; ``silent_weights`` (O1; ``silent_weights_cut``, its laptop form),
``components`` (O2), ``convergence`` (O3), ``at_least`` (B1) and ``beats`` (P1, P2) on the
peers' own tables (``table`` names which), scoped per recipe/dataset/arch.

Modules: :mod:`~benchmark.claims.verdicts` (verdict rules, parts, outcomes),
:mod:`~benchmark.claims.compare` (two cells to a part), :mod:`~benchmark.claims.cells`
(the tables and the lookups in them), :mod:`~benchmark.claims.check` (the base of every
check and the one driver), :mod:`~benchmark.claims.forms` (a claim's laptop form: another
check judged on the laptop datasets' rows), :mod:`~benchmark.claims.stompp`,
:mod:`~benchmark.claims.sawtooth` and :mod:`~benchmark.claims.peers` (the checks),
:mod:`~benchmark.claims.loader` (claims.yaml).
"""

from benchmark.claims.cells import Tables, find_cell, peer_cell, peer_scopes, scopes
from benchmark.claims.check import Check, Scope
from benchmark.claims.compare import (
    compare_greater,
    compare_less,
    compare_within,
    near_value,
    share_above,
    share_cut,
    share_ratio,
)
from benchmark.claims.forms import EITHER_FORM, Forms, LaptopForm
from benchmark.claims.loader import (
    CHECKS,
    Claim,
    build_params,
    load_claims,
    load_half_width_target,
    parse_claim,
    parse_laptop,
)
from benchmark.claims.peers import AtLeast, Beats, Components, Convergence, SilentWeights, SilentWeightsCut
from benchmark.claims.sawtooth import (
    Sawtooth,
    SawtoothContrast,
    count_recovered_drops,
    drops_per_seed,
    repeated_verdict,
    resolvable_drop_pp,
    sawtooth_verdict,
)
from benchmark.claims.stompp import (
    Collapse,
    CollapseToControl,
    GainGrowsWithDepth,
    GlobalFreezing,
    OrderInsensitive,
    Ranking,
)
from benchmark.claims.verdicts import (
    FAILS,
    HOLDS,
    INCONCLUSIVE,
    LAPTOP_FORM,
    NAN,
    NOT_RUN,
    PAPER_FORM,
    PENDING,
    UNSUPPORTED,
    Outcome,
    Part,
    conjunction,
    greater,
    ratio_at_least,
    within,
)

__all__ = [
    "CHECKS",
    "EITHER_FORM",
    "FAILS",
    "HOLDS",
    "INCONCLUSIVE",
    "LAPTOP_FORM",
    "NAN",
    "NOT_RUN",
    "PAPER_FORM",
    "PENDING",
    "UNSUPPORTED",
    "AtLeast",
    "Beats",
    "Check",
    "Claim",
    "Collapse",
    "CollapseToControl",
    "Components",
    "Convergence",
    "Forms",
    "GainGrowsWithDepth",
    "GlobalFreezing",
    "LaptopForm",
    "OrderInsensitive",
    "Outcome",
    "Part",
    "Ranking",
    "Sawtooth",
    "SawtoothContrast",
    "Scope",
    "SilentWeights",
    "SilentWeightsCut",
    "Tables",
    "build_params",
    "compare_greater",
    "compare_less",
    "compare_within",
    "conjunction",
    "count_recovered_drops",
    "drops_per_seed",
    "find_cell",
    "greater",
    "load_claims",
    "load_half_width_target",
    "near_value",
    "parse_claim",
    "parse_laptop",
    "peer_cell",
    "peer_scopes",
    "ratio_at_least",
    "repeated_verdict",
    "resolvable_drop_pp",
    "sawtooth_verdict",
    "scopes",
    "share_above",
    "share_cut",
    "share_ratio",
    "within",
]
