"""The multilevel latent covariate model (Lüdtke et al., 2008): lavaan's ML estimates,
the exact likelihood, and recovery of a between effect that observed means miss."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from process_outcome.analysis.latent_means import (
    attenuated_between,
    fit_latent_covariate,
    simulate_latent_study,
)
from process_outcome.mixed.fit import fit_mixed

LAVAAN_MODELS = {
    # key of latent_reference.json: (response, process, covariates)
    "symptoms/alliance/none": ("post_symptoms", "alliance_mean", []),
    "symptoms/alliance/baseline": ("post_symptoms", "alliance_mean", ["baseline_symptoms_c"]),
    "functioning/expectation/baseline": (
        "post_functioning",
        "expectation_mean",
        ["baseline_functioning_c"],
    ),
}


@pytest.fixture(scope="module")
def study42(reference_dir_module) -> pd.DataFrame:
    return pd.read_csv(reference_dir_module / "patients.csv", dtype={"therapist": str})


@pytest.fixture(scope="module")
def reference_dir_module():
    from tests.conftest import REFERENCE_DIR

    return REFERENCE_DIR


@pytest.mark.parametrize("key", sorted(LAVAAN_MODELS))
def test_estimates_equal_lavaan_two_level_ml(study42, reference_dir_module, key):
    reference = json.loads((reference_dir_module / "latent_reference.json").read_text())[key]
    assert reference["converged"]
    response, process, covariates = LAVAAN_MODELS[key]
    fit = fit_latent_covariate(study42, response, [process], "therapist", covariates)
    assert fit.converged, fit.problems
    assert fit.n_obs == reference["nobs"]
    assert fit.loglik == pytest.approx(reference["loglik"], abs=1e-5)
    eff = fit.effects.set_index("part")
    for label, part in (("bw1", "within"), ("bb1", "between"), ("ctx1", "contextual")):
        ref = reference["estimates"][label]
        assert eff.loc[part, "estimate"] == pytest.approx(ref["estimate"], rel=1e-4, abs=1e-5)
        assert eff.loc[part, "se"] == pytest.approx(ref["se"], rel=1e-3)


def _dense_loglik(data: pd.DataFrame, fit, columns: list[str], covariates: list[str]) -> float:
    """Log-density of every therapist's stacked (x, y) vectors, one dense MVN each."""
    total = 0.0
    for _, rows in data.groupby("therapist"):
        v = rows[columns].to_numpy(float)
        n, q = v.shape
        z = rows[covariates].to_numpy(float)
        zbar = z.mean(axis=0)
        mean = fit.mean_intercept + (z - zbar) @ fit.mean_within.T + zbar @ fit.mean_between.T
        cov = np.kron(np.eye(n), fit.sigma_within) + np.kron(np.ones((n, n)), fit.sigma_between)
        total += stats.multivariate_normal(mean.ravel(), cov).logpdf(v.ravel())
    assert q == len(columns)
    return total


def test_joint_model_likelihood_is_the_dense_multivariate_normal(study42):
    # Two processes (the aim 1 joint model): the likelihood computed from pooled
    # within-therapist cross-products and therapist means equals the dense density.
    processes = ["alliance_mean", "expectation_mean"]
    covariates = ["baseline_symptoms_c"]
    fit = fit_latent_covariate(study42, "post_symptoms", processes, "therapist", covariates)
    assert fit.converged, fit.problems
    dense = _dense_loglik(study42, fit, [*processes, "post_symptoms"], covariates)
    assert fit.loglik == pytest.approx(dense, abs=1e-6)
    # implied structure: y's within/between covariance with x is Sigma_x beta
    eff = fit.effects.set_index(["process", "part"])
    beta_w = [eff.loc[(p, "within"), "estimate"] for p in processes]
    assert fit.sigma_within[:2, 2] == pytest.approx(fit.sigma_within[:2, :2] @ beta_w)
    assert list(fit.effects["process"].unique()) == processes


def test_observed_means_are_attenuated_and_the_latent_model_is_not():
    # Small caseloads (1-9 patients, ICC(1) .08, ICC(2) about .3): the observed-mean
    # between estimate is pulled to the within effect as Lüdtke et al. (2008) derive;
    # the latent model's estimate is centred on the truth. 10 studies of 150
    # therapists: a few seconds; fixed seed.
    rng = np.random.default_rng(20240612)
    within, between, icc1 = -0.45, 0.15, 0.08
    observed, latent, reliability = [], [], []
    for _ in range(10):
        d = simulate_latent_study(
            rng, n_therapists=150, icc1=icc1, beta_within=within, beta_between=between
        )
        manifest = fit_mixed(d, "y", ["z", "x_within", "x_between"], "therapist")
        observed.append(manifest.coefficients.set_index("term").loc["x_between", "estimate"])
        fit = fit_latent_covariate(d, "y", ["x"], "therapist", ["z"], standard_errors=False)
        assert fit.converged, fit.problems
        latent.append(fit.effects.set_index("part").loc["between", "estimate"])
        n = d.groupby("therapist").size().to_numpy(float)
        reliability.append(np.mean(icc1 / (icc1 + (1 - icc1) / n)))
    observed, latent = np.array(observed), np.array(latent)
    mc_obs = observed.std(ddof=1) / np.sqrt(observed.size)
    mc_lat = latent.std(ddof=1) / np.sqrt(latent.size)
    expected = attenuated_between(within, between, float(np.mean(reliability)))
    assert abs(observed.mean() - expected) < 3 * mc_obs + 0.02
    assert abs(observed.mean() - between) > 6 * mc_obs  # clearly biased
    assert abs(latent.mean() - between) < 3 * mc_lat  # unbiased within MC error
    assert abs(latent.mean() - between) < abs(observed.mean() - between) / 3


def test_contextual_effect_and_its_se_come_from_the_same_covariance(study42):
    fit = fit_latent_covariate(
        study42, "post_symptoms", ["alliance_mean"], "therapist", ["baseline_symptoms_c"]
    )
    eff = fit.effects.set_index("part")
    assert eff.loc["contextual", "estimate"] == pytest.approx(
        eff.loc["between", "estimate"] - eff.loc["within", "estimate"]
    )
    v = fit.vcov
    assert eff.loc["contextual", "se"] == pytest.approx(np.sqrt(v[0, 0] + v[1, 1] - 2 * v[0, 1]))
    assert fit.to_dict()["effects"][0]["part"] == "within"


def test_no_between_variance_is_flagged_not_hidden():
    rng = np.random.default_rng(5)
    g = np.repeat(np.arange(40), 4)
    x = rng.normal(size=g.size)
    x -= pd.Series(x).groupby(g).transform("mean").to_numpy()  # every therapist mean equal
    y = 0.3 * x + rng.normal(size=g.size)
    fit = fit_latent_covariate(pd.DataFrame({"g": g, "x": x, "y": y}), "y", ["x"], "g")
    assert fit.boundary
    assert any("not identified" in p for p in fit.problems)


def test_too_few_therapists_and_constant_columns_are_refused():
    d = pd.DataFrame({"g": [1, 1, 2, 2], "x": [1.0, 2, 3, 4], "y": [1.0, 0, 1, 2]})
    with pytest.raises(ValueError, match="at least 3"):
        fit_latent_covariate(d, "y", ["x"], "g")
    d = pd.DataFrame({"g": [1, 1, 2, 2, 3, 3], "x": [1.0] * 6, "y": [1.0, 0, 1, 2, 3, 1]})
    with pytest.raises(ValueError, match="constant"):
        fit_latent_covariate(d, "y", ["x"], "g")


def test_regularized_estimate_keeps_the_between_variance_off_zero():
    # Therapist means that vary only by sampling error: ML puts the latent between
    # variance at zero; the boundary-avoiding prior keeps it positive, so the between
    # effect is identified (flag off) and finite.
    rng = np.random.default_rng(11)
    g = np.repeat(np.arange(40), 4)
    x = rng.normal(size=g.size)
    x -= pd.Series(x).groupby(g).transform("mean").to_numpy()
    x += 0.02 * rng.normal(size=40)[g]
    y = 0.3 * x + rng.normal(size=g.size)
    data = pd.DataFrame({"g": g, "x": x, "y": y})
    ml = fit_latent_covariate(data, "y", ["x"], "g")
    reg = fit_latent_covariate(data, "y", ["x"], "g", regularized=True)
    assert ml.boundary and not reg.boundary
    assert reg.tau_x["x"] > ml.tau_x["x"]
    assert np.isfinite(reg.effects.set_index("part").loc["between", "estimate"])


def test_regularized_estimate_is_ml_when_the_means_are_reliable():
    # 150 therapists with 6 patients each and a large between variance: the prior's
    # pull is negligible against the likelihood.
    rng = np.random.default_rng(3)
    g = np.repeat(np.arange(150), 6)
    mu = rng.normal(0, 1, 150)[g]
    x = mu + rng.normal(0, 1, g.size)
    y = 0.2 * (x - mu) + 0.8 * mu + rng.normal(0, 1, g.size)
    data = pd.DataFrame({"x": x, "y": y, "g": g})
    ml = fit_latent_covariate(data, "y", ["x"], "g").effects.set_index("part")
    reg = fit_latent_covariate(data, "y", ["x"], "g", regularized=True).effects.set_index("part")
    assert reg.loc["between", "estimate"] == pytest.approx(ml.loc["between", "estimate"], abs=0.02)
    assert reg.loc["within", "estimate"] == pytest.approx(ml.loc["within", "estimate"], abs=1e-3)
