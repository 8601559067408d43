"""Robustness analyses: the main analysis refitted under named variants of its sample,
process window or covariates, reduced to the key estimates of aims 1–3.

A variant (one entry of the config's ``robustness`` list) changes the analysis in one of
these ways:

- ``process_before_outcome``: process ratings count only from sessions *before* the
  patient's final outcome assessment (the session of the last observed outcome score), so
  every process rating precedes the outcome it is said to predict;
- ``process_sessions``, ``min_caseload_slopes``, ``min_outcome_assessments``, ``covariates``:
  the main analysis's settings of the same names
  (:func:`process_outcome.config.variant_config`);
- ``completers_only``: only patients with an outcome assessment at the study's final
  session (the largest session number in the cleaned data);
- ``adjust_sessions``: every model adjusts for the patient's number of sessions
  (rows in the cleaned data), centred at the sample mean.

The key estimates are the aim 1 within- and between-therapist effects of each process
(separate models), the aim 2 slope SD with its mixture likelihood-ratio test, and the
aim 3 cross-level interactions with their FDR-adjusted p values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from process_outcome.analysis import aims, tables
from process_outcome.analysis.feasibility import check_feasibility, restrict_caseload
from process_outcome.analysis.inference import reported_coefficients
from process_outcome.config import measures_of, variant_config
from process_outcome.data.analysis_table import covariate_terms, patient_table
from process_outcome.data.cleaning import CleanData, clean
from process_outcome.errors import InputError
from process_outcome.files import json_records

__all__ = [
    "ESTIMATE_COLUMNS",
    "SESSIONS_TERM",
    "agreement",
    "fit_variant",
    "key_estimates",
    "variant_sample",
    "variant_sessions",
    "variant_table",
]

# Long format: one row per variant and key estimate; unrounded.
ESTIMATE_COLUMNS = [
    "variant",
    "outcome",
    "process",
    "aim",
    "parameter",
    "estimate",
    "se",
    "ci_low",
    "ci_high",
    "p",
    "p_fdr",
    "lr",
    "singular",
    "n_patients",
    "n_therapists",
    "problem",
    "agrees",
]

# The covariate column of ``adjust_sessions``; no measure key can end in "_n_sessions_c"
# because the config's keys are checked against derived names.
SESSIONS_TERM = "n_sessions_c"


def variant_sessions(
    sessions: pd.DataFrame,
    outcomes: Sequence[str],
    processes: Sequence[str],
    variant: Mapping[str, Any],
) -> pd.DataFrame:
    """Apply a variant's session-level changes to the cleaned session rows.

    Parameters
    ----------
    sessions : DataFrame
        Cleaned session rows (``patient``, ``session`` and a column per measure key).
    outcomes, processes : sequence of str
        Outcome and process keys.
    variant : mapping
        One entry of the config's ``robustness`` list.

    Returns
    -------
    DataFrame
        With ``process_before_outcome``, process ratings at or after the patient's final
        outcome assessment set to missing; with ``completers_only``, only the rows of
        patients assessed at the final session.

    Examples
    --------
    >>> s = pd.DataFrame({"patient": ["a", "a", "a", "b", "b"], "session": [1, 2, 3, 1, 2],
    ...                   "y": [5.0, None, 3.0, 4.0, 2.0], "p": [1.0, 2.0, 3.0, 4.0, 5.0]})
    >>> variant_sessions(s, ["y"], ["p"], {"process_before_outcome": True})["p"].tolist()
    [1.0, 2.0, nan, 4.0, nan]
    >>> variant_sessions(s, ["y"], ["p"], {"completers_only": True})["patient"].unique().tolist()
    ['a']
    """
    out = sessions.copy()
    assessed = out[list(outcomes)].notna().any(axis=1)
    last = out["session"].where(assessed).groupby(out["patient"]).transform("max")
    if variant.get("process_before_outcome"):
        late = ~(out["session"] < last)
        out.loc[late, list(processes)] = np.nan
    if variant.get("completers_only"):
        out = out[last == out["session"].max()]
    return out


def variant_table(
    data: CleanData, config: Mapping[str, Any], variant: Mapping[str, Any]
) -> pd.DataFrame:
    """The patient-level table of a variant from its cleaned data.

    ``config`` is the variant's config (:func:`process_outcome.config.variant_config`).
    With ``adjust_sessions`` the table has the column :data:`SESSIONS_TERM`.
    """
    outcomes = measures_of(config, "outcome")
    processes = measures_of(config, "process")
    sessions = variant_sessions(
        data.sessions, [o.key for o in outcomes], [p.key for p in processes], variant
    )
    table = patient_table(
        sessions,
        data.therapists,
        outcomes,
        processes,
        measures_of(config, "moderator"),
        measures_of(config, "covariate"),
        data.patients,
    )
    if variant.get("adjust_sessions"):
        n = sessions.groupby("patient").size().reindex(table["patient"]).to_numpy(float)
        table[SESSIONS_TERM] = n - n.mean()
    return table


def _summaries(table: pd.DataFrame, config: Mapping[str, Any], covariates: list[str]) -> dict:
    # The same models, in the same way, as the aim rules (steps.analysis).
    outcomes = measures_of(config, "outcome")
    processes = [p.key for p in measures_of(config, "process")]
    moderators = {m.key: m.type for m in measures_of(config, "moderator")}
    slopes = restrict_caseload(table, config["analysis"]["min_caseload_slopes"])
    ddf = str((config.get("inference") or {}).get("ddf", "satterthwaite"))
    out: dict[str, list] = {"aim1": [], "aim2": [], "aim3": []}
    for o in outcomes:
        for p in processes:
            fit = aims.fit_aim1(table, o.key, p, covariates)
            # the headline within effect from the random-slope model, as aim 1 reports it
            within = aims.fit_within_slopes(table, fit, [p])
            reported = aims.headline_coefficients(fit, within, table, ddf)
            out["aim1"].append(
                {"outcome": o.key, "process": p, "fit": fit.to_dict()}
                | {"reported": json_records(reported)}
            )
            nested = aims.fit_aim1(slopes, o.key, p, covariates)
            res2 = aims.fit_aim2(slopes, o.key, p, nested, o.higher_is, covariates)
            reported2 = reported_coefficients(res2.fit, slopes, ddf).assign(
                model="random_slope", singular=bool(res2.fit.singular)
            )
            out["aim2"].append(res2.to_dict() | {"reported": json_records(reported2)})
            if moderators:
                res3 = aims.fit_aim3(slopes, o.key, p, moderators, covariates=covariates, ddf=ddf)
                out["aim3"].append(res3.to_dict())
    return out


def variant_sample(
    input_tables: Mapping[str, pd.DataFrame],
    config: Mapping[str, Any],
    variant: Mapping[str, Any],
) -> tuple[pd.DataFrame, dict[str, Any], list[str]]:
    """A variant's patient table, config and covariate terms, checked that every model
    can be fitted to it.

    Raises
    ------
    InputError
        When the variant's cleaning fails (a covariate column missing, say) or its
        sample cannot be modelled.
    """
    vconfig = variant_config(config, variant)
    data = clean(
        input_tables["sessions"],
        input_tables["therapists"],
        vconfig,
        patients=input_tables.get("patients"),
    )
    table = variant_table(data, vconfig, variant)
    covariates = covariate_terms(table, measures_of(vconfig, "covariate"))
    if variant.get("adjust_sessions"):
        covariates.append(SESSIONS_TERM)
    check_feasibility(table, vconfig, covariates)
    return table, vconfig, covariates


def fit_variant(
    input_tables: Mapping[str, pd.DataFrame],
    config: Mapping[str, Any],
    variant: Mapping[str, Any],
) -> pd.DataFrame:
    """Clean the input tables under a variant, fit aims 1–3 and return the key estimates.

    Parameters
    ----------
    input_tables : mapping of str to DataFrame
        ``sessions``, ``therapists`` and optionally ``patients`` as read from the files.
    config : mapping
        The validated main config.
    variant : mapping
        One entry of its ``robustness`` list.

    Returns
    -------
    DataFrame
        :data:`ESTIMATE_COLUMNS`. A variant whose sample cannot be modelled (too few
        therapists left, say) gives one row whose ``problem`` says why, so the manuscript
        reports it instead of the workflow stopping.
    """
    try:
        table, vconfig, covariates = variant_sample(input_tables, config, variant)
        summaries = _summaries(table, vconfig, covariates)
    except InputError as exc:
        problem = pd.DataFrame([{"variant": variant["name"], "problem": str(exc)}])
        return problem.reindex(columns=ESTIMATE_COLUMNS)
    return key_estimates(
        tables.fixed_effects(summaries["aim1"]),
        tables.slope_tests(summaries["aim2"]),
        tables.moderation(summaries["aim3"]),
        variant["name"],
        (table["patient"].nunique(), table["therapist"].nunique()),
    )


def key_estimates(
    aim1: pd.DataFrame,
    aim2: pd.DataFrame,
    aim3: pd.DataFrame,
    variant: str,
    sample: tuple[int, int],
) -> pd.DataFrame:
    """The key estimates of one analysis from its results tables, in long format.

    Parameters
    ----------
    aim1, aim2, aim3 : DataFrame
        The tables ``aim1_fixed_effects``, ``aim2_slope_tests``, ``aim3_moderation``.
    variant : str
        Name of the analysis (``main`` for the main analysis).
    sample : (int, int)
        Patients and therapists of the analysis sample.

    Examples
    --------
    >>> a1 = pd.DataFrame({"outcome": ["y"] * 2, "process": ["p"] * 2,
    ...     "term": ["p_within", "p_between"], "estimate": [-0.3, -0.1], "se": [0.1, 0.2],
    ...     "ci_low": [-0.5, -0.5], "ci_high": [-0.1, 0.3], "p": [0.01, 0.6],
    ...     "singular": [False, False]})
    >>> a2 = pd.DataFrame({"outcome": ["y"], "process": ["p"], "slope_sd": [0.2], "lr": [3.1],
    ...     "p_mixture": [0.05], "singular": [False], "n_patients": [90], "n_therapists": [20]})
    >>> key_estimates(a1, a2, a1.iloc[:0], "main", (100, 25))[["parameter", "estimate"]]
      parameter  estimate
    0    within      -0.3
    1   between      -0.1
    2  slope_sd       0.2
    """
    rows = []
    patients, therapists = sample
    for r in aim1.itertuples(index=False):
        if r.process == "joint" or not r.term.startswith(f"{r.process}_"):
            continue
        part = r.term.removeprefix(f"{r.process}_")
        if part not in aims.PARTS:
            continue
        rows.append(
            {
                "outcome": r.outcome,
                "process": r.process,
                "aim": "aim1",
                "parameter": part,
                "estimate": r.estimate,
                "se": r.se,
                "ci_low": r.ci_low,
                "ci_high": r.ci_high,
                "p": r.p,
                "singular": r.singular,
                "n_patients": patients,
                "n_therapists": therapists,
            }
        )
    for r in aim2.itertuples(index=False):
        rows.append(
            {
                "outcome": r.outcome,
                "process": r.process,
                "aim": "aim2",
                "parameter": "slope_sd",
                "estimate": r.slope_sd,
                "p": r.p_mixture,
                "lr": r.lr,
                "singular": r.singular,
                "n_patients": r.n_patients,
                "n_therapists": r.n_therapists,
            }
        )
    # The moderation models are fitted to the random-slope sample of their outcome and
    # process, as the aim 2 model is.
    slope_sample = {
        (r.outcome, r.process): (r.n_patients, r.n_therapists) for r in aim2.itertuples()
    }
    for r in aim3.itertuples(index=False):
        n = slope_sample.get((r.outcome, r.process), (np.nan, np.nan))
        rows.append(
            {
                "outcome": r.outcome,
                "process": r.process,
                "aim": "aim3",
                "parameter": r.moderator,
                "estimate": r.estimate,
                "se": r.se,
                "ci_low": r.ci_low,
                "ci_high": r.ci_high,
                "p": r.p,
                "p_fdr": r.p_fdr,
                "singular": r.singular,
                "n_patients": n[0],
                "n_therapists": n[1],
            }
        )
    out = pd.DataFrame(rows).reindex(columns=ESTIMATE_COLUMNS)
    out["variant"] = variant
    return out


def agreement(table: pd.DataFrame, alpha: float = 0.05) -> pd.Series:
    """Whether each key estimate agrees with the main analysis.

    A variant's estimate agrees when it is significant exactly when the main analysis's
    is (aim 3: FDR-adjusted p; aim 2: the mixture LR test) and, where both are
    significant, has the same sign (the slope SD has none). A main-analysis row agrees
    when every variant's estimate of it does. Missing where a variant has no estimate.

    Parameters
    ----------
    table : DataFrame
        :data:`ESTIMATE_COLUMNS` rows of the main analysis (``variant == "main"``) and
        the variants.

    Examples
    --------
    >>> t = pd.DataFrame({"variant": ["main", "a", "b"], "outcome": "y", "process": "p",
    ...     "aim": "aim1", "parameter": "within", "estimate": [-0.3, -0.2, 0.1],
    ...     "p": [0.01, 0.03, 0.4], "p_fdr": float("nan")})
    >>> agreement(t).tolist()
    [False, True, False]
    """
    key = ["outcome", "process", "aim", "parameter"]
    p = table["p_fdr"].where(table["aim"] == "aim3", table["p"])
    significant = (p < alpha).where(p.notna())
    main = table["variant"] == "main"
    ref = table.loc[main, key].assign(
        main_sig=significant[main].to_numpy(), main_positive=(table.loc[main, "estimate"] > 0)
    )
    merged = table[key].merge(ref, on=key, how="left")
    merged.index = table.index
    same_sig = significant == merged["main_sig"]
    same_sign = ((table["estimate"] > 0) == merged["main_positive"]) | (table["aim"] == "aim2")
    agrees = (same_sig & (same_sign | ~merged["main_sig"].astype(bool))).astype(object)
    agrees[significant.isna()] = np.nan
    variants = table[~main].assign(agrees=agrees[~main])
    every = variants.groupby(key, sort=False)["agrees"].agg(
        lambda a: bool(a.dropna().all()) if a.notna().any() else np.nan
    )
    out = agrees.copy()
    main_keys = pd.MultiIndex.from_frame(table.loc[main, key])
    out[main] = every.reindex(main_keys).to_numpy() if len(every) else True
    return out
