"""Tidy results tables gathered from the per-model summaries (the public contract)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from process_outcome.analysis import between
from process_outcome.analysis.aims import MODERATION_COLUMNS, SIMPLE_SLOPE_COLUMNS
from process_outcome.mixed import CONTRAST_COLUMNS

__all__ = [
    "BUILDERS",
    "FIXED_COLUMNS",
    "SLOPE_TEST_COLUMNS",
    "THERAPIST_SLOPE_COLUMNS",
    "build_tables",
    "check_contract",
    "contracts",
    "fixed_effects",
    "moderation",
    "simple_slopes",
    "slope_correlations",
    "slope_tests",
    "therapist_slopes",
    "truth_recovery",
]

FIXED_COLUMNS = ["outcome", "process", "term", *CONTRAST_COLUMNS, "singular"]
SLOPE_TEST_COLUMNS = [
    "outcome",
    "process",
    "slope_sd",
    "slope_low",
    "slope_high",
    "lr",
    "p_mixture",
    "share_beneficial",
    "singular",
    "n_patients",
    "n_therapists",
]
THERAPIST_SLOPE_COLUMNS = ["outcome", "process", "therapist", "slope", "se", "n_patients"]


def contracts() -> dict[str, Any]:
    """pandera schemas of the public results tables.

    Each schema fixes the columns and their order (``strict``, ``ordered``) and the
    admissible values, so a change that would break the users' contract fails loudly
    instead of writing a subtly different table. Keyed by the tables' registered names
    (:mod:`process_outcome.outputs`).
    """
    import pandera.pandas as pa

    def col(dtype: Any = float, nullable: bool = False, **checks: Any) -> pa.Column:
        parsed = [
            getattr(pa.Check, name)(*value)
            if isinstance(value, tuple)
            else getattr(pa.Check, name)(value)
            for name, value in checks.items()
        ]
        return pa.Column(dtype, checks=parsed, nullable=nullable, coerce=True)

    inference = {
        "estimate": col(),
        "se": col(ge=0),
        "df": col(gt=0),
        "t": col(nullable=True),
        "p": col(in_range=(0, 1)),
    }
    fixed = pa.DataFrameSchema(
        {"outcome": col(str), "process": col(str), "term": col(str)}
        | inference
        | {"ci_low": col(), "ci_high": col(), "singular": col(bool)},
        strict=True,
        ordered=True,
    )
    return {
        "aim1_fixed_effects": fixed,
        "aim2_fixed_effects": fixed,
        "aim2_slope_tests": pa.DataFrameSchema(
            {
                "outcome": col(str),
                "process": col(str),
                "slope_sd": col(ge=0),
                "slope_low": col(),
                "slope_high": col(),
                "lr": col(ge=0),
                "p_mixture": col(in_range=(0, 1)),
                "share_beneficial": col(in_range=(0, 1)),
                "singular": col(bool),
                "n_patients": col(int, gt=0),
                "n_therapists": col(int, gt=0),
            },
            strict=True,
            ordered=True,
        ),
        "aim2_therapist_slopes": pa.DataFrameSchema(
            {
                "outcome": col(str),
                "process": col(str),
                # Pseudonymous codes: T01…, or TH01…, TA01… when ids of the study look like T01.
                "therapist": col(str, str_matches=r"^T[A-Z]*\d+$"),
                "slope": col(),
                "se": col(ge=0),
                "n_patients": col(int, gt=0),
            },
            strict=True,
            ordered=True,
        ),
        "aim3_moderation": pa.DataFrameSchema(
            {"outcome": col(str), "process": col(str), "moderator": col(str)}
            | inference
            | {
                "p_fdr": col(in_range=(0, 1)),
                "ci_low": col(),
                "ci_high": col(),
                "singular": col(bool),
            },
            strict=True,
            ordered=True,
        ),
    }


def check_contract(table: pd.DataFrame, name: str) -> pd.DataFrame:
    """Validate a public results table against its pandera schema (see :func:`contracts`)."""
    schema = contracts().get(name)
    return table if schema is None else schema.validate(table)


def fixed_effects(summaries: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Fixed effects of aim 1 or aim 2 model summaries, one row per term.

    Parameters
    ----------
    summaries : iterable of mapping
        Model summaries as written by the aim rules (``outcome``, ``process``, ``fit``).

    Returns
    -------
    DataFrame
        Columns ``outcome, process, term, estimate, se, df, t, p, ci_low, ci_high,
        singular``.
    """
    rows = []
    for s in summaries:
        for c in s["fit"]["coefficients"]:
            rows.append(
                {"outcome": s["outcome"], "process": s["process"]}
                | {k: c[k] for k in FIXED_COLUMNS[2:-1]}
                | {"singular": bool(s["fit"]["singular"])}
            )
    return pd.DataFrame(rows, columns=FIXED_COLUMNS)


def slope_tests(summaries: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Aim 2 tests of therapist differences in the within-therapist slope."""
    rows = [
        {"outcome": s["outcome"], "process": s["process"]}
        | {k: s[k] for k in SLOPE_TEST_COLUMNS[2:]}
        for s in summaries
    ]
    return pd.DataFrame(rows, columns=SLOPE_TEST_COLUMNS)


def therapist_slopes(summaries: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Each therapist's empirical-Bayes slope (pseudonymous therapist codes)."""
    rows = [
        {"outcome": s["outcome"], "process": s["process"]}
        | {k: r[k] for k in THERAPIST_SLOPE_COLUMNS[2:]}
        for s in summaries
        for r in s["therapist_slopes"]
    ]
    return pd.DataFrame(rows, columns=THERAPIST_SLOPE_COLUMNS)


def moderation(summaries: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Aim 3 cross-level interactions with raw and BH-FDR adjusted p values."""
    rows = [r for s in summaries for r in s["moderation"]]
    return pd.DataFrame(rows, columns=MODERATION_COLUMNS)


def simple_slopes(summaries: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Aim 3 simple slopes of the within-therapist process at moderator values."""
    rows = [r for s in summaries for r in s["simple_slopes"]]
    return pd.DataFrame(rows, columns=SIMPLE_SLOPE_COLUMNS)


def slope_correlations(slopes: pd.DataFrame) -> pd.DataFrame:
    """Correlation across therapists of their slopes on two processes, per outcome.

    The "strengths and weaknesses" question: do therapists who draw more benefit from
    one process also draw more from the other?

    Returns
    -------
    DataFrame
        Columns ``outcome, process_a, process_b, n, r, ci_low, ci_high, p``.
    """
    from process_outcome.analysis.aims import slope_correlation

    rows = []
    for outcome, grp in slopes.groupby("outcome", sort=False):
        processes = list(dict.fromkeys(grp["process"]))
        for a, b in combinations(processes, 2):
            res = slope_correlation(grp[grp["process"] == a], grp[grp["process"] == b])
            rows.append(
                {"outcome": outcome, "process_a": a, "process_b": b} | res.iloc[0].to_dict()
            )
    return pd.DataFrame(
        rows, columns=["outcome", "process_a", "process_b", "n", "r", "ci_low", "ci_high", "p"]
    )


def truth_recovery(
    truth: pd.DataFrame,
    aim1: pd.DataFrame,
    aim2_tests: pd.DataFrame,
    aim3: pd.DataFrame,
    joint_variance: Mapping[str, float],
    processes: Sequence[str],
) -> pd.DataFrame:
    """Set each generating parameter of the simulated study beside its estimate.

    Fixed effects are compared with the joint aim 1 model (the generating model's fixed
    part), slope SDs with the aim 2 models, moderator effects with the aim 3
    interactions and the therapist intercept SD with the joint aim 1 model.

    Returns
    -------
    DataFrame
        Columns ``outcome, process, moderator, parameter, model, true, estimate, ci_low,
        ci_high, covered`` (``covered``: the true value lies in the 95% CI; empty where
        no CI is computed).
    """
    rows = []
    for t in truth.itertuples(index=False):
        est = lo = hi = np.nan
        model = ""
        if t.parameter in {"slope_sd"} and t.process in processes:
            sel = aim2_tests[
                (aim2_tests["outcome"] == t.outcome) & (aim2_tests["process"] == t.process)
            ]
            model, est = "aim2", sel["slope_sd"].iloc[0] if len(sel) else np.nan
        elif t.parameter == "intercept_sd" and t.outcome in joint_variance:
            model, est = "aim1 joint", float(np.sqrt(joint_variance[t.outcome]))
        elif isinstance(t.moderator, str) and t.moderator:
            sel = aim3[
                (aim3["outcome"] == t.outcome)
                & (aim3["process"] == t.process)
                & (aim3["moderator"] == t.moderator)
            ]
            if len(sel):
                model = "aim3"
                est, lo, hi = sel[["estimate", "ci_low", "ci_high"]].iloc[0]
        elif not (isinstance(t.process, str) and t.process):
            sel = aim1[
                (aim1["outcome"] == t.outcome)
                & (aim1["process"] == "joint")
                & (aim1["term"] == t.parameter)
            ]
            if len(sel):
                model = "aim1 joint"
                est, lo, hi = sel[["estimate", "ci_low", "ci_high"]].iloc[0]
        if not model:
            continue
        covered = "" if np.isnan(lo) else bool(lo <= t.value <= hi)
        rows.append(
            {
                "outcome": t.outcome,
                "process": t.process if isinstance(t.process, str) else "",
                "moderator": t.moderator if isinstance(t.moderator, str) else "",
                "parameter": t.parameter,
                "model": model,
                "true": t.value,
                "estimate": est,
                "ci_low": lo,
                "ci_high": hi,
                "covered": covered,
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "outcome",
            "process",
            "moderator",
            "parameter",
            "model",
            "true",
            "estimate",
            "ci_low",
            "ci_high",
            "covered",
        ],
    )


Summaries = Mapping[str, Sequence[Mapping[str, Any]]]

# Each results table of the ``results_tables`` rule and how it is built from the model
# summaries of the aims (keyed ``aim1``, ``aim2``, ``aim3``), by its registered name.
BUILDERS: dict[str, Callable[[Summaries], pd.DataFrame]] = {
    "aim1_fixed_effects": lambda s: fixed_effects(s["aim1"]),
    "aim2_slope_tests": lambda s: slope_tests(s["aim2"]),
    "aim2_fixed_effects": lambda s: fixed_effects(s["aim2"]),
    "aim2_therapist_slopes": lambda s: therapist_slopes(s["aim2"]),
    "aim2_slope_correlations": lambda s: slope_correlations(therapist_slopes(s["aim2"])),
    "aim3_moderation": lambda s: moderation(s["aim3"]),
    "aim3_simple_slopes": lambda s: simple_slopes(s["aim3"]),
    "aim1_between_corrected": lambda s: between.between_table(s["aim1"]),
    "effect_sizes_r2": lambda s: between.r2_table([*s["aim1"], *s["aim2"]]),
    "standardized_effects": lambda s: between.standardized_table(s["aim1"]),
}


def build_tables(summaries: Summaries) -> dict[str, pd.DataFrame]:
    """Every table of :data:`BUILDERS`, keyed by its registered name.

    Parameters
    ----------
    summaries : mapping
        Model summaries (``results/models/<aim>/…json`` contents) keyed ``aim1``,
        ``aim2``, ``aim3``.

    Examples
    --------
    >>> sorted(build_tables({"aim1": [], "aim2": [], "aim3": []}))[:2]
    ['aim1_fixed_effects', 'aim2_fixed_effects']
    """
    return {name: build(summaries) for name, build in BUILDERS.items()}
