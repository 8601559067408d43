"""The parametric-bootstrap LR test of a random slope against an R loop with lme4.

``tests/data/pb_reference.json`` (``tests/r/make_kr_reference.R bootstrap``) holds, for a
study42 aim 2 model and the public orthodont random-slope model, the observed REML LR
and 1,000 REML refits of data simulated from the random-intercept fit. Our draws are
numpy's, so the statistic is compared exactly (1e-5), the p value within three combined
Monte Carlo SEs and the null distributions by a two-sample Kolmogorov-Smirnov test.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from process_outcome.analysis import aims
from process_outcome.data.public import load_reference, model_data, models
from process_outcome.mixed import bootstrap_slope_test, fit_mixed
from tests.conftest import ROOT

DATA = ROOT / "tests" / "data"
PB = json.loads((DATA / "pb_reference.json").read_text())["bootstrap"]
PUBLIC = DATA / "public"
REFERENCE = load_reference(PUBLIC)
MODELS = models(REFERENCE)
PATIENTS = pd.read_csv(DATA / "study42" / "patients.csv", dtype={"therapist": str, "patient": str})
N_SIM = 150  # about 0.1 s per dataset (two refits)


def _models(name: str):
    if name.startswith("study42:"):
        _, outcome, process = name.split(":")[1].split("/")
        data, response = PATIENTS, f"post_{outcome}"
        terms, group, slope = aims.aim1_terms(outcome, [process]), "therapist", f"{process}_within"
    else:
        spec = MODELS[name]
        data = model_data(PUBLIC, REFERENCE, spec)
        response, terms, group, slope = spec.response, spec.terms, spec.group, spec.slope
    nested = fit_mixed(data, response, terms, group)
    fit = fit_mixed(data, response, terms, group, slope, start=nested, min_loglik=nested.loglik)
    return data, fit, nested


@pytest.mark.parametrize("name", list(PB))
def test_bootstrap_agrees_with_r(name):
    ref = PB[name]
    data, fit, nested = _models(name)
    res = bootstrap_slope_test(data, fit, nested, n_sim=N_SIM, seed=7)
    assert res.lr == pytest.approx(ref["lr"], abs=1e-5)
    assert res.n_sim + res.n_failed == N_SIM and res.n_failed == 0
    r_se = math.sqrt(ref["p"] * (1 - ref["p"]) / ref["nsim"])
    assert abs(res.p - ref["p"]) <= 3 * math.hypot(res.mc_se, r_se), (res.p, ref["p"])
    assert stats.ks_2samp(res.statistics, ref["lr_sim"]).pvalue > 1e-3
    assert res.mc_se == pytest.approx(math.sqrt(res.p * (1 - res.p) / res.n_sim))


def test_seeded_and_reproducible():
    data, fit, nested = _models("orthodont_rs")
    a = bootstrap_slope_test(data, fit, nested, n_sim=4, seed=11)
    b = bootstrap_slope_test(data, fit, nested, n_sim=4, seed=11)
    c = bootstrap_slope_test(data, fit, nested, n_sim=4, seed=12)
    np.testing.assert_array_equal(a.statistics, b.statistics)
    assert not np.array_equal(a.statistics, c.statistics)
    assert (a.statistics >= 0).all()


def test_wrong_models_are_refused():
    data, fit, nested = _models("orthodont_rs")
    with pytest.raises(ValueError, match="no random slope"):
        bootstrap_slope_test(data, nested, nested, n_sim=2)
    with pytest.raises(ValueError, match="random-intercept"):
        bootstrap_slope_test(data, fit, fit, n_sim=2)
