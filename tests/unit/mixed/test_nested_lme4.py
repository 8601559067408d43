"""The nested engine against lme4/lmerTest on real three-level data and two-slope models.

Reference results: ``tests/data/public/nested_reference.json`` made by
``tests/r/make_nested_reference.R`` (see ``tests/data/README.md``). Tolerances as for the
two-level public models (``test_public_lme4.py``).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from process_outcome.mixed.formula import lmer
from tests.conftest import ROOT

PUBLIC = ROOT / "tests" / "data" / "public"
REFERENCE = json.loads((PUBLIC / "nested_reference.json").read_text(encoding="utf-8"))
MODELS = REFERENCE["models"]
ID_COLUMNS = [
    "batch",
    "cask",
    "schoolid",
    "childid",
    "COMPANY",
    "SUBNUM",
    "Subject",
    "site",
    "therapist",
    "patient",
]


def _data(name: str) -> pd.DataFrame:
    path = PUBLIC / REFERENCE["datasets"][name]["file"]
    return pd.read_csv(path, dtype={c: str for c in ID_COLUMNS})


def _fixed(ref: dict) -> pd.DataFrame:
    return pd.DataFrame({k: np.atleast_1d(v) for k, v in ref["fixed"].items()})


@pytest.fixture(scope="module")
def fits() -> dict:
    return {}


def _fit(fits: dict, name: str):
    if name not in fits:
        ref = MODELS[name]
        fits[name] = lmer(ref["formula"], _data(ref["data"]), REML=ref["REML"])
    return fits[name]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_fit_matches_lme4(fits, name):
    ref = MODELS[name]
    fit = _fit(fits, name)
    assert fit.loglik >= ref["logLik"] - 1e-6
    assert fit.converged
    assert fit.singular == ref["singular"]
    assert fit.n_obs == ref["nobs"]
    assert fit.n_groups == {k: int(v) for k, v in ref["ngroups"].items()}
    assert list(fit.theta_names) == list(np.atleast_1d(ref["theta_names"]))
    fx = _fixed(ref)
    co = fit.coefficients
    assert co["term"].tolist() == fx["term"].tolist()
    tol = 1e-3 if ref["singular"] else 1e-4
    scale = np.maximum(np.abs(fx["estimate"]), fx["se"])
    np.testing.assert_array_less(np.abs(co["estimate"] - fx["estimate"]) / scale, tol)
    np.testing.assert_allclose(co["se"], fx["se"], rtol=tol)
    np.testing.assert_allclose(co["df"], fx["df"], rtol=0.05 if ref["singular"] else 0.01)
    vc = pd.DataFrame(ref["vc"])
    largest = float(vc["vcov"].abs().max())
    for grp, v1, v2, value in vc[["grp", "var1", "var2", "vcov"]].itertuples(index=False):
        ours = fit.variance_components[f"{grp}|{v1}|{v2}"]
        bound = (0.05 if ref["singular"] else 1e-3) * max(abs(value), 1e-3 * largest)
        assert abs(ours - value) <= bound, (grp, v1, v2, ours, value)
    assert math.isclose(fit.aic, ref["AIC"], rel_tol=1e-8, abs_tol=2e-6)
    assert math.isclose(fit.bic, ref["BIC"], rel_tol=1e-8, abs_tol=2e-6)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_conditional_modes_match_lme4(fits, name):
    ref = MODELS[name]
    fit = _fit(fits, name)
    re = pd.DataFrame(ref["ranef"])
    for (grpvar, term), rows in re.groupby(["grpvar", "term"]):
        ours = fit.random_effects[grpvar].set_index("group").loc[rows["grp"]]
        # a second term on the same factor is "<factor>.1" in the variance components
        (variance,) = [
            v
            for k, v in fit.variance_components.items()
            if k.endswith(f"|{term}|") and k.split("|")[0] in {grpvar, f"{grpvar}.1"}
        ]
        sd = math.sqrt(max(variance, 0.0))
        if sd < 1e-6 * fit.sigma:
            continue  # a zero variance: modes are 0 up to the optimizers' last digits
        tol = (5e-2 if ref["singular"] else 2e-3) * sd
        np.testing.assert_allclose(ours[term], rows["condval"], atol=tol)
        np.testing.assert_allclose(ours[f"{term}_cond_sd"], rows["condsd"], atol=tol)


def _resamples():
    out = []
    for name, boot in REFERENCE["bootstrap"].items():
        step = 5 if name.startswith("egsingle") else 3
        for k in range(0, len(boot["resamples"]), step):
            out.append((name, k))
    return out


@pytest.mark.parametrize(("name", "k"), _resamples())
def test_bootstrap_resample_reaches_lme4(name, k):
    ref = MODELS[name]
    boot = REFERENCE["bootstrap"][name]
    top = boot["top"]
    d = _data(ref["data"])
    parts = []
    for j, g in enumerate(np.atleast_1d(boot["resamples"][k]["groups"]), start=1):
        part = d.loc[d[top] == str(g)].copy()
        part[top] = f"g{j:03d}"
        parts.append(part)
    fit = lmer(ref["formula"], pd.concat(parts, ignore_index=True), REML=ref["REML"])
    assert fit.loglik >= boot["resamples"][k]["logLik"] - 1e-6
    assert fit.converged
