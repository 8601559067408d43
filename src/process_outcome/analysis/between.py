"""Aim 1's between-therapist effects beside their reliability-corrected version, the
contextual effects and the effect sizes of the aim 1 and 2 models, as model summaries
(JSON) and as tidy results tables.

Per aim 1 model (one process, or all of them jointly): the observed-mean within and
between coefficients and the contextual effect ``between - within`` (a Satterthwaite t
test of the contrast from the fit's fixed-effect covariance); the same three from the
multilevel latent covariate model (:mod:`~process_outcome.analysis.latent_means`);
Rights & Sterba's R² decomposition and the conditional ICC
(:mod:`~process_outcome.analysis.effect_sizes`); standardized effects. Per aim 2 model:
the R² decomposition (with its random-slope component ``v``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from process_outcome.analysis.effect_sizes import (
    R2_COLUMNS,
    STANDARDIZED_COLUMNS,
    r2_decomposition,
    standardized_effects,
)
from process_outcome.analysis.latent_means import fit_latent_covariate
from process_outcome.files import json_float, json_records
from process_outcome.mixed.results import MixedFit
from process_outcome.mixed.satterthwaite import CONTRAST_COLUMNS, contrast

__all__ = [
    "BETWEEN_COLUMNS",
    "METHODS",
    "PRIMARY_DEFAULT",
    "R2_TABLE_COLUMNS",
    "STANDARDIZED_TABLE_COLUMNS",
    "aim1_effects",
    "aim2_effects",
    "between_table",
    "r2_table",
    "standardized_table",
]

BETWEEN_COLUMNS = [
    "outcome",
    "model",
    "process",
    "method",
    "part",
    *CONTRAST_COLUMNS,
    "converged",
    "singular",
    "identified",
    "primary",
]
R2_TABLE_COLUMNS = ["aim", "outcome", "model", *R2_COLUMNS, "singular"]
STANDARDIZED_TABLE_COLUMNS = ["outcome", "model", *STANDARDIZED_COLUMNS]
METHODS = ("observed_mean", "latent_mean")
# The default primary between-therapist estimate. At the designs of this field (about 40
# therapists with about 5 patients, ICC(1) of the processes below .10) the latent
# covariate model removes the observed-mean estimate's bias towards the within effect
# but pays with a much larger variance, and its latent between variance is often
# estimated at zero (the effect not identified); Lüdtke et al. (2011) show that its
# mean squared error is then larger than the observed-mean estimator's, so the observed
# mean is primary by default and the latent mean its reliability-corrected sensitivity
# check. benchmarks/bench_latent_means.py, 400 studies of 42 therapists (caseloads 1-9,
# ICC(2) .29): RMSE of the between effect 0.439 (observed mean; bias -0.41), 0.544
# (latent, ML; 9.5% of fits unidentified) and 0.464 (latent with a boundary-avoiding
# prior, ``fit_latent_covariate(regularized=True)``: unbiased, always identified) -- no
# small-sample latent estimator tried beats the observed mean on RMSE at this design.
PRIMARY_DEFAULT = "observed_mean"
PARTS = ("within", "between", "contextual")


def aim1_effects(
    fit: MixedFit,
    patients: pd.DataFrame,
    outcome: str,
    processes: Sequence[str],
    covariates: Sequence[str] = (),
    primary: str = PRIMARY_DEFAULT,
) -> dict[str, Any]:
    """Contextual effects, latent-mean correction and effect sizes of one aim 1 model.

    Parameters
    ----------
    fit : MixedFit
        The aim 1 model (:func:`~process_outcome.analysis.aims.fit_aim1` or ``_joint``).
    patients : pandas.DataFrame
        The patient-level table it was fitted to (with ``<p>_mean`` columns).
    outcome : str
        Outcome key.
    processes : sequence of str
        The model's process keys.
    covariates : sequence of str
        Covariate columns of the model besides the baseline.
    primary : {"observed_mean", "latent_mean"}
        Which between estimate the report leads with (config
        ``analysis.between_estimate``; :data:`PRIMARY_DEFAULT`).

    Returns
    -------
    dict
        JSON-ready: ``primary``, ``observed`` (per process: within, between, contextual rows with
        Satterthwaite df), ``latent`` (:meth:`LatentCovariateFit.to_dict`), ``r2``
        (:func:`r2_decomposition`) and ``standardized`` (rows of
        :func:`standardized_effects`).
    """
    observed = []
    for p in processes:
        within, between = f"{p}_within", f"{p}_between"
        coef = fit.coefficients.set_index("term")
        rows = {
            "within": coef.loc[within, CONTRAST_COLUMNS],
            "between": coef.loc[between, CONTRAST_COLUMNS],
            "contextual": contrast(fit, {between: 1.0, within: -1.0}).iloc[0],
        }
        for part, row in rows.items():
            stats = {k: float(row[k]) for k in CONTRAST_COLUMNS}
            observed.append({"process": p, "part": part} | stats)
    try:
        latent = fit_latent_covariate(
            patients,
            f"post_{outcome}",
            [f"{p}_mean" for p in processes],
            fit.group,
            [f"baseline_{outcome}_c", *covariates],
        ).to_dict()
    except (ValueError, np.linalg.LinAlgError) as exc:
        # Reported, not hidden: the tables then hold no latent rows for this model.
        latent = {
            "converged": False,
            "boundary": False,
            "effects": [],
            "problems": [f"not fitted: {exc}"],
        }
    if primary not in METHODS:
        raise ValueError(f"analysis.between_estimate must be one of {METHODS}, not {primary!r}")
    terms = [f"{p}_{part}" for p in processes for part in ("within", "between")]
    return {
        "primary": primary,
        "observed": observed,
        "latent": latent,
        "r2": {k: json_float(v) for k, v in r2_decomposition(fit, patients).items()},
        "standardized": json_records(standardized_effects(fit, patients, terms)),
    }


def aim2_effects(fit: MixedFit, patients: pd.DataFrame) -> dict[str, Any]:
    """The R² decomposition of an aim 2 (random-slope) model, JSON-ready."""
    return {"r2": {k: json_float(v) for k, v in r2_decomposition(fit, patients).items()}}


def between_table(summaries: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Observed- and latent-mean within, between and contextual effects of aim 1.

    Parameters
    ----------
    summaries : iterable of mapping
        Aim 1 model summaries with ``effects`` (:func:`aim1_effects`).

    Returns
    -------
    pandas.DataFrame
        :data:`BETWEEN_COLUMNS`; ``model`` is the process or ``joint``, ``process`` the
        process key; ``method`` ``observed_mean`` (Satterthwaite t test of the aim 1
        model) or ``latent_mean`` (Wald z test of the latent covariate model; ``df`` is
        infinite, ``t`` is z). ``singular``: the aim 1 fit is singular (observed means)
        or a process's latent between-therapist variance is zero (latent means).
        ``identified``: false where the latent model was fitted with a latent
        between-therapist variance at zero or did not converge, so that its between and
        contextual effects are not identified (its rows are kept, flagged, not read as
        findings). ``primary``: the method the report leads with
        (``analysis.between_estimate``).
    """
    rows = []
    for s in summaries:
        effects = s["effects"]
        primary = effects.get("primary", PRIMARY_DEFAULT)
        key = {"outcome": s["outcome"], "model": s["process"]}
        for r in effects["observed"]:
            fit = s["fit"]
            flags = {"converged": fit["converged"], "singular": fit["singular"]}
            rows.append(
                key
                | r
                | {"method": "observed_mean"}
                | flags
                | {"identified": True, "primary": primary == "observed_mean"}
            )
        latent = effects["latent"]
        converged, boundary = bool(latent["converged"]), bool(latent["boundary"])
        for r in latent["effects"]:
            process = r["process"].removesuffix("_mean")
            rows.append(
                key
                | {"process": process, "part": r["part"], "method": "latent_mean"}
                | {k: r[k] for k in ("estimate", "se", "p", "ci_low", "ci_high")}
                | {"df": float("inf"), "t": r["z"], "converged": latent["converged"]}
                | {"singular": latent["boundary"]}
                | {"identified": converged and (not boundary or r["part"] == "within")}
                | {"primary": primary == "latent_mean"}
            )
    table = pd.DataFrame(rows, columns=BETWEEN_COLUMNS)
    return table.astype({c: float for c in CONTRAST_COLUMNS})


def r2_table(summaries: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """R² decomposition and conditional ICC of every aim 1 and aim 2 model.

    Returns
    -------
    pandas.DataFrame
        :data:`R2_TABLE_COLUMNS`, one row per model.
    """
    rows = [
        {"aim": s["aim"], "outcome": s["outcome"], "model": s["process"]}
        | s["effects"]["r2"]
        | {"singular": s["fit"]["singular"]}
        for s in summaries
    ]
    return pd.DataFrame(rows, columns=R2_TABLE_COLUMNS)


def standardized_table(summaries: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Standardized within- and between-therapist effects of every aim 1 model.

    Returns
    -------
    pandas.DataFrame
        :data:`STANDARDIZED_TABLE_COLUMNS`.
    """
    rows = [
        {"outcome": s["outcome"], "model": s["process"]} | r
        for s in summaries
        for r in s["effects"]["standardized"]
    ]
    return pd.DataFrame(rows, columns=STANDARDIZED_TABLE_COLUMNS)
