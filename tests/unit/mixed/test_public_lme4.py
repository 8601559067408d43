"""The engine against lme4 1.1-31 / lmerTest 3.1-3 on public data nobody here generated.

Data, models and references come from ``tests/r/make_public_reference.R`` (lme4's
sleepstudy; mlmRev's Exam, Hsb82, Chem97, ScotsSec, Gcsemv, egsingle, star; nlme's
Orthodont, Oxboys, BodyWeight, Machines; datasets' Orange; MASS oats), with lme4's REML
optimum taken as the better of its default optimizer and bobyqa. Tolerances are those of
``tests/data/README.md``. The full 360-refit bootstrap sweep is
``benchmarks/bench_bootstrap.py``; a deterministic subset runs here.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import process_outcome
from process_outcome.data.public import (
    bootstrap_data,
    identifiable_terms,
    load_reference,
    model_data,
    models,
)
from process_outcome.mixed.fit import fit_at_theta, fit_mixed
from process_outcome.mixed.results import MixedFit
from tests.conftest import ROOT

DATA = ROOT / "tests" / "data" / "public"
REFERENCE = load_reference(DATA)
MODELS = models(REFERENCE)
LOGLIK_SHORTFALL = 1e-6  # no fit may end further below lme4's REML log-likelihood
BOOT_EVERY = 12  # resamples 0, 12, 24, ... of each bootstrapped model (5 of 60)


def _close(ours, ref, rel: float, abs_: float) -> np.ndarray:
    ours, ref = np.asarray(ours, dtype=float), np.asarray(ref, dtype=float)
    return np.abs(ours - ref) <= np.maximum(rel * np.abs(ref), abs_)


def _ref_theta(name: str) -> np.ndarray:
    return np.atleast_1d(np.asarray(MODELS[name].reference["theta"], dtype=float))


@pytest.fixture(scope="module")
def fits() -> dict[str, MixedFit]:
    out = {}
    for name, spec in MODELS.items():
        data = model_data(DATA, REFERENCE, spec)
        out[name] = fit_mixed(data, spec.response, spec.terms, spec.group, spec.slope)
    return out


@pytest.mark.parametrize("name", list(MODELS))
def test_reaches_lme4_optimum(fits, name):
    fit, ref = fits[name], MODELS[name].reference
    assert fit.loglik >= ref["logLik"] - LOGLIK_SHORTFALL
    assert fit.converged, fit.escalation
    assert fit.n_obs == ref["nobs"]
    assert fit.n_groups == ref["ngroups"]
    assert fit.singular == ref["singular"]


@pytest.mark.parametrize("name", list(MODELS))
def test_estimates_se_df(fits, name):
    fit, ref = fits[name], MODELS[name].reference
    fixed = ref["fixed"]
    terms = fixed["term"] if isinstance(fixed["term"], list) else [fixed["term"]]
    assert list(fit.terms) == terms
    rel, abs_ = (1e-3, 1e-5) if ref["singular"] else (1e-4, 1e-6)
    scale = np.maximum(np.abs(fixed["estimate"]), np.asarray(fixed["se"]))
    assert (np.abs(fit.coefficients["estimate"] - fixed["estimate"]) <= rel * scale + abs_).all()
    assert _close(fit.coefficients["se"], fixed["se"], rel, abs_).all()
    assert _close(
        fit.coefficients["df"], fixed["df"], 0.01 if not ref["singular"] else 0.05, 0
    ).all()
    # on the boundary the likelihood is flat along the variances; lme4 may stop short
    vc_rel = 0.05 if ref["singular"] else 1e-3
    for key, value in ref["vc"].items():
        assert _close(fit.variance_components[key], value, vc_rel, 1e-6 * ref["sigma"] ** 2), key


@pytest.mark.parametrize("name", list(MODELS))
def test_at_lme4_theta(name):
    """At lme4's theta every quantity is a function of theta: near-exact agreement."""
    spec = MODELS[name]
    ref = spec.reference
    data = model_data(DATA, REFERENCE, spec)
    fit = fit_at_theta(data, spec.response, spec.terms, spec.group, spec.slope, _ref_theta(name))
    assert fit.loglik == pytest.approx(ref["logLik"], abs=1e-8, rel=1e-13)
    fixed = ref["fixed"]
    assert _close(fit.coefficients["estimate"], fixed["estimate"], 1e-7, 1e-9).all()
    assert _close(fit.coefficients["se"], fixed["se"], 1e-7, 1e-9).all()
    assert _close(fit.coefficients["df"], fixed["df"], 5e-4, 0).all()
    assert fit.sigma == pytest.approx(ref["sigma"], rel=1e-7)


def test_orthodont_without_m05_is_not_left_on_the_boundary():
    # issue 10: the bounded optimizer stopped at theta = (0, -0.135, 0.019), logLik
    # -214.784, flagged singular; lme4 reaches -213.571, not singular
    spec = MODELS["orthodont_noM05_rs"]
    data = model_data(DATA, REFERENCE, spec)
    fit = fit_mixed(data, "distance", ["age"], "Subject", "age")
    assert fit.loglik >= -213.5708887 - LOGLIK_SHORTFALL
    assert not fit.singular and fit.converged
    summary = fit.to_dict()
    assert "escalation" in summary and "newton_decrement" in summary


def _bootstrap_cases() -> list[tuple[str, int]]:
    return [
        (name, k)
        for name, boot in REFERENCE["bootstrap"].items()
        for k in range(0, len(boot["resamples"]), BOOT_EVERY)
    ]


@pytest.mark.parametrize(("name", "k"), _bootstrap_cases())
def test_bootstrap_refits_reach_lme4(name, k):
    spec = MODELS[name]
    resample = REFERENCE["bootstrap"][name]["resamples"][k]
    data = bootstrap_data(model_data(DATA, REFERENCE, spec), spec.group, resample["groups"])
    terms = identifiable_terms(data, spec.terms)
    # the aim 3 call (no start) and the aim 2 call (start and floor from the nested fit)
    aim3 = fit_mixed(data, spec.response, terms, spec.group, spec.slope)
    nested = fit_mixed(data, spec.response, terms, spec.group)
    aim2 = fit_mixed(
        data, spec.response, terms, spec.group, spec.slope, start=nested, min_loglik=nested.loglik
    )
    for fit in (aim3, aim2):
        assert fit.loglik >= resample["logLik"] - LOGLIK_SHORTFALL
        assert fit.loglik >= nested.loglik - 1e-9
        assert fit.converged, fit.escalation


def test_escalation_is_recorded_for_a_boundary_solution(fits):
    # Orange, (age | Tree): five trees, a rank-one covariance (correlation -1)
    fit = fits["orange_rs"]
    assert fit.singular
    assert any("boundary" in reason for reason in fit.escalation)
    assert json.loads(json.dumps(fit.to_dict()))["escalation"] == list(fit.escalation)


def test_public_entry_point():
    assert process_outcome.fit_mixed is fit_mixed
    assert process_outcome.fit_at_theta is fit_at_theta
    spec = MODELS["sleepstudy_rs"]
    data = model_data(DATA, REFERENCE, spec)
    fit = process_outcome.fit_mixed(data, "Reaction", ["Days"], "Subject", slope="Days")
    assert list(fit.coefficients.columns[:6]) == ["term", "estimate", "se", "df", "t", "p"]
    for attribute in (
        "loglik",
        "theta",
        "sigma",
        "variance_components",
        "singular",
        "converged",
        "n_groups",
    ):
        assert hasattr(fit, attribute)
    nested = process_outcome.fit_mixed(data, "Reaction", ["Days"], "Subject")
    lr, p = process_outcome.mixture_lr_test(fit.loglik, nested.loglik)
    assert lr == pytest.approx(2 * (fit.loglik - nested.loglik))
    assert 0 <= p < 1e-6
