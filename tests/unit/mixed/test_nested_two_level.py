"""The general (nested) engine on the two-level public models: the same lme4 optimum and
summaries as lme4 and as the two-level engine :func:`fit_mixed`, which stays the fast
path for one grouping factor with at most one random slope."""

from __future__ import annotations

import numpy as np
import pytest

from process_outcome.data.public import load_reference, model_data, models
from process_outcome.mixed.fit import fit_mixed
from process_outcome.mixed.formula import lmer
from tests.conftest import ROOT

DATA = ROOT / "tests" / "data" / "public"
REFERENCE = load_reference(DATA)
MODELS = {n: m for n, m in models(REFERENCE).items() if not n.startswith("star")}


@pytest.mark.parametrize("name", list(MODELS))
def test_general_engine_on_two_level_models(name):
    spec = MODELS[name]
    ref = spec.reference
    data = model_data(DATA, REFERENCE, spec)
    random = "1" if spec.slope is None else f"1 + {spec.slope}"
    formula = f"{spec.response} ~ {' + '.join(spec.terms) or '1'} + ({random} | {spec.group})"
    fit = lmer(formula, data.assign(**{spec.group: data[spec.group].astype(str)}))
    assert fit.loglik >= ref["logLik"] - 1e-6
    assert fit.converged
    assert fit.singular == ref["singular"]
    two = fit_mixed(data, spec.response, spec.terms, spec.group, spec.slope)
    tol = 1e-3 if ref["singular"] else 1e-4
    est, se = two.coefficients["estimate"], two.coefficients["se"]
    np.testing.assert_array_less(
        np.abs(fit.coefficients["estimate"] - est) / np.maximum(np.abs(est), se), tol
    )
    np.testing.assert_allclose(fit.coefficients["se"], se, rtol=tol)
    np.testing.assert_allclose(
        fit.coefficients["df"], two.coefficients["df"], rtol=0.05 if ref["singular"] else 2e-3
    )
    assert abs(fit.loglik - two.loglik) < 1e-6
