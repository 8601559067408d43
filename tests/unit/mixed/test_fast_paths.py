"""The engine's fast paths give what the slow ones gave.

The exact gradient of the profiled REML deviance against central differences of the
deviance (on public data, inside and on the boundary); the aim 2 call's reuse of the
caller's random-intercept fit against a fit that finds it itself; the Satterthwaite
closures against their stand-alone functions.
"""

from __future__ import annotations

import numpy as np
import pytest

from process_outcome.data.public import load_reference, model_data, models
from process_outcome.mixed import fit as fit_module
from process_outcome.mixed.fit import fit_mixed
from process_outcome.mixed.reml import (
    build_design,
    covbeta_varpar,
    deviance_and_gradient,
    deviance_scaled,
    deviance_varpar,
    varpar_functions,
)
from tests.conftest import ROOT

DATA = ROOT / "tests" / "data" / "public"
REFERENCE = load_reference(DATA)
MODELS = models(REFERENCE)


def _design(name: str):
    spec = MODELS[name]
    data = model_data(DATA, REFERENCE, spec)
    return build_design(data, spec.response, spec.terms, spec.group, spec.slope)


def _differences(d, theta: np.ndarray, step: float = 1e-6) -> np.ndarray:
    return np.array(
        [
            (deviance_scaled(theta + e, d) - deviance_scaled(theta - e, d)) / (2 * step)
            for e in np.eye(theta.size) * step
        ]
    )


@pytest.mark.parametrize(
    ("name", "theta"),
    [
        ("sleepstudy_ri", [0.8]),
        ("sleepstudy_rs", [0.9, 0.1, 0.2]),
        ("orthodont_int", [1.1, -0.4, 0.3]),
        ("orthodont_noM05_rs", [0.0, -0.135, 0.019]),  # the boundary point of issue 10
        ("exam_rs", [0.35, 0.05, 0.0]),  # slope SD on the boundary
        ("orange_rs", [2.0, -1.5, 0.0]),  # rank-one covariance
    ],
)
def test_exact_gradient_matches_central_differences(name, theta):
    d = _design(name)
    theta = np.asarray(theta, dtype=float)
    dev, grad = deviance_and_gradient(theta, d)
    assert dev == pytest.approx(deviance_scaled(theta, d), rel=1e-14, abs=1e-10)
    numeric = _differences(d, theta)
    scale = max(1.0, float(np.max(np.abs(numeric))))
    assert np.max(np.abs(grad - numeric)) <= 1e-5 * scale


def test_aim2_call_reuses_the_intercept_fit(monkeypatch):
    spec = MODELS["sleepstudy_rs"]
    data = model_data(DATA, REFERENCE, spec)
    nested = fit_mixed(data, spec.response, spec.terms, spec.group)
    searches = []
    original = fit_module.search_optimum

    def counting(d, *args, **kwargs):
        searches.append(d.q)
        return original(d, *args, **kwargs)

    monkeypatch.setattr(fit_module, "search_optimum", counting)
    reused = fit_mixed(
        data,
        spec.response,
        spec.terms,
        spec.group,
        spec.slope,
        start=nested,
        min_loglik=nested.loglik,
    )
    assert searches == [2]  # the slope model only: the intercept-only fit came in
    searches.clear()
    own = fit_mixed(data, spec.response, spec.terms, spec.group, spec.slope)
    assert searches == [1, 2]
    np.testing.assert_array_equal(reused.theta, own.theta)
    assert reused.loglik == own.loglik
    # an intercept fit of other rows is not taken for this model's
    other = fit_mixed(data.iloc[:-10], spec.response, spec.terms, spec.group)
    searches.clear()
    fit_mixed(data, spec.response, spec.terms, spec.group, spec.slope, start=other)
    assert searches == [1, 2]


def test_satterthwaite_closures_equal_the_functions():
    d = _design("orthodont_int")
    varpar = np.array([0.9, -0.2, 0.1, 1.3])
    dev, cov = varpar_functions(d)
    for point in (varpar, varpar * 1.01, varpar):  # the repeat is served from the cache
        assert dev(point) == deviance_varpar(point, d)
        np.testing.assert_array_equal(cov(point), covbeta_varpar(point, d))
