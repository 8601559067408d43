"""A slope SD's profile interval and the mixture LR test of that slope never disagree.

Issue 19: with lme4's chi-square(1) cutoff at an SD of 0 the interval excluded 0 in 10.3%
of simulated studies with no slope variance, and in 33 of 408 profiled fits it excluded 0
beside a mixture test with p >= .05. The default rule (``boundary="mixture"``,
:mod:`process_outcome.mixed.profile`) inverts the same mixture test at 0, so on every fit
here (every random-slope model of the public fixtures but ``star_rs``, whose profile alone
takes 10 s, all 20 random-slope models of study42 and cluster-bootstrap resamples) the
lower bound is above 0 exactly when the test's p is below .05, with the LR from the
workflow's two fits or from the profile's own deviance at 0.
"""

from __future__ import annotations

import pandas as pd
import pytest

from process_outcome.analysis import aims
from process_outcome.data.public import (
    bootstrap_data,
    identifiable_terms,
    load_reference,
    model_data,
    models,
)
from process_outcome.mixed.fit import fit_mixed
from process_outcome.mixed.profile import parameter_names, profile_confint
from process_outcome.mixed.testing import mixture_lr_test
from tests.conftest import ROOT

PUBLIC = ROOT / "tests" / "data" / "public"
REFERENCE = load_reference(PUBLIC)
MODELS = models(REFERENCE)
PATIENTS = pd.read_csv(
    ROOT / "tests" / "data" / "study42" / "patients.csv", dtype={"therapist": str, "patient": str}
)
STUDY42 = [
    (outcome, process, moderator)
    for outcome in ("symptoms", "functioning")
    for process in ("alliance", "expectation")
    for moderator in (None, "self_alliance", "self_expectation", "cbt", "experience")
]
PUBLIC_CASES = [
    (name, None) for name, spec in MODELS.items() if spec.slope is not None and name != "star_rs"
]
BOOT_CASES = [
    (name, k)
    for name, boot in REFERENCE["bootstrap"].items()
    for k in range(0, len(boot["resamples"]), 20)
]


def _public(name: str, k: int | None):
    spec = MODELS[name]
    data = model_data(PUBLIC, REFERENCE, spec)
    terms = list(spec.terms)
    if k is not None:
        groups = REFERENCE["bootstrap"][name]["resamples"][k]["groups"]
        data = bootstrap_data(data, spec.group, groups)
        terms = identifiable_terms(data, spec.terms)
    return data, spec.response, terms, spec.group, spec.slope


def _study42(outcome: str, process: str, moderator: str | None):
    terms = (
        aims.aim1_terms(outcome, [process])
        if moderator is None
        else aims.aim3_terms(outcome, process, moderator)
    )
    return PATIENTS, f"post_{outcome}", terms, "therapist", f"{process}_within"


def _check(data, response, terms, group, slope, level: float = 0.95) -> None:
    nested = fit_mixed(data, response, terms, group)
    fit = fit_mixed(data, response, terms, group, slope, start=nested, min_loglik=nested.loglik)
    _, p = mixture_lr_test(fit.loglik, nested.loglik)
    name = parameter_names(group, slope)[2]
    for nested_loglik in (None, nested.loglik):
        ci = profile_confint(data, fit, level, parameters=[name], nested_loglik=nested_loglik)
        row = ci.iloc[0]
        assert (row["ci_low"] > 0) == (p < 1 - level), (row["ci_low"], p)
        assert bool(row["low_at_zero"]) == (row["ci_low"] == 0)
        assert row["ci_low"] <= row["estimate"] <= row["ci_high"]


@pytest.mark.parametrize(("name", "k"), PUBLIC_CASES + BOOT_CASES, ids=str)
def test_public_interval_and_test_agree(name, k):
    _check(*_public(name, k))


@pytest.mark.parametrize(("outcome", "process", "moderator"), STUDY42, ids=str)
def test_study42_interval_and_test_agree(outcome, process, moderator):
    _check(*_study42(outcome, process, moderator))


def test_lme4_rule_disagrees_where_the_mixture_rule_does_not():
    # orthodont (age | Subject): LR 4.37, mixture p = .075; chi-square(1) excludes 0
    data, response, terms, group, slope = _public("orthodont_rs", None)
    nested = fit_mixed(data, response, terms, group)
    fit = fit_mixed(data, response, terms, group, slope, start=nested, min_loglik=nested.loglik)
    lr, p = mixture_lr_test(fit.loglik, nested.loglik)
    assert 3.84 < lr < 5.14 and p > 0.05
    name = parameter_names(group, slope)[2]
    lme4_rule = profile_confint(data, fit, parameters=[name], boundary="chi2").iloc[0]
    mixture = profile_confint(data, fit, parameters=[name]).iloc[0]
    assert lme4_rule["ci_low"] > 0 and mixture["ci_low"] == 0
    assert mixture["ci_high"] == lme4_rule["ci_high"]
    # at 90% the mixture test rejects (p < .10): the lower bound is lme4's crossing
    at90 = profile_confint(data, fit, 0.90, parameters=[name]).iloc[0]
    lme4_90 = profile_confint(data, fit, 0.90, parameters=[name], boundary="chi2").iloc[0]
    assert at90["ci_low"] == pytest.approx(lme4_90["ci_low"], rel=1e-9) and at90["ci_low"] > 0


def test_unknown_boundary_rule_is_refused():
    data, response, terms, group, slope = _public("sleepstudy_rs", None)
    fit = fit_mixed(data, response, terms, group, slope)
    with pytest.raises(ValueError, match="boundary"):
        profile_confint(data, fit, boundary="chi-square")
