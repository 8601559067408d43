"""Satterthwaite and Kenward-Roger t tests and the singular flag do not depend on units.

Rescaling a predictor by ``c`` rescales its coefficient, SE and (when it has a random
slope) theta by ``1/c``; t, df and p must not move. lmerTest's numerical derivatives use
absolute steps where ``|theta| < 1.8e-5``, so on multilevel's ``bh1996`` random-slope model
its df for ``HRS`` changed from about 80 to 443 when HRS was multiplied by 1e4 (issue 19); the
engine's derivatives are exact (:mod:`process_outcome.mixed.varpar`), so the df agree to
1e-6 relative at the same optimum (``fit_at_theta``) and after refitting.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from process_outcome.data.public import load_reference, model_data, models
from process_outcome.mixed.derivatives import richardson_hessian, richardson_jacobian
from process_outcome.mixed.fit import fit_at_theta, fit_mixed
from process_outcome.mixed.inference import fixed_effects_table
from process_outcome.mixed.reml import build_design, varpar_functions
from process_outcome.mixed.satterthwaite import coefficient_table
from tests.conftest import ROOT

DATA = ROOT / "tests" / "data" / "public"
REFERENCE = load_reference(DATA)
MODELS = models(REFERENCE)
REL = 1e-6
BH1996 = ("WBEING", ["HRS", "G_HRS"], "GRP", "HRS")
CASES = {
    # name: (data, response, terms, group, slope, column to rescale)
    "bh1996_rs": (None, *BH1996, "HRS"),
    "sleepstudy_rs": ("sleepstudy_rs", None, None, None, None, "Days"),
    "hsb82_int": ("hsb82_int", None, None, None, None, "meanses"),
    "orange_rs": ("orange_rs", None, None, None, None, "age"),
}


def _case(name: str):
    key, response, terms, group, slope, column = CASES[name]
    if key is None:
        data = pd.read_csv(DATA / "bh1996.csv")
        return data, response, terms, group, slope, column
    spec = MODELS[key]
    data = model_data(DATA, REFERENCE, spec)
    return data, spec.response, list(spec.terms), spec.group, spec.slope, column


def _scaled_theta(theta: np.ndarray, factor: float, rescaled_is_slope: bool) -> np.ndarray:
    if theta.size == 1 or not rescaled_is_slope:
        return theta
    return theta * np.array([1.0, 1.0 / factor, 1.0 / factor])


def _assert_same_tests(a: pd.DataFrame, b: pd.DataFrame) -> None:
    for column in ("t", "df", "p"):
        np.testing.assert_allclose(b[column], a[column], rtol=REL, atol=0, err_msg=column)


@pytest.fixture(scope="module")
def base_fits():
    out = {}
    for name in CASES:
        data, response, terms, group, slope, _ = _case(name)
        out[name] = fit_mixed(data, response, terms, group, slope)
    return out


@pytest.mark.parametrize("factor", [1e4, 1e-4])
@pytest.mark.parametrize("name", list(CASES))
def test_rescaling_a_predictor_leaves_t_df_p(base_fits, name, factor):
    data, response, terms, group, slope, column = _case(name)
    base = base_fits[name]
    scaled = data.copy()
    scaled[column] = scaled[column] * factor
    theta = _scaled_theta(base.theta, factor, column == slope)
    same = fit_at_theta(scaled, response, terms, group, slope, theta)
    refit = fit_mixed(scaled, response, terms, group, slope)
    for ddf in ("Satterthwaite", "KR"):
        ref = fixed_effects_table(base, ddf)
        _assert_same_tests(ref, fixed_effects_table(same, ddf))
        _assert_same_tests(ref, fixed_effects_table(refit, ddf))
    assert same.singular == base.singular == refit.singular


def _numderiv_df(fit, data) -> np.ndarray:
    """lmerTest's df: numDeriv's Richardson Hessian and Jacobian in (theta, sigma)."""
    design = build_design(data, fit.response, list(fit.terms[1:]), fit.group, fit.random_slope)
    dev, cov = varpar_functions(design)
    hess = richardson_hessian(dev, fit.varpar)
    evals, evecs = np.linalg.eigh(hess)
    pos = evals > 1e-8
    a = 2.0 * (evecs[:, pos] / evals[pos]) @ evecs[:, pos].T
    jac = richardson_jacobian(cov, fit.varpar)
    p = design.p
    jac_list = np.stack([jac[:, k].reshape(p, p) for k in range(fit.varpar.size)])
    table = coefficient_table(fit.terms, fit.fixed_effects, fit.vcov, jac_list, a)
    return table["df"].to_numpy()


def test_numerical_derivatives_change_the_df_with_units(base_fits):
    # the defect this module guards against, reproduced with lmerTest's algorithm
    data, response, terms, group, slope, column = _case("bh1996_rs")
    base = base_fits["bh1996_rs"]
    scaled = data.copy()
    scaled[column] = scaled[column] * 1e4
    same = fit_at_theta(scaled, response, terms, group, slope, _scaled_theta(base.theta, 1e4, True))
    before, after = _numderiv_df(base, data), _numderiv_df(same, scaled)
    np.testing.assert_allclose(before, base.coefficients["df"], rtol=1e-6)
    assert after[1] > 3 * before[1]  # HRS: 90.7 -> 410
    np.testing.assert_allclose(same.coefficients["df"], base.coefficients["df"], rtol=REL)


def test_bh1996_df_is_lmertests_on_the_original_units(base_fits):
    # lmerTest 3.1-3 on the original units: df 90.98 for HRS (lme4 warns that it did not
    # converge; its REML log-likelihood is 2e-4 below ours); kept at every scale
    fit = base_fits["bh1996_rs"]
    assert not fit.singular
    df = float(fit.coefficients.set_index("term").loc["HRS", "df"])
    assert df == pytest.approx(90.98, rel=0.01)
