"""Issue 12, the aim 2 claims: model-implied share of beneficial slopes, the empirical-Bayes
count over therapists with at least two patients, slope correlations without inference
when a model is singular, and the variance-components table behind Table 3.

Checked on the study42 fixture against lme4 (``tests/data/study42/lme4_reference.json``)
and against direct computation (scipy's normal distribution, a Monte Carlo draw).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from process_outcome.analysis import aims, tables
from tests.conftest import ROOT

STUDY42 = ROOT / "tests" / "data" / "study42"
PATIENTS = pd.read_csv(STUDY42 / "patients.csv", dtype={"therapist": str, "patient": str})
REFERENCE = json.loads((STUDY42 / "lme4_reference.json").read_text())
PROFILES = pd.read_csv(ROOT / "tests" / "data" / "profile_reference.csv")


@pytest.fixture(scope="module")
def aim2() -> dict[str, aims.Aim2Result]:
    out = {}
    for outcome in ("symptoms", "functioning"):
        for process in ("alliance", "expectation"):
            nested = aims.fit_aim1(PATIENTS, outcome, process)
            out[f"{outcome}/{process}"] = aims.fit_aim2(
                PATIENTS, outcome, process, nested, "worse", profile_level=aims.PROFILE_LEVEL
            )
    return out


def test_implied_share_is_the_normal_tail_a_simulation_reproduces():
    rng = np.random.default_rng(12)
    draws = rng.normal(-0.61, 0.47, 400_000)
    assert aims.implied_share(-0.61, 0.47, "worse") == pytest.approx((draws < 0).mean(), abs=0.003)
    assert aims.implied_share(-0.61, 0.47, "better") == pytest.approx(stats.norm.cdf(-0.61 / 0.47))
    # a slope SD of zero: every therapist has the fixed slope
    assert aims.implied_share(-0.2, 0.0, "worse") == 1.0
    assert aims.implied_share(-0.2, 0.0, "better") == 0.0
    with pytest.raises(ValueError, match="higher_is"):
        aims.implied_share(0.1, 0.1, "lower")


def test_share_and_eb_count_on_study42(aim2):
    per_therapist = PATIENTS.groupby("therapist").size()
    informative = set(per_therapist.index[per_therapist >= aims.MIN_EB_PATIENTS])
    for key, res in aim2.items():
        ref = REFERENCE["models"][f"aim2/{key}"]
        fixed = float(res.fit.coefficients.set_index("term").loc[f"{res.process}_within"].estimate)
        # lme4's slope SD, and the share its normal distribution implies
        assert res.slope_sd == pytest.approx(ref["slope_sd"], rel=2e-3, abs=2e-4)
        assert res.share_implied == pytest.approx(stats.norm.cdf(-fixed / res.slope_sd))
        # the EB count: lme4's empirical-Bayes slopes of therapists with >= 2 patients
        eb = pd.Series(ref["ebslopes"], index=sorted(per_therapist.index))
        assert res.n_eb_therapists == len(informative) < res.n_therapists
        assert res.n_eb_beneficial == int((eb[sorted(informative)] < 0).sum())


def test_sd_cis_are_the_reml_profile_of_the_r_reference(aim2):
    # tolerance as in tests/unit/mixed/test_profile.py (REML_TOL)
    for key, res in aim2.items():
        ref = PROFILES[(PROFILES["model"] == f"aim2/{key}") & (PROFILES["criterion"] == "REML")]
        ref = ref.set_index("parameter")
        assert list(res.variance_ci["parameter"]) == list(ref.index[:2])  # the two SDs
        for row in res.variance_ci.itertuples(index=False):
            r = ref.loc[row.parameter]
            scale = max(r["estimate"], r["upper"]) * 1e-5
            assert row.ci_low == pytest.approx(r["lower"], abs=scale)
            assert row.ci_high == pytest.approx(r["upper"], abs=scale)
            assert (row.ci_low == 0) == (r["lower"] == 0)  # boundary: exactly 0 on both
        low, high = res.slope_sd_ci
        summary = res.to_dict()
        assert summary["slope_sd_ci_low"] == low and summary["slope_sd_ci_high"] == high
        assert len(summary["variance_ci"]) == 2


def _slopes(values: dict[str, list[float]]) -> pd.DataFrame:
    rows = [
        {
            "outcome": "o",
            "process": p,
            "therapist": f"T{i:02d}",
            "slope": v,
            "se": 0.1,
            "n_patients": 3,
        }
        for p, vs in values.items()
        for i, v in enumerate(vs)
    ]
    return pd.DataFrame(rows)


def _tests(singular: dict[str, bool]) -> pd.DataFrame:
    return pd.DataFrame(
        [{"outcome": "o", "process": p, "singular": s} for p, s in singular.items()]
    )


def test_slope_correlation_has_no_inference_when_a_model_is_singular():
    rng = np.random.default_rng(3)
    a = rng.normal(size=15)
    slopes = _slopes({"a": list(a), "b": list(0.5 * a + rng.normal(size=15))})
    fine = tables.slope_correlations(slopes, _tests({"a": False, "b": False})).iloc[0]
    assert fine["r"] == pytest.approx(stats.pearsonr(slopes["slope"][:15], slopes["slope"][15:])[0])
    assert 0 < fine["p"] < 1 and fine["ci_low"] < fine["r"] < fine["ci_high"]
    assert not fine["singular"]
    flagged = tables.slope_correlations(slopes, _tests({"a": False, "b": True})).iloc[0]
    assert flagged["r"] == fine["r"] and flagged["singular"]
    assert pd.isna(flagged["p"]) and pd.isna(flagged["ci_low"]) and pd.isna(flagged["ci_high"])
    checked = tables.check_contract(
        tables.slope_correlations(slopes, _tests({"a": True, "b": False})),
        "aim2_slope_correlations",
    )
    assert list(checked.columns) == tables.SLOPE_CORRELATION_COLUMNS


def test_variance_components_table_matches_lme4(aim2):
    summaries = [{"aim": "aim2", **res.to_dict()} for res in aim2.values()]
    table = tables.check_contract(
        tables.variance_components(summaries, "aim2"), "variance_components"
    )
    for row in table.itertuples(index=False):
        ref = REFERENCE["models"][f"aim2/{row.outcome}/{row.process}"]
        vc = ref["vc"]
        slope = f"{row.process}_within"
        tol = {"rel": 5e-3, "abs": 5e-4} if ref["singular"] else {"rel": 1e-3, "abs": 1e-6}
        assert row.intercept_var == pytest.approx(vc["therapist|(Intercept)|"], **tol)
        assert row.slope_var == pytest.approx(vc[f"therapist|{slope}|"], **tol)
        assert row.residual_var == pytest.approx(vc["Residual||"], **tol)
        assert row.reml_loglik == pytest.approx(ref["logLik"], abs=1e-4)
        # lme4: AIC(REML fit) = -2 logLik + 2 (fixed effects + theta + sigma) = 4 + 3 + 1
        assert row.n_parameters == 8
        assert row.aic == pytest.approx(-2 * ref["logLik"] + 16, abs=2e-4)
        assert row.reml_deviance == pytest.approx(-2 * row.reml_loglik)
        assert row.slope_sd == pytest.approx(math.sqrt(row.slope_var))
        assert row.slope_sd_ci_low <= row.slope_sd <= row.slope_sd_ci_high
        assert row.intercept_sd_ci_low <= row.intercept_sd <= row.intercept_sd_ci_high
        assert row.ci_level == aims.PROFILE_LEVEL and row.singular == ref["singular"]
    # a random-intercept model: no slope columns, no CIs where none were computed
    nested = aims.fit_aim1(PATIENTS, "symptoms", "alliance")
    aim1 = tables.variance_components(
        [{"outcome": "symptoms", "process": "alliance", "fit": nested.to_dict()}], "aim1"
    ).iloc[0]
    assert pd.isna(aim1["slope_var"]) and pd.isna(aim1["intercept_sd_ci_low"])
    assert aim1["n_parameters"] == 6


def test_slope_correlation_of_slopes_that_do_not_vary_is_reported_not_computed():
    """A slope variance estimated at zero gives every therapist the same slope: no
    correlation exists, the row says why and the table still meets its contract."""
    rng = np.random.default_rng(4)
    slopes = _slopes({"a": list(rng.normal(size=8)), "b": [0.0] * 8})
    row = tables.check_contract(
        tables.slope_correlations(slopes, _tests({"a": False, "b": True})),
        "aim2_slope_correlations",
    ).iloc[0]
    assert pd.isna(row["r"]) and pd.isna(row["p"]) and row["n"] == 8
    assert row["not_computed"] == "the b slopes do not vary across therapists"
    few = tables.slope_correlations(_slopes({"a": [0.1, 0.2], "b": [0.3, 0.1]}), _tests({}))
    assert few["not_computed"].iloc[0].startswith("2 therapist(s) in both")


def test_one_patient_slopes_are_in_no_shared_table_or_figure():
    from process_outcome.analysis import figures

    slopes = _slopes({"a": [0.1, 0.2, 0.3, 0.4]}).assign(n_patients=[1, 2, 5, 1])
    shared = tables.small_cells_suppressed(slopes, 2)
    assert shared["therapist"].tolist() == ["T01", "T02"]
    assert (tables.small_cells_suppressed(slopes, 3)["n_patients"] >= 3).all()
    tests = pd.DataFrame(
        {"outcome": ["o"], "process": ["a"], "slope_low": [0.0], "slope_high": [0.5]}
        | {"singular": [False], "n_therapists": [4]}
    )
    fig = figures.caterpillar_plot(slopes, tests, {}, min_patients=2)
    [ax] = [a for a in fig.axes if a.get_visible()]
    assert len(ax.lines[0].get_xdata()) == 2  # the points drawn
    assert ax.get_xlabel().startswith("2 of 4 therapists")
