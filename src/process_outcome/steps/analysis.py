"""Rule bodies of the analysis stage: descriptives, the aim 1-3 models, results
tables and figures."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import pandas as pd

from process_outcome.analysis.descriptives import (
    correlations,
    descriptives,
    icc1,
    repeated_measures_correlations,
)
from process_outcome.analysis.feasibility import restrict_caseload
from process_outcome.analysis.icc import icc_table
from process_outcome.config import measures_of
from process_outcome.data.analysis_table import covariate_terms
from process_outcome.data.pseudonyms import pseudonymize
from process_outcome.files import json_records, read_json, write_csv, write_json

log = logging.getLogger("process_outcome")

__all__ = [
    "aim1_model",
    "aim2_model",
    "aim3_model",
    "describe_sample",
    "make_figures",
    "results_tables",
]


def describe_sample(
    config: Mapping[str, Any],
    sessions: str,
    patients: str,
    therapists: str,
    out: Mapping[str, str],
) -> None:
    """Descriptive statistics, ICCs, patient-level and repeated-measures correlations,
    and the ICC(1)/ICC(2) of every process's therapist means.

    ``out`` holds the paths of the registered outputs ``descriptives``, ``correlations``,
    ``rm_correlations`` and ``icc_therapist_means``.
    """
    s = pd.read_csv(sessions, dtype={"patient": str, "therapist": str})
    pt = pd.read_csv(patients, dtype={"patient": str, "therapist": str})
    t = pd.read_csv(therapists, dtype={"therapist": str})
    outcomes = measures_of(config, "outcome")
    processes = measures_of(config, "process")
    desc = descriptives(s, pt, t, outcomes, processes, measures_of(config, "moderator"), icc1)
    write_csv(desc, out["descriptives"])
    cols = [f"baseline_{o.key}" for o in outcomes] + [f"post_{o.key}" for o in outcomes]
    cols += [f"{p.key}_mean" for p in processes]
    write_csv(correlations(pt, cols), out["correlations"])
    write_csv(repeated_measures_correlations(s, outcomes, processes), out["rm_correlations"])
    write_csv(icc_table(pt, [f"{p.key}_mean" for p in processes]), out["icc_therapist_means"])


def _coded_patients(patients: str, codes: str) -> pd.DataFrame:
    # Models see pseudonymous therapist codes only, so no model summary can leak an id.
    pt = pd.read_csv(patients, dtype={"patient": str, "therapist": str})
    return pseudonymize(pt, pd.read_csv(codes, dtype=str))


def _slope_sample(config: Mapping[str, Any], patients: str, codes: str) -> pd.DataFrame:
    minimum = config["analysis"]["min_caseload_slopes"]
    return restrict_caseload(_coded_patients(patients, codes), minimum)


def _outcome(config: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    return config["measures"]["outcomes"][key]


def _between_estimate(config: Mapping[str, Any]) -> str:
    """The primary between-therapist estimate of ``analysis.between_estimate``."""
    return str(config["analysis"].get("between_estimate", "observed_mean"))


def _ddf(config: Mapping[str, Any]) -> str:
    """The denominator-df method of ``inference.ddf`` (default Satterthwaite)."""
    return str((config.get("inference") or {}).get("ddf", "satterthwaite"))


def aim1_model(
    config: Mapping[str, Any], patients: str, codes: str, outcome: str, process: str, out_json: str
) -> None:
    """Fit the aim 1 model of one outcome and process (or all processes: ``joint``)."""
    from process_outcome.analysis import aims
    from process_outcome.analysis.between import aim1_effects

    pt = _coded_patients(patients, codes)
    covariates = covariate_terms(pt, measures_of(config, "covariate"))
    processes = list(config["measures"]["processes"]) if process == "joint" else [process]
    if process == "joint":
        fit = aims.fit_aim1_joint(pt, outcome, processes, covariates)
    else:
        fit = aims.fit_aim1(pt, outcome, process, covariates)
    # The headline within effects come from models that let their slope vary.
    slopes = aims.fit_within_slopes(pt, fit, processes)
    reported = aims.headline_coefficients(fit, slopes, pt, _ddf(config))
    # Contextual effects, the latent-mean (reliability-corrected) between effects and
    # the effect sizes need the data, so they are computed here, beside the fit.
    effects = aim1_effects(
        fit, pt, outcome, processes, covariates, primary=_between_estimate(config)
    )
    for problem in effects["latent"]["problems"]:
        log.warning("%s", problem)
    summary = {
        "aim": "aim1",
        "outcome": outcome,
        "process": process,
        "fit": fit.to_dict(),
        "reported": json_records(reported),
        "within_slopes": {p: f.to_dict() for p, f in slopes.items()},
    }
    write_json(summary | {"effects": effects}, out_json)
    log.info("aim 1 %s/%s: REML logLik %.4f (%s)", outcome, process, fit.loglik, fit.optimizer)


def aim2_model(
    config: Mapping[str, Any], patients: str, codes: str, outcome: str, process: str, out_json: str
) -> None:
    """Fit the aim 2 random-slope model and test the slope variance against aim 1."""
    from process_outcome.analysis import aims
    from process_outcome.analysis.between import aim2_effects
    from process_outcome.analysis.inference import reported_coefficients

    pt = _slope_sample(config, patients, codes)
    covariates = covariate_terms(pt, measures_of(config, "covariate"))
    # The nested random-intercept model is refitted here (milliseconds) rather than
    # read back: it must use the same patients, and it supplies starting values.
    nested = aims.fit_aim1(pt, outcome, process, covariates)
    higher_is = _outcome(config, outcome)["higher_is"]
    res = aims.fit_aim2(
        pt, outcome, process, nested, higher_is, covariates, profile_level=aims.PROFILE_LEVEL
    )
    # The result's own summary (problems included), as the library defines it.
    reported = reported_coefficients(res.fit, pt, _ddf(config)).assign(
        model="random_slope", singular=bool(res.fit.singular)
    )
    summary = {
        "aim": "aim2",
        **res.to_dict(),
        "reported": json_records(reported),
        "effects": aim2_effects(res.fit, pt),
    }
    write_json(summary, out_json)
    log.info(
        "aim 2 %s/%s: LR %.3f, p %.4f, slope SD %.4f",
        outcome,
        process,
        res.lr,
        res.p_mixture,
        res.slope_sd,
    )


def aim3_model(
    config: Mapping[str, Any], patients: str, codes: str, outcome: str, process: str, out_json: str
) -> None:
    """Fit the aim 3 moderation models of one outcome × process family."""
    from process_outcome.analysis import aims

    pt = _slope_sample(config, patients, codes)
    covariates = covariate_terms(pt, measures_of(config, "covariate"))
    mods = {k: v["type"] for k, v in config["measures"]["moderators"].items()}
    res = aims.fit_aim3(pt, outcome, process, mods, covariates=covariates, ddf=_ddf(config))
    summary = {"aim": "aim3", **res.to_dict()}
    write_json(summary, out_json)


def results_tables(
    config: Mapping[str, Any],
    aim1: list[str],
    aim2: list[str],
    aim3: list[str],
    truth: str | None,
    out: Mapping[str, str],
) -> None:
    """Gather the model summaries into the tidy results tables."""
    from process_outcome.analysis import tables

    summaries = {
        "aim1": [read_json(p) for p in aim1],
        "aim2": [read_json(p) for p in aim2],
        "aim3": [read_json(p) for p in aim3],
    }
    results = tables.build_tables(summaries, config["privacy"]["min_patients"])
    for name, table in results.items():
        write_csv(tables.check_contract(table, name), out[name])
    s1, s2 = summaries["aim1"], summaries["aim2"]
    fx1, tests = results["aim1_fixed_effects"], results["aim2_slope_tests"]
    mod = results["aim3_moderation"]
    problems = [s for s in s2 if s.get("nesting_violation")]
    for s in problems:
        log.warning("aim 2 %s/%s: REML logLik below its nested model", s["outcome"], s["process"])
    if truth:
        joint = {
            s["outcome"]: s["fit"]["variance_components"]["therapist|(Intercept)|"]
            for s in s1
            if s["process"] == "joint"
        }
        rec = tables.truth_recovery(
            pd.read_csv(truth, keep_default_na=False, na_values=[""]),
            fx1,
            tests,
            mod,
            joint,
            list(config["measures"]["processes"]),
        )
        write_csv(rec, out["truth_recovery"])


def make_figures(
    config: Mapping[str, Any],
    tables: Mapping[str, str],
    out: Mapping[str, str],
) -> None:
    """Draw the aim 1 forest plot, aim 2 caterpillar plot and aim 3 simple-slopes plot.

    ``tables`` holds the paths of the registered results tables the figures are drawn
    from; ``out`` the figures' files keyed ``<name>_<format>``.
    """
    from process_outcome.analysis import figures
    from process_outcome.config import measures

    labels = {m.key: m.label for m in measures(config)}
    read = {name: pd.read_csv(path) for name, path in tables.items()}
    drawn = {
        "figure1_aim1_forest": figures.forest_plot(read["aim1_fixed_effects"], labels),
        "figure2_aim2_caterpillar": figures.caterpillar_plot(
            read["aim2_therapist_slopes"],
            read["aim2_slope_tests"],
            labels,
            config["privacy"]["min_patients"],
        ),
        # The moderation table flags Figure 3's singular fits.
        "figure3_aim3_simple_slopes": figures.simple_slopes_plot(
            read["aim3_simple_slopes"], labels, read["aim3_moderation"]
        ),
    }
    for name, figure in drawn.items():
        figures.save(figure, out[f"{name}_pdf"], out[f"{name}_png"])
