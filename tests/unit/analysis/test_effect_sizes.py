"""Effect sizes: Rights & Sterba's R² decomposition against the formulas computed in R
from lme4 fits, against simulation truth, and standardized effects; ICC(2)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from process_outcome.analysis import aims
from process_outcome.analysis.effect_sizes import (
    R2_COLUMNS,
    model_rows,
    r2_decomposition,
    standardized_effects,
)
from process_outcome.analysis.icc import icc2, icc_table, mean_reliability
from process_outcome.mixed.fit import fit_mixed
from tests.conftest import REFERENCE_DIR

SHARES = ("r2_f1", "r2_f2", "r2_v", "r2_m", "r2_sigma2")


@pytest.fixture(scope="module")
def study42() -> pd.DataFrame:
    return pd.read_csv(REFERENCE_DIR / "patients.csv", dtype={"therapist": str})


@pytest.fixture(scope="module")
def reference() -> dict:
    return json.loads((REFERENCE_DIR / "effect_size_reference.json").read_text())


def _fit(study42: pd.DataFrame, key: str):
    aim, outcome, process = key.split("/")
    if process == "joint":
        return aims.fit_aim1_joint(study42, outcome, ["alliance", "expectation"])
    nested = aims.fit_aim1(study42, outcome, process)
    if aim == "aim1":
        return nested
    return aims.fit_aim2(study42, outcome, process, nested, "worse").fit


@pytest.mark.parametrize(
    "key",
    [
        "aim1/symptoms/alliance",
        "aim1/functioning/expectation",
        "aim1/symptoms/joint",
        "aim2/symptoms/alliance",
        "aim2/functioning/expectation",
    ],
)
def test_r2_components_equal_the_formulas_computed_in_r(study42, reference, key):
    ref = reference[key]
    fit = _fit(study42, key)
    assert fit.loglik == pytest.approx(ref["logLik"], abs=1e-4)
    r2 = r2_decomposition(fit, study42)
    for name in ("f1", "f2", "v", "m", "sigma2", *SHARES, "r2_within", "r2_between"):
        assert r2[name] == pytest.approx(ref[name], rel=1e-3, abs=1e-6), name
    assert r2["conditional_icc"] == pytest.approx(ref["conditional_icc"], rel=1e-3)
    assert sum(r2[s] for s in SHARES) == pytest.approx(1.0, abs=1e-12)
    assert set(R2_COLUMNS) == set(r2)
    terms = [t for t in fit.terms if t.endswith(("_within", "_between"))]
    std = standardized_effects(fit, study42, terms).set_index("term")
    for term, value in ref["standardized"].items():
        assert std.loc[term, "std_estimate"] == pytest.approx(value, rel=1e-3)


def test_r2_components_recover_the_generating_values():
    # y = gw*xw + gb*xb + u0 + u1*xw + e with cluster-mean-centred xw: the true f1, f2,
    # v, m and sigma2 follow from the generating values; 6 studies of 200 therapists.
    rng = np.random.default_rng(11)
    n, j = 8, 200
    gw, gb, tau00, tau11, sigma2, tx, sx = -0.5, 0.8, 0.3, 0.2, 1.0, 0.25, 1.0
    truth = {
        "f1": gw**2 * sx * (n - 1) / n,
        "f2": gb**2 * (tx + sx / n),
        "v": tau11 * sx * (n - 1) / n,
        "m": tau00,
        "sigma2": sigma2,
    }
    estimates = []
    for _ in range(6):
        g = np.repeat(np.arange(j), n)
        x = rng.normal(0, np.sqrt(tx), j)[g] + rng.normal(0, np.sqrt(sx), g.size)
        xbar = pd.Series(x).groupby(g).transform("mean").to_numpy()
        xw, xb = x - xbar, xbar - x.mean()
        u0 = rng.normal(0, np.sqrt(tau00), j)[g]
        u1 = rng.normal(0, np.sqrt(tau11), j)[g]
        y = gw * xw + gb * xb + u0 + u1 * xw + rng.normal(0, np.sqrt(sigma2), g.size)
        d = pd.DataFrame({"g": g, "xw": xw, "xb": xb, "y": y})
        estimates.append(r2_decomposition(fit_mixed(d, "y", ["xw", "xb"], "g", "xw"), d))
    for name, true in truth.items():
        values = np.array([e[name] for e in estimates])
        mc = values.std(ddof=1) / np.sqrt(values.size)
        assert abs(values.mean() - true) < 4 * mc + 0.01 * true, name
    total = sum(truth.values())
    shares = np.mean([e["r2_f1"] for e in estimates])
    assert shares == pytest.approx(truth["f1"] / total, abs=0.02)


def test_model_rows_refuses_other_data(study42):
    fit = aims.fit_aim1(study42, "symptoms", "alliance")
    with pytest.raises(ValueError, match="not the same data"):
        model_rows(study42.iloc[:-3], fit)


def test_icc2_is_the_spearman_brown_reliability_of_the_caseload_mean(study42):
    out = mean_reliability(study42, "alliance_mean")
    tau, sigma = out["tau2"], out["sigma2"]
    assert out["icc1"] == pytest.approx(tau / (tau + sigma))
    n = study42.groupby("therapist").size()
    assert out["caseload_mean"] == pytest.approx(n.mean())
    assert out["icc2_mean_caseload"] == pytest.approx(tau / (tau + sigma / n.mean()))
    assert out["icc2_harmonic_caseload"] < out["icc2_mean_caseload"]
    assert icc2(0.2, 1.0) == pytest.approx(0.2)
    table = icc_table(study42, ["alliance_mean", "expectation_mean"])
    assert table["variable"].tolist() == ["alliance_mean", "expectation_mean"]


def test_tables_from_model_summaries(study42):
    from process_outcome.analysis.between import (
        BETWEEN_COLUMNS,
        aim1_effects,
        aim2_effects,
        between_table,
        r2_table,
        standardized_table,
    )

    fit = aims.fit_aim1(study42, "symptoms", "alliance")
    summary = {"aim": "aim1", "outcome": "symptoms", "process": "alliance"}
    summary |= {
        "fit": fit.to_dict(),
        "effects": aim1_effects(fit, study42, "symptoms", ["alliance"]),
    }
    table = between_table([summary])
    assert list(table.columns) == BETWEEN_COLUMNS
    assert len(table) == 6
    observed = table[table["method"] == "observed_mean"].set_index("part")
    coef = fit.coefficients.set_index("term")
    assert observed.loc["between", "estimate"] == coef.loc["alliance_between", "estimate"]
    ctx = observed.loc["contextual"]
    assert ctx["estimate"] == pytest.approx(
        coef.loc["alliance_between", "estimate"] - coef.loc["alliance_within", "estimate"]
    )
    v = fit.vcov  # terms: intercept, baseline, within, between
    assert ctx["se"] == pytest.approx(np.sqrt(v[2, 2] + v[3, 3] - 2 * v[2, 3]))
    assert ctx["df"] > 0
    latent = table[table["method"] == "latent_mean"]
    assert np.isinf(latent["df"]).all() and not latent["singular"].any()
    nested = aims.fit_aim1(study42, "symptoms", "alliance")
    slope = aims.fit_aim2(study42, "symptoms", "alliance", nested, "worse").fit
    s2 = {"aim": "aim2", "outcome": "symptoms", "process": "alliance", "fit": slope.to_dict()}
    s2["effects"] = aim2_effects(slope, study42)
    r2 = r2_table([summary, s2])
    assert r2["aim"].tolist() == ["aim1", "aim2"]
    assert r2.loc[0, "v"] == 0 and r2.loc[1, "v"] > 0
    assert standardized_table([summary])["term"].tolist() == ["alliance_within", "alliance_between"]
