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
    "SLOPE_CORRELATION_COLUMNS",
    "SLOPE_TEST_COLUMNS",
    "THERAPIST_SLOPE_COLUMNS",
    "VARIANCE_COLUMNS",
    "build_tables",
    "check_contract",
    "contracts",
    "fixed_effects",
    "moderation",
    "simple_slopes",
    "slope_correlations",
    "slope_tests",
    "small_cells_suppressed",
    "therapist_slopes",
    "truth_recovery",
    "variance_components",
]

FIXED_COLUMNS = [
    "outcome",
    "process",
    "term",
    *CONTRAST_COLUMNS,
    "singular",
    "model",
    "df_method",
]
MODELS = ("random_intercept", "random_slope")
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
    "slope_sd_ci_low",
    "slope_sd_ci_high",
    "share_implied",
    "n_eb_therapists",
    "n_eb_beneficial",
]
SLOPE_CORRELATION_COLUMNS = [
    "outcome",
    "process_a",
    "process_b",
    "n",
    "r",
    "ci_low",
    "ci_high",
    "p",
    "singular",
    "not_computed",
]
# One row per fitted model of Table 3: what its variance part and fit statistics are.
VARIANCE_COLUMNS = [
    "aim",
    "outcome",
    "process",
    "n_obs",
    "n_groups",
    "intercept_var",
    "slope_var",
    "intercept_slope_cov",
    "intercept_slope_cor",
    "residual_var",
    "intercept_sd",
    "intercept_sd_ci_low",
    "intercept_sd_ci_high",
    "slope_sd",
    "slope_sd_ci_low",
    "slope_sd_ci_high",
    "residual_sd",
    "ci_level",
    "reml_loglik",
    "reml_deviance",
    "n_parameters",
    "aic",
    "singular",
    "converged",
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
    df_method = col(str, str_matches=r"^(satterthwaite|kenward_roger)(, therapist bound)?$")
    fixed = pa.DataFrameSchema(
        {"outcome": col(str), "process": col(str), "term": col(str)}
        | inference
        | {"ci_low": col(), "ci_high": col(), "singular": col(bool)}
        | {"model": col(str, isin=list(MODELS)), "df_method": df_method},
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
                "slope_sd_ci_low": col(nullable=True, ge=0),
                "slope_sd_ci_high": col(nullable=True, ge=0),
                "share_implied": col(in_range=(0, 1)),
                "n_eb_therapists": col(int, ge=0),
                "n_eb_beneficial": col(int, ge=0),
            },
            strict=True,
            ordered=True,
        ),
        "aim2_slope_correlations": pa.DataFrameSchema(
            {
                "outcome": col(str),
                "process_a": col(str),
                "process_b": col(str),
                "n": col(int, ge=0),
                # empty, with the reason in not_computed, where no correlation exists
                "r": col(nullable=True, in_range=(-1, 1)),
                # no interval or test where a slope model is singular (see slope_correlations)
                "ci_low": col(nullable=True, in_range=(-1, 1)),
                "ci_high": col(nullable=True, in_range=(-1, 1)),
                "p": col(nullable=True, in_range=(0, 1)),
                "singular": col(bool),
                "not_computed": col(str, nullable=True),
            },
            strict=True,
            ordered=True,
        ),
        "variance_components": pa.DataFrameSchema(
            {"aim": col(str), "outcome": col(str), "process": col(str)}
            | {"n_obs": col(int, gt=0), "n_groups": col(int, gt=0)}
            | {c: col(nullable=True) for c in VARIANCE_COLUMNS[5:-2]}
            | {"singular": col(bool), "converged": col(bool)},
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
                "df_method": df_method,
            },
            strict=True,
            ordered=True,
        ),
        "aim1_between_corrected": pa.DataFrameSchema(
            {
                "outcome": col(str),
                "model": col(str),
                "process": col(str),
                "method": col(str, isin=list(between.METHODS)),
                "part": col(str, isin=["within", "between", "contextual"]),
                "estimate": col(nullable=True),
                "se": col(nullable=True, ge=0),
                "df": col(gt=0),
                "t": col(nullable=True),
                "p": col(nullable=True, in_range=(0, 1)),
                "ci_low": col(nullable=True),
                "ci_high": col(nullable=True),
                "converged": col(bool),
                "singular": col(bool),
                # the latent model's between effect with a zero latent between variance
                "identified": col(bool),
                # the estimate the report leads with (analysis.between_estimate)
                "primary": col(bool),
            },
            strict=True,
            ordered=True,
        ),
        "aim3_simple_slopes": pa.DataFrameSchema(
            {
                "outcome": col(str),
                "process": col(str),
                "moderator": col(str),
                "level": col(str),
                "moderator_value": col(),
            }
            | inference
            | {"ci_low": col(), "ci_high": col(), "df_method": df_method},
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
        singular, model, df_method``: the summaries' ``reported`` rows (aim 1: within
        effects from the random-slope model, :func:`~process_outcome.analysis.aims.
        headline_coefficients`; every row with the therapist bound on its df), else the
        fit's own coefficients. ``model`` is ``random_intercept`` or ``random_slope``
        (the model the row comes from); ``singular`` is that model's flag.
    """
    rows = []
    for s in summaries:
        fit = s["fit"]
        default = {
            "singular": bool(fit["singular"]),
            "model": "random_slope" if fit.get("random_slope") else "random_intercept",
            "df_method": "satterthwaite",
        }
        for c in s.get("reported") or fit["coefficients"]:
            rows.append(
                {"outcome": s["outcome"], "process": s["process"]}
                | {k: c[k] for k in ["term", *CONTRAST_COLUMNS]}
                | {k: c.get(k, v) for k, v in default.items()}
            )
    table = pd.DataFrame(rows, columns=FIXED_COLUMNS)
    return table.astype({"singular": bool})


def slope_tests(summaries: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Aim 2 tests of therapist differences in the within-therapist slope."""
    rows = [
        {"outcome": s["outcome"], "process": s["process"]}
        | {k: s[k] for k in SLOPE_TEST_COLUMNS[2:]}
        for s in summaries
    ]
    return pd.DataFrame(rows, columns=SLOPE_TEST_COLUMNS)


def variance_components(
    summaries: Iterable[Mapping[str, Any]], aim: str, level: float = 0.95
) -> pd.DataFrame:
    """Variance components, SDs with profile-likelihood CIs and fit statistics per model.

    Parameters
    ----------
    summaries : iterable of mapping
        Aim 1 or aim 2 model summaries (``outcome``, ``process``, ``fit`` and, where
        computed, ``variance_ci``: :func:`process_outcome.mixed.profile.profile_confint`
        rows).
    aim : str
        ``"aim1"`` or ``"aim2"``.
    level : float
        Level written in ``ci_level`` where a model has CIs.

    Returns
    -------
    DataFrame
        Columns :data:`VARIANCE_COLUMNS`, unrounded. ``reml_deviance`` = -2 REML
        log-likelihood; ``aic`` = deviance + 2 x (fixed effects + variance parameters),
        as lme4's ``AIC`` of a REML fit (comparable only between models with the same
        fixed effects); CIs are empty where none were computed.
    """
    rows = []
    for s in summaries:
        fit = s["fit"]
        vc = fit["variance_components"]
        group, slope = fit["group"], fit.get("random_slope")
        v0 = vc[f"{group}|(Intercept)|"]
        v1 = vc.get(f"{group}|{slope}|") if slope else None
        c01 = vc.get(f"{group}|(Intercept)|{slope}") if slope else None
        n_theta = len(fit["theta"])
        row: dict[str, Any] = {
            "aim": aim,
            "outcome": s["outcome"],
            "process": s["process"],
            "n_obs": fit["n_obs"],
            "n_groups": fit["n_groups"],
            "intercept_var": v0,
            "slope_var": v1,
            "intercept_slope_cov": c01,
            "intercept_slope_cor": (
                c01 / np.sqrt(v0 * v1) if slope and v0 > 0 and v1 and v1 > 0 else None
            ),
            "residual_var": vc["Residual||"],
            "intercept_sd": np.sqrt(max(v0, 0.0)),
            "slope_sd": np.sqrt(max(v1, 0.0)) if slope else None,
            "residual_sd": fit["sigma"],
            "reml_loglik": fit["loglik"],
            "reml_deviance": -2.0 * fit["loglik"],
            "n_parameters": len(fit["coefficients"]) + n_theta + 1,
            "singular": bool(fit["singular"]),
            "converged": bool(fit["converged"]),
        }
        row["aic"] = row["reml_deviance"] + 2.0 * row["n_parameters"]
        cis = {r["parameter"]: r for r in s.get("variance_ci") or []}
        names = {"intercept_sd": f"sd_(Intercept)|{group}", "slope_sd": f"sd_{slope}|{group}"}
        for column, name in names.items():
            ci = cis.get(name)
            row[f"{column}_ci_low"] = ci["ci_low"] if ci else None
            row[f"{column}_ci_high"] = ci["ci_high"] if ci else None
        row["ci_level"] = level if cis else None
        rows.append(row)
    return pd.DataFrame(rows, columns=VARIANCE_COLUMNS)


def therapist_slopes(summaries: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Each therapist's empirical-Bayes slope (pseudonymous therapist codes).

    Every therapist of the models; the shared table leaves out those with fewer
    patients than the small-cell rule allows (:func:`small_cells_suppressed`).
    """
    rows = [
        {"outcome": s["outcome"], "process": s["process"]}
        | {k: r[k] for k in THERAPIST_SLOPE_COLUMNS[2:]}
        for s in summaries
        for r in s["therapist_slopes"]
    ]
    return pd.DataFrame(rows, columns=THERAPIST_SLOPE_COLUMNS)


def small_cells_suppressed(slopes: pd.DataFrame, min_patients: int) -> pd.DataFrame:
    """The therapist slopes that may be shared: therapists with ``min_patients`` or more.

    A therapist's empirical-Bayes slope with one patient is a function of that
    patient's data (``privacy.min_patients``; see config/README.md).

    Examples
    --------
    >>> t = pd.DataFrame({"therapist": ["T01", "T02"], "n_patients": [1, 4]})
    >>> small_cells_suppressed(t, 2)["therapist"].tolist()
    ['T02']
    """
    return slopes[slopes["n_patients"] >= min_patients].reset_index(drop=True)


def moderation(summaries: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Aim 3 cross-level interactions with raw and BH-FDR adjusted p values."""
    rows = [r for s in summaries for r in s["moderation"]]
    return pd.DataFrame(rows, columns=MODERATION_COLUMNS)


def simple_slopes(summaries: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Aim 3 simple slopes of the within-therapist process at moderator values."""
    rows = [r for s in summaries for r in s["simple_slopes"]]
    return pd.DataFrame(rows, columns=SIMPLE_SLOPE_COLUMNS)


def slope_correlations(slopes: pd.DataFrame, tests: pd.DataFrame) -> pd.DataFrame:
    """Correlation across therapists of their slopes on two processes, per outcome.

    The "strengths and weaknesses" question: do therapists who draw more benefit from
    one process also draw more from the other?

    Parameters
    ----------
    slopes : DataFrame
        :func:`therapist_slopes`.
    tests : DataFrame
        :func:`slope_tests` (its ``singular`` flags).

    Returns
    -------
    DataFrame
        Columns ``outcome, process_a, process_b, n, r, ci_low, ci_high, p, singular,
        not_computed``. Where either slope model is singular, ``ci_low``, ``ci_high``
        and ``p`` are empty and ``singular`` is true: a slope variance at zero makes
        every therapist's slope the same up to shrinkage noise, and an intercept-slope
        correlation at +/-1 makes the slopes a rescaling of the intercepts, so the
        Fisher-z interval and test (which assume one observed pair per therapist) would
        lend a precision the slopes do not have. The point estimate is kept, flagged.
        Where no correlation exists (fewer than three therapists in both models, or the
        slopes of a process do not vary across therapists, as when its slope variance
        is estimated at zero), ``r`` is empty too and ``not_computed`` says why.

    Examples
    --------
    >>> slopes = pd.DataFrame({"outcome": "o", "process": ["a"] * 3 + ["b"] * 3,
    ...                        "therapist": ["T1", "T2", "T3"] * 2,
    ...                        "slope": [0.1, 0.2, 0.4, 0.0, 0.0, 0.0]})
    >>> tests = pd.DataFrame({"outcome": "o", "process": ["a", "b"], "singular": [0, 1]})
    >>> slope_correlations(slopes, tests)[["n", "r", "not_computed"]].to_dict("records")
    [{'n': 3, 'r': None, 'not_computed': 'the b slopes do not vary across therapists'}]
    """
    from process_outcome.analysis.aims import slope_correlation

    flags = {
        (str(t.outcome), str(t.process)): str(t.singular).lower() in ("true", "1")
        for t in tests.itertuples(index=False)
    }
    rows = []
    for outcome, grp in slopes.groupby("outcome", sort=False):
        processes = list(dict.fromkeys(grp["process"]))
        for a, b in combinations(processes, 2):
            pair = {"outcome": outcome, "process_a": a, "process_b": b}
            singular = flags.get((str(outcome), a), False) or flags.get((str(outcome), b), False)
            slopes_a, slopes_b = grp[grp["process"] == a], grp[grp["process"] == b]
            reason = _no_correlation(slopes_a, slopes_b, a, b)
            if not reason:
                row = pair | slope_correlation(slopes_a, slopes_b).iloc[0].to_dict()
                if not np.isfinite(row["r"]):
                    reason = f"the {a} and {b} slopes have no finite correlation"
            if reason:
                n = len(set(slopes_a["therapist"]) & set(slopes_b["therapist"]))
                empty = dict.fromkeys(("r", "ci_low", "ci_high", "p"))
                rows.append(
                    pair | {"n": n} | empty | {"singular": singular, "not_computed": reason}
                )
                continue
            if singular:
                row |= {"ci_low": None, "ci_high": None, "p": None}
            rows.append(row | {"singular": singular, "not_computed": None})
    return pd.DataFrame(rows, columns=SLOPE_CORRELATION_COLUMNS).astype(
        {"r": object, "ci_low": object, "ci_high": object, "p": object}
    )


def _no_correlation(slopes_a: pd.DataFrame, slopes_b: pd.DataFrame, a: str, b: str) -> str | None:
    # Why two processes' slopes have no correlation (None if they have one).
    both = slopes_a[["therapist", "slope"]].merge(slopes_b[["therapist", "slope"]], on="therapist")
    if len(both) < 3:
        return f"{len(both)} therapist(s) in both slope models; a correlation needs 3"
    for process, values in ((a, both["slope_x"]), (b, both["slope_y"])):
        v = values.to_numpy(dtype=float)
        if not np.isfinite(v).all() or np.ptp(v) <= 1e-12 * max(1.0, float(np.abs(v).max())):
            return f"the {process} slopes do not vary across therapists"
    return None


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
    "aim2_slope_correlations": lambda s: slope_correlations(
        therapist_slopes(s["aim2"]), slope_tests(s["aim2"])
    ),
    "variance_components": lambda s: pd.concat(
        [variance_components(s["aim1"], "aim1"), variance_components(s["aim2"], "aim2")],
        ignore_index=True,
    ),
    "aim3_moderation": lambda s: moderation(s["aim3"]),
    "aim3_simple_slopes": lambda s: simple_slopes(s["aim3"]),
    "aim1_between_corrected": lambda s: between.between_table(s["aim1"]),
    "effect_sizes_r2": lambda s: between.r2_table([*s["aim1"], *s["aim2"]]),
    "standardized_effects": lambda s: between.standardized_table(s["aim1"]),
}


def build_tables(summaries: Summaries, min_patients: int = 2) -> dict[str, pd.DataFrame]:
    """Every table of :data:`BUILDERS`, keyed by its registered name.

    Parameters
    ----------
    summaries : mapping
        Model summaries (``results/models/<aim>/…json`` contents) keyed ``aim1``,
        ``aim2``, ``aim3``.
    min_patients : int
        The small-cell rule: per-therapist values resting on fewer patients are left out
        of the shared tables (``privacy.min_patients``). Aggregates over therapists (the
        slope correlations, counts) still use every therapist.

    Examples
    --------
    >>> sorted(build_tables({"aim1": [], "aim2": [], "aim3": []}))[:3]
    ['aim1_between_corrected', 'aim1_fixed_effects', 'aim2_fixed_effects']
    """
    tables = {name: build(summaries) for name, build in BUILDERS.items()}
    slopes = tables["aim2_therapist_slopes"]
    tables["aim2_therapist_slopes"] = small_cells_suppressed(slopes, min_patients)
    return tables
