"""The three aims' model families on the patient-level table.

Every function takes the patient-level table of ``shared/spec/analysis.md`` section 3:
one row per patient with ``therapist``, ``post_<o>``, ``baseline_<o>_c``,
``<p>_within``, ``<p>_between`` and the therapist moderators. Processes are rated so
that higher means more alliance / more positive expectation.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from process_outcome.analysis.inference import (
    between_df,
    bounded_contrast,
    reported_coefficients,
)
from process_outcome.files import json_float, json_records
from process_outcome.mixed.fit import fit_mixed
from process_outcome.mixed.profile import PROFILE_COLUMNS, parameter_names, profile_confint
from process_outcome.mixed.results import NESTING_TOL, SINGULAR_TOL, MixedFit
from process_outcome.mixed.satterthwaite import CONTRAST_COLUMNS
from process_outcome.mixed.testing import fdr_bh, mixture_lr_test

__all__ = [
    "ALPHA",
    "GROUP",
    "HEADLINE_COLUMNS",
    "MODERATION_COLUMNS",
    "MODERATOR_TYPES",
    "PARTS",
    "SIMPLE_SLOPE_COLUMNS",
    "THERAPIST_SLOPE_COLUMNS",
    "Aim2Result",
    "Aim3Result",
    "aim1_terms",
    "aim3_terms",
    "fit_aim1",
    "fit_aim1_joint",
    "fit_aim2",
    "fit_aim3",
    "fit_within_slopes",
    "headline_coefficients",
    "slope_at_zero",
    "slope_correlation",
]

GROUP = "therapist"
MODERATOR_TYPES = ("continuous", "binary")
MODERATION_COLUMNS = [
    "outcome",
    "process",
    "moderator",
    "estimate",
    "se",
    "df",
    "t",
    "p",
    "p_fdr",
    "ci_low",
    "ci_high",
    "singular",
    "df_method",
]
SIMPLE_SLOPE_COLUMNS = [
    "outcome",
    "process",
    "moderator",
    "level",
    "moderator_value",
    *CONTRAST_COLUMNS,
    "df_method",
]
# The reported fixed effects of an aim 1 model: which model each row comes from.
HEADLINE_COLUMNS = ["term", *CONTRAST_COLUMNS, "df_method", "model", "singular"]
ALPHA = 0.05  # level of the aim 3 tests after the FDR adjustment (simple slopes probed)
THERAPIST_SLOPE_COLUMNS = ["therapist", "slope", "se", "n_patients"]
PARTS = ("within", "between")
# A therapist with one patient has no within-therapist contrast (that patient's
# deviation from the therapist mean is 0): the empirical-Bayes slope then carries no
# information of its own, so counts of beneficial slopes use caseloads of 2 or more.
MIN_EB_PATIENTS = 2
PROFILE_LEVEL = 0.95  # profile-likelihood CIs of the SDs, the level of every other CI


@dataclass(frozen=True, eq=False)
class Aim2Result:
    """Random-slope model of one outcome and process, tested against aim 1.

    Attributes
    ----------
    outcome, process : str
        The model's outcome and process.
    fit : MixedFit
        ``post_o ~ baseline_o_c + p_within + p_between + (1 + p_within | therapist)``.
    nested_loglik : float
        REML log-likelihood of the random-intercept (aim 1) model.
    lr, p_mixture : float
        ``LR = max(0, 2 (l_slope - l_intercept))`` and its p value under the 50:50
        chi-square(1)/chi-square(2) mixture.
    slope_sd : float
        SD of the therapists' slopes of ``p_within``.
    slope_low, slope_high : float
        Fixed slope -/+ 1.96 slope SD (the 95% range of therapist slopes).
    share_beneficial : float
        Share of therapists whose empirical-Bayes slope points the beneficial way
        (negative when a higher outcome is worse, positive when it is better).
    share_implied : float
        Share of beneficial slopes implied by the fitted slope distribution: normal with
        the fixed slope as mean and ``slope_sd`` as SD (at SD 0: 1, 0 or 0.5 by the sign
        of the fixed slope).
    n_eb_therapists, n_eb_beneficial : int
        Therapists with at least :data:`MIN_EB_PATIENTS` patients, and how many of them
        have a beneficial empirical-Bayes slope.
    therapist_slopes : pandas.DataFrame
        ``therapist, slope, se, n_patients``: slope = fixed slope + predicted random
        slope (empirical Bayes); se = conditional SD of the predicted random slope
        (lme4 ``ranef(condVar = TRUE)``), which ignores the fixed slope's uncertainty.
    singular : bool
        The slope model is singular (see :class:`MixedFit`).
    nesting_violation : bool
        The slope model's REML log-likelihood stayed below the nested model's after
        every optimizer (it never should).
    n_patients, n_therapists : int
        Sample of the slope model.
    problems : tuple of str
        Human-readable problems found (nesting violation, non-convergence).
    variance_ci : pandas.DataFrame
        Profile-likelihood CIs of the therapist intercept SD and slope SD on the REML
        deviance (:func:`process_outcome.mixed.profile.profile_confint`); empty when
        not requested.
    """

    outcome: str
    process: str
    fit: MixedFit
    nested_loglik: float
    lr: float
    p_mixture: float
    slope_sd: float
    slope_low: float
    slope_high: float
    share_beneficial: float
    share_implied: float
    n_eb_therapists: int
    n_eb_beneficial: int
    therapist_slopes: pd.DataFrame
    singular: bool
    nesting_violation: bool
    n_patients: int
    n_therapists: int
    problems: tuple[str, ...] = ()
    variance_ci: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=PROFILE_COLUMNS))

    @property
    def slope_sd_ci(self) -> tuple[float, float]:
        """Profile-likelihood CI of the slope SD (NaN when not computed)."""
        name = f"sd_{self.process}_within|{GROUP}"
        row = self.variance_ci[self.variance_ci["parameter"] == name]
        if row.empty:
            return math.nan, math.nan
        return float(row["ci_low"].iloc[0]), float(row["ci_high"].iloc[0])

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable summary."""
        low, high = self.slope_sd_ci
        return {
            "outcome": self.outcome,
            "process": self.process,
            "fit": self.fit.to_dict(),
            "nested_loglik": json_float(self.nested_loglik),
            "lr": json_float(self.lr),
            "p_mixture": json_float(self.p_mixture),
            "slope_sd": json_float(self.slope_sd),
            "slope_low": json_float(self.slope_low),
            "slope_high": json_float(self.slope_high),
            "share_beneficial": json_float(self.share_beneficial),
            "share_implied": json_float(self.share_implied),
            "n_eb_therapists": int(self.n_eb_therapists),
            "n_eb_beneficial": int(self.n_eb_beneficial),
            "slope_sd_ci_low": json_float(low),
            "slope_sd_ci_high": json_float(high),
            "variance_ci": json_records(self.variance_ci),
            "singular": bool(self.singular),
            "nesting_violation": bool(self.nesting_violation),
            "n_patients": int(self.n_patients),
            "n_therapists": int(self.n_therapists),
            "problems": list(self.problems),
            "therapist_slopes": json_records(self.therapist_slopes),
        }


@dataclass(frozen=True, eq=False)
class Aim3Result:
    """Moderation models of one outcome × process family (one model per moderator).

    Attributes
    ----------
    outcome, process : str
        The family.
    moderators : tuple of str
        Moderator names in the order fitted.
    moderation : pandas.DataFrame
        One row per moderator with the ``p_within:m`` test: ``outcome, process,
        moderator, estimate, se, df, t, p, p_fdr, ci_low, ci_high, singular,
        df_method``; ``p_fdr`` is Benjamini-Hochberg across this family's moderators.
    simple_slopes : pandas.DataFrame
        Slope of ``p_within`` at moderator mean -/+ 1 SD (continuous; SD over
        therapists) or at 0 and 1 (binary): ``outcome, process, moderator, level,
        moderator_value, estimate, se, df, t, p, ci_low, ci_high, df_method``; only for
        interactions significant after the FDR adjustment in non-singular fits.
    fits : tuple of MixedFit
        The models, in the order of ``moderators``.
    """

    outcome: str
    process: str
    moderators: tuple[str, ...]
    moderation: pd.DataFrame
    simple_slopes: pd.DataFrame
    fits: tuple[MixedFit, ...]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable summary."""
        return {
            "outcome": self.outcome,
            "process": self.process,
            "fits": {m: f.to_dict() for m, f in zip(self.moderators, self.fits, strict=True)},
            "moderation": json_records(self.moderation),
            "simple_slopes": json_records(self.simple_slopes),
        }


# ---------------------------------------------------------------------------- aim 1


def aim1_terms(outcome: str, processes: Sequence[str], covariates: Sequence[str] = ()) -> list[str]:
    """Fixed terms of an aim 1 model: baseline, covariates, then each process's within
    and between."""
    return [
        f"baseline_{outcome}_c",
        *covariates,
        *(f"{p}_{part}" for p in processes for part in PARTS),
    ]


def fit_aim1(
    patients: pd.DataFrame, outcome: str, process: str, covariates: Sequence[str] = ()
) -> MixedFit:
    """Fit ``post_o ~ baseline_o_c + p_within + p_between + (1 | therapist)``.

    Parameters
    ----------
    patients : pandas.DataFrame
        Patient-level table.
    outcome, process : str
        Outcome and process keys (column stems).
    covariates : sequence of str
        Patient-level covariate columns entered as fixed effects after the baseline.

    Returns
    -------
    MixedFit
    """
    terms = aim1_terms(outcome, [process], covariates)
    return fit_mixed(patients, f"post_{outcome}", terms, GROUP)


def fit_aim1_joint(
    patients: pd.DataFrame,
    outcome: str,
    processes: Sequence[str],
    covariates: Sequence[str] = (),
) -> MixedFit:
    """Fit the aim 1 model with every process's within and between term, in the given order.

    Parameters
    ----------
    patients : pandas.DataFrame
        Patient-level table.
    outcome : str
        Outcome key.
    processes : sequence of str
        Process keys; terms are ``p1_within, p1_between, p2_within, p2_between, ...``.
    covariates : sequence of str
        Patient-level covariate columns entered after the baseline.

    Returns
    -------
    MixedFit
    """
    terms = aim1_terms(outcome, processes, covariates)
    return fit_mixed(patients, f"post_{outcome}", terms, GROUP)


def fit_within_slopes(
    patients: pd.DataFrame, nested: MixedFit, processes: Sequence[str]
) -> dict[str, MixedFit]:
    """The aim 1 model refitted with a random slope of each process's within term.

    One model per process: the fixed part of ``nested`` (an aim 1 model) with
    ``(1 + p_within | therapist)``. Its ``p_within`` row is the headline within-therapist
    effect (:func:`headline_coefficients`).

    Parameters
    ----------
    patients : pandas.DataFrame
        The rows ``nested`` was fitted to.
    nested : MixedFit
        The random-intercept aim 1 model (starting values and log-likelihood floor).
    processes : sequence of str
        Process keys whose within term gets a random slope, one model each.

    Returns
    -------
    dict of str to MixedFit
        Keyed by process.
    """
    if len(patients) <= 2 * patients[GROUP].nunique():
        # No more rows than random effects (an intercept and a slope per therapist): lme4
        # refuses the model, so the random-intercept rows stand (headline_coefficients).
        return {}
    return {
        p: fit_mixed(
            patients,
            nested.response,
            nested.terms,
            GROUP,
            slope=f"{p}_within",
            start=nested,
            min_loglik=nested.loglik,
        )
        for p in processes
    }


def slope_at_zero(fit: MixedFit, patients: pd.DataFrame) -> bool:
    """The random-slope variance is estimated at zero (its boundary).

    Scale-free: the slope SD times the SD of the slope's variable, relative to the
    residual SD, is below :data:`~process_outcome.mixed.results.SINGULAR_TOL` (a slope
    variance at zero is then a random-intercept model; a perfect intercept-slope
    correlation with a positive slope variance is not).
    """
    if fit.random_slope is None:
        return True
    variance = max(float(fit.variance_components[f"{GROUP}|{fit.random_slope}|"]), 0.0)
    spread = float(np.nanstd(patients[fit.random_slope].to_numpy(dtype=float)))
    return bool(math.sqrt(variance) * spread < SINGULAR_TOL * fit.sigma)


def headline_coefficients(
    nested: MixedFit,
    slopes: Mapping[str, MixedFit],
    patients: pd.DataFrame,
    ddf: str = "satterthwaite",
) -> pd.DataFrame:
    """The reported fixed effects of an aim 1 model, within effects from slope models.

    A within-therapist effect is tested in a model that lets its slope vary by
    therapist: when slopes do vary, the random-intercept model's SE of the average
    slope is too small (its CI covered 89% in simulation at 42 therapists x 5 patients
    with a slope SD of .30) and the random-slope model's is right, and when they do not
    the two models agree (Heisig & Schaeffer, 2019; Barr et al., 2013). Where the slope
    model's slope variance is at zero (:func:`slope_at_zero`) it *is* the
    random-intercept model in the limit, whose row is then reported (its Satterthwaite
    df are the regular ones). Every other term comes from the random-intercept model
    (aim 1's model). The therapist bound of
    :mod:`~process_outcome.analysis.inference` applies to all rows.

    Parameters
    ----------
    nested : MixedFit
        The random-intercept aim 1 model.
    slopes : mapping of str to MixedFit
        :func:`fit_within_slopes`, by process (processes left out keep the
        random-intercept row).
    patients : pandas.DataFrame
        The rows the models were fitted to.
    ddf : {"satterthwaite", "kenward_roger"}
        Denominator-df method.

    Returns
    -------
    pandas.DataFrame
        :data:`HEADLINE_COLUMNS`: ``model`` is ``random_slope`` or
        ``random_intercept``; ``singular`` is that model's flag.
    """
    table = reported_coefficients(nested, patients, ddf).assign(
        model="random_intercept", singular=bool(nested.singular)
    )
    for process, fit in slopes.items():
        if slope_at_zero(fit, patients):
            continue
        term = f"{process}_within"
        row = reported_coefficients(fit, patients, ddf).set_index("term").loc[term]
        at = table.index[table["term"] == term][0]
        for key in (*CONTRAST_COLUMNS, "df_method"):
            table.loc[at, key] = row[key]
        table.loc[at, ["model", "singular"]] = ["random_slope", bool(fit.singular)]
    return table.reindex(columns=HEADLINE_COLUMNS)


# ---------------------------------------------------------------------------- aim 2


def fit_aim2(
    patients: pd.DataFrame,
    outcome: str,
    process: str,
    nested: MixedFit,
    higher_is: str,
    covariates: Sequence[str] = (),
    profile_level: float | None = None,
) -> Aim2Result:
    """Fit the random-slope model and test the slope variance against the aim 1 model.

    Parameters
    ----------
    patients : pandas.DataFrame
        Patient-level table.
    outcome, process : str
        Outcome and process keys.
    nested : MixedFit
        The aim 1 model of the same outcome and process (same rows and fixed terms);
        supplies starting values and the log-likelihood the slope model must reach.
    higher_is : {"worse", "better"}
        Direction of the outcome; decides which slope sign is beneficial.
    covariates : sequence of str
        Covariate columns, as in the nested model.
    profile_level : float, optional
        Confidence level of profile-likelihood CIs of the therapist SDs (REML
        deviance); None (default) skips them (a few dozen refits of the nuisance
        parameters per bound).

    Returns
    -------
    Aim2Result
        Therapist slopes are empirical-Bayes (fixed + predicted random slope) with the
        conditional SD of the predicted random slope as their se (lme4 condVar).

    Raises
    ------
    ValueError
        If ``nested`` is not the aim 1 model of this outcome and process on these rows,
        or ``higher_is`` is not "worse" or "better".

    Warns
    -----
    RuntimeWarning
        If the slope model's REML log-likelihood stays below ``nested.loglik`` after
        every optimizer; the result then has ``nesting_violation=True``.
    """
    if higher_is not in ("worse", "better"):
        raise ValueError(f"higher_is must be 'worse' or 'better', not {higher_is!r}")
    slope = f"{process}_within"
    terms = aim1_terms(outcome, [process], covariates)
    _check_nested(nested, f"post_{outcome}", terms)
    fit = fit_mixed(
        patients,
        f"post_{outcome}",
        terms,
        GROUP,
        random_slope=slope,
        start=nested,
        min_loglik=nested.loglik,
    )
    if fit.n_obs != nested.n_obs:
        raise ValueError(
            f"nested model has {nested.n_obs} rows, the slope model {fit.n_obs}: "
            "they must be fitted to the same patients"
        )
    problems = []
    violation = fit.loglik < nested.loglik - NESTING_TOL
    if violation:
        problems.append(
            f"aim 2 {outcome}/{process}: REML logLik {fit.loglik:.6f} is below the nested "
            f"random-intercept model's {nested.loglik:.6f} after optimizers "
            f"{[a.optimizer for a in fit.attempts]}"
        )
    if not fit.converged:
        problems.append(f"aim 2 {outcome}/{process}: the REML optimum was not confirmed")
    for message in problems:
        warnings.warn(message, RuntimeWarning, stacklevel=2)
    lr, p = mixture_lr_test(fit.loglik, nested.loglik)
    fixed = float(fit.coefficients.set_index("term").loc[slope, "estimate"])
    slope_sd = math.sqrt(max(fit.variance_components[f"{GROUP}|{slope}|"], 0.0))
    slopes = _therapist_slopes(fit, fixed)
    beneficial = slopes["slope"] < 0 if higher_is == "worse" else slopes["slope"] > 0
    informative = slopes["n_patients"] >= MIN_EB_PATIENTS
    variance_ci = pd.DataFrame(columns=PROFILE_COLUMNS)
    if profile_level is not None:
        # the two therapist SDs; sigma's CI would add a third of the time for a number
        # the report does not print
        sds = [n for n in parameter_names(GROUP, slope) if n.startswith("sd_")]
        try:
            variance_ci = profile_confint(patients, fit, level=profile_level, parameters=sds)
        except (RuntimeError, ValueError, ArithmeticError, np.linalg.LinAlgError) as err:
            # reported (JSON 'problems', log), not fatal: the CI is then left empty
            problems.append(f"aim 2 {outcome}/{process} profile failed: {err}")
            warnings.warn(problems[-1], RuntimeWarning, stacklevel=2)
        for text in variance_ci["problem"]:
            if text:
                problems.append(f"aim 2 {outcome}/{process} profile: {text}")
                warnings.warn(problems[-1], RuntimeWarning, stacklevel=2)
    return Aim2Result(
        outcome=outcome,
        process=process,
        fit=fit,
        nested_loglik=float(nested.loglik),
        lr=lr,
        p_mixture=p,
        slope_sd=slope_sd,
        slope_low=fixed - 1.96 * slope_sd,
        slope_high=fixed + 1.96 * slope_sd,
        share_beneficial=float(beneficial.mean()),
        share_implied=implied_share(fixed, slope_sd, higher_is),
        n_eb_therapists=int(informative.sum()),
        n_eb_beneficial=int((beneficial & informative).sum()),
        therapist_slopes=slopes,
        singular=fit.singular,
        nesting_violation=bool(violation),
        n_patients=fit.n_obs,
        n_therapists=fit.n_groups,
        problems=tuple(problems),
        variance_ci=variance_ci,
    )


def implied_share(fixed: float, slope_sd: float, higher_is: str) -> float:
    """Share of beneficial slopes under the fitted normal slope distribution.

    Parameters
    ----------
    fixed : float
        The average (fixed) slope.
    slope_sd : float
        SD of the therapists' slopes.
    higher_is : {"worse", "better"}
        Direction of the outcome: a beneficial slope is negative when higher is worse.

    Returns
    -------
    float
        ``P(slope < 0)`` (or ``> 0``) for ``slope ~ N(fixed, slope_sd^2)``.

    Examples
    --------
    >>> round(implied_share(-0.61, 0.47, "worse"), 3)
    0.903
    """
    if higher_is not in ("worse", "better"):
        raise ValueError(f"higher_is must be 'worse' or 'better', not {higher_is!r}")
    sign = -1.0 if higher_is == "worse" else 1.0
    if slope_sd <= 0:
        return 1.0 if sign * fixed > 0 else 0.0 if sign * fixed < 0 else 0.5
    return float(stats.norm.cdf(sign * fixed / slope_sd))


def _check_nested(nested: MixedFit, response: str, terms: Sequence[str]) -> None:
    expected = ("(Intercept)", *terms)
    if nested.response != response or tuple(nested.terms) != expected:
        raise ValueError(
            f"nested model {nested.response} ~ {' + '.join(nested.terms)} is not the aim 1 "
            f"model {response} ~ {' + '.join(expected)}"
        )
    if nested.random_slope is not None:
        raise ValueError("the nested model must be the random-intercept (aim 1) model")


def _therapist_slopes(fit: MixedFit, fixed: float) -> pd.DataFrame:
    re = fit.random_effects
    return pd.DataFrame(
        {
            "therapist": re["group"].to_numpy(),
            "slope": fixed + re["slope"].to_numpy(),
            "se": re["slope_cond_sd"].to_numpy(),
            "n_patients": re["n_obs"].to_numpy(),
        },
        columns=THERAPIST_SLOPE_COLUMNS,
    )


def slope_correlation(slopes_a: pd.DataFrame, slopes_b: pd.DataFrame) -> pd.DataFrame:
    """Pearson correlation across therapists of two processes' empirical-Bayes slopes.

    Parameters
    ----------
    slopes_a, slopes_b : pandas.DataFrame
        ``therapist_slopes`` tables (columns ``therapist`` and ``slope``); therapists
        in both are used.

    Returns
    -------
    pandas.DataFrame
        One row: ``r, ci_low, ci_high, p, n`` (pingouin ``corr``; 95% CI by Fisher z).
    """
    import pingouin as pg

    both = slopes_a[["therapist", "slope"]].merge(
        slopes_b[["therapist", "slope"]], on="therapist", suffixes=("_a", "_b")
    )
    if len(both) < 3:
        raise ValueError(f"{len(both)} therapists in common; a correlation needs at least 3")
    res = pg.corr(both["slope_a"], both["slope_b"], method="pearson")
    r = float(res["r"].iloc[0])
    n = int(res["n"].iloc[0])
    p_col = "p_val" if "p_val" in res.columns else "p-val"
    # pingouin rounds the CI column for display; recompute it unrounded the same way
    if abs(r) < 1:
        ci = pg.compute_esci(stat=r, nx=n, ny=n, eftype="r", decimals=15)
    else:
        ci = np.array([r, r])
    return pd.DataFrame(
        [
            {
                "r": r,
                "ci_low": float(ci[0]),
                "ci_high": float(ci[1]),
                "p": float(res[p_col].iloc[0]),
                "n": n,
            }
        ]
    )


# ---------------------------------------------------------------------------- aim 3


def aim3_terms(
    outcome: str, process: str, moderator: str, covariates: Sequence[str] = ()
) -> list[str]:
    """Fixed terms in lme4's order for ``baseline + covariates + p_within * m + p_between``."""
    within = f"{process}_within"
    return [
        f"baseline_{outcome}_c",
        *covariates,
        within,
        moderator,
        f"{process}_between",
        f"{within}:{moderator}",
    ]


def fit_aim3(
    patients: pd.DataFrame,
    outcome: str,
    process: str,
    moderators: Mapping[str, str],
    start: MixedFit | None = None,
    covariates: Sequence[str] = (),
    ddf: str = "satterthwaite",
    probe: str = "significant",
) -> Aim3Result:
    """Fit one cross-level moderation model per moderator and collect the tests.

    Model: ``post_o ~ baseline_o_c + p_within * m + p_between + (1 + p_within | therapist)``.

    Parameters
    ----------
    patients : pandas.DataFrame
        Patient-level table (continuous moderators already centred over therapists).
    outcome, process : str
        Outcome and process keys.
    moderators : mapping of str to {"continuous", "binary"}
        Moderator columns and their type; binary moderators are coded 0/1.
    start : MixedFit, optional
        Starting values (e.g. the aim 2 fit of this outcome and process).
    covariates : sequence of str
        Patient-level covariate columns entered after the baseline.
    ddf : {"satterthwaite", "kenward_roger"}
        Denominator-df method (config ``inference.ddf``).
    probe : {"significant", "all"}
        Which interactions get simple slopes: those significant after the FDR
        adjustment in non-singular fits (the report's rule), or all (checks).

    Returns
    -------
    Aim3Result
        Interaction tests (raw and BH-FDR p across this family's moderators) with df at
        most the therapists' ``J - q - 1`` (:mod:`~process_outcome.analysis.inference`;
        ``df_method`` says where that bound applied) and ``singular`` flags; simple
        slopes of ``p_within`` at mean -/+ 1 SD (SD over therapists, each counted once)
        or at each binary level, only for interactions significant after the FDR
        adjustment (``p_fdr < ALPHA``) in a fit that is not singular: a probe of an
        interaction that is not a finding would read as one.
    """
    for name, kind in moderators.items():
        if kind not in MODERATOR_TYPES:
            raise ValueError(
                f"moderator {name!r}: type must be one of {MODERATOR_TYPES}, not {kind!r}"
            )
    if probe not in ("significant", "all"):
        raise ValueError(f"probe must be 'significant' or 'all', not {probe!r}")
    within = f"{process}_within"
    fits: list[MixedFit] = []
    rows: list[dict[str, Any]] = []
    family = {"outcome": outcome, "process": process}
    for moderator in moderators:
        terms = aim3_terms(outcome, process, moderator, covariates)
        fit = fit_mixed(patients, f"post_{outcome}", terms, GROUP, within, start=start)
        fits.append(fit)
        reported = reported_coefficients(fit, patients, ddf).set_index("term")
        test = reported.loc[f"{within}:{moderator}"]
        rows.append(
            {**family, "moderator": moderator}
            | {k: float(test[k]) for k in CONTRAST_COLUMNS}
            | {"singular": bool(fit.singular), "df_method": str(test["df_method"])}
        )
    moderation = pd.DataFrame(rows, columns=[c for c in MODERATION_COLUMNS if c != "p_fdr"])
    moderation["p_fdr"] = fdr_bh(moderation["p"].to_numpy()) if len(rows) else []
    simple: list[dict[str, Any]] = []
    for (moderator, kind), fit, row in zip(
        moderators.items(), fits, moderation.itertuples(index=False), strict=True
    ):
        if probe == "significant" and (fit.singular or not row.p_fdr < ALPHA):
            continue
        terms = aim3_terms(outcome, process, moderator, covariates)
        values = _therapist_values(patients, fit, terms, moderator)
        bound = between_df(patients, fit)
        for level, value in _moderator_levels(values, kind, moderator):
            res = bounded_contrast(fit, {within: 1.0, f"{within}:{moderator}": value}, bound, ddf)
            simple.append(
                {**family, "moderator": moderator, "level": level, "moderator_value": value} | res
            )
    return Aim3Result(
        outcome=outcome,
        process=process,
        moderators=tuple(moderators),
        moderation=moderation.reindex(columns=MODERATION_COLUMNS),
        simple_slopes=pd.DataFrame(simple, columns=SIMPLE_SLOPE_COLUMNS),
        fits=tuple(fits),
    )


def _therapist_values(
    patients: pd.DataFrame, fit: MixedFit, terms: Sequence[str], moderator: str
) -> pd.Series:
    """The moderator once per therapist of the model's sample."""
    columns = list(dict.fromkeys([fit.response, GROUP, *(p for t in terms for p in t.split(":"))]))
    used = patients.loc[patients[columns].notna().all(axis=1), [GROUP, moderator]]
    per_therapist = used.groupby(GROUP)[moderator]
    varying = per_therapist.nunique()
    if (varying > 1).any():
        raise ValueError(
            f"moderator {moderator!r} varies within therapists "
            f"{list(varying.index[varying > 1])}; it must be a therapist characteristic"
        )
    return per_therapist.first()


def _moderator_levels(values: pd.Series, kind: str, moderator: str) -> list[tuple[str, float]]:
    """Labels and values at which simple slopes are evaluated."""
    if kind == "binary":
        observed = set(np.unique(values.to_numpy(dtype=float)))
        if not observed <= {0.0, 1.0}:
            raise ValueError(
                f"binary moderator {moderator!r} must be coded 0/1, found {sorted(observed)}"
            )
        return [("0", 0.0), ("1", 1.0)]
    mean = float(values.mean())
    sd = float(values.std(ddof=1))
    return [("-1 SD", mean - sd), ("mean", mean), ("+1 SD", mean + sd)]
