"""Kenward-Roger SEs and df against R's pbkrtest 0.5.2 (``tests/data/kr_reference.json``).

The reference (``tests/r/make_kr_reference.R``) holds lmerTest's
``summary(ddf = "Kenward-Roger")`` (SE from ``pbkrtest::vcovAdj``, df from
``pbkrtest::Lb_ddf``), the whole adjusted covariance and one ``contest`` of a sum of
coefficients, for every public model on at most 4,100 rows (pbkrtest's algebra is dense
n x n) and every study42 model. Tolerances (``tests/data/README.md``):

* at lme4's own theta, where both sides compute the same closed-form quantities:
  adjusted SEs, covariance and df to 1e-9 relative (measured: 1.4e-12 and 3.9e-12);
* at our optimum: SEs to 1e-4 relative and df to 1% (singular fits: 1e-3 and 5%), the
  tolerances of the Satterthwaite comparison;
* a three-level model (``kr_nested_reference.json``: Machines, ``(1 | Worker/Machine)``,
  balanced and unbalanced), built as per-Worker blocks by hand and passed to the generic
  :func:`kenward_roger_blocks` at lme4's estimates: to 1e-9 relative.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from process_outcome.data.public import load_reference, model_data, models
from process_outcome.mixed import fit_at_theta, fit_mixed, kenward_roger
from process_outcome.mixed.inference import fixed_contrast, fixed_effects_table
from process_outcome.mixed.kenward_roger import kenward_roger_blocks, kr_coefficient_table
from process_outcome.mixed.marginal import BlockModel, VDerivative
from tests.conftest import ROOT

DATA = ROOT / "tests" / "data"
KR = json.loads((DATA / "kr_reference.json").read_text())
PUBLIC = DATA / "public"
REFERENCE = load_reference(PUBLIC)
MODELS = models(REFERENCE)
PATIENTS = pd.read_csv(DATA / "study42" / "patients.csv", dtype={"therapist": str, "patient": str})
NAMES = list(KR["models"])


def _listed(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _spec(name: str):
    ref = KR["models"][name]
    data = PATIENTS if ref["data"] == "study42" else model_data(PUBLIC, REFERENCE, MODELS[name])
    return data, ref["response"], _listed(ref["terms"]), ref["group"], ref.get("slope")


def _fixed(name: str) -> pd.DataFrame:
    f = KR["models"][name]["fixed"]
    return pd.DataFrame({k: _listed(v) for k, v in f.items()})


def _close(ours, ref, rel: float) -> bool:
    ours, ref = np.asarray(ours, dtype=float), np.asarray(ref, dtype=float)
    return bool(np.all(np.abs(ours - ref) <= rel * np.abs(ref)))


def test_reference_covers_public_and_study42_and_singular_fits():
    assert sum(n.startswith("study42:") for n in NAMES) == 26
    assert sum(not n.startswith("study42:") for n in NAMES) >= 20
    assert any(KR["models"][n]["singular"] for n in NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_at_lme4_theta(name):
    data, response, terms, group, slope = _spec(name)
    ref = KR["models"][name]
    theta = np.atleast_1d(np.asarray(ref["theta"], dtype=float))
    fit = fit_at_theta(data, response, terms, group, slope, theta)
    assert fit.sigma == pytest.approx(ref["sigma"], rel=1e-7)
    kr = kenward_roger(fit)
    table = kr_coefficient_table(fit, kr)
    fixed = _fixed(name)
    assert list(table["term"]) == list(fixed["term"])
    assert _close(table["se"], fixed["se"], 1e-9), (table["se"].values, fixed["se"].values)
    assert _close(table["df"], fixed["df"], 1e-9), (table["df"].values, fixed["df"].values)
    assert _close(table["p"], fixed["p"], 1e-7)
    p = len(fit.terms)
    adjusted = np.asarray(ref["vcov_adj"], dtype=float).reshape(p, p)
    scale = np.sqrt(np.outer(np.diag(adjusted), np.diag(adjusted)))
    assert np.all(np.abs(kr.vcov_adjusted - adjusted) <= 1e-9 * scale)
    if ref.get("contrast"):
        con = ref["contrast"]
        row = fixed_contrast(fit, np.asarray(con["L"], dtype=float), ddf="KR").iloc[0]
        assert row["se"] == pytest.approx(con["se"], rel=1e-9)
        assert row["df"] == pytest.approx(con["df"], rel=1e-9)
        assert row["t"] == pytest.approx(con["t"], rel=1e-9)


@pytest.mark.parametrize("name", NAMES)
def test_at_our_optimum(name):
    data, response, terms, group, slope = _spec(name)
    ref = KR["models"][name]
    fit = fit_mixed(data, response, terms, group, slope)
    assert fit.loglik >= ref["logLik"] - 1e-6
    table = fixed_effects_table(fit, ddf="KR")
    fixed = _fixed(name)
    se_rel, df_rel = (1e-3, 0.05) if ref["singular"] else (1e-4, 0.01)
    assert _close(table["se"], fixed["se"], se_rel)
    assert _close(table["df"], fixed["df"], df_rel)


def test_kr_se_is_never_below_the_plain_se():
    # Phi_A = Phi + 2 Lambda adds the variability of the variance estimates
    for name in NAMES[:8]:
        data, response, terms, group, slope = _spec(name)
        fit = fit_mixed(data, response, terms, group, slope)
        kr = kenward_roger(fit)
        assert np.all(np.diag(kr.vcov_adjusted) >= np.diag(fit.vcov) * (1 - 1e-12))


def test_unknown_ddf_is_refused():
    data, response, terms, group, slope = _spec(NAMES[0])
    fit = fit_mixed(data, response, terms, group, slope)
    with pytest.raises(ValueError, match="ddf"):
        fixed_effects_table(fit, ddf="Kenward")


# ------------------------------------------------------------------ nested levels

NESTED = json.loads((DATA / "kr_nested_reference.json").read_text())["models"]


def _machines_blocks(drop: list[int]):
    """Machines (Worker / Machine within Worker) as per-Worker blocks: Z_j = [1, machine
    indicators], Cov(b_j) = diag(tau_w^2, tau_wm^2 I_3), built by hand as a multi-level
    engine would (R's row numbers in ``drop`` are 1-based)."""
    d = pd.read_csv(PUBLIC / "machines.csv").drop(index=[i - 1 for i in drop])
    machine = d["mB"].to_numpy() + 2 * d["mC"].to_numpy()
    workers = sorted(d["Worker"].unique())
    zz, zx, zy = [], [], []
    x_all = np.column_stack([np.ones(len(d)), d["mB"], d["mC"]])
    y_all = d["score"].to_numpy(dtype=float)
    for w in workers:
        rows = (d["Worker"] == w).to_numpy()
        z = np.column_stack([np.ones(rows.sum()), np.eye(3)[machine[rows]]])
        x, y = x_all[rows], y_all[rows]
        zz.append(z.T @ z)
        zx.append(z.T @ x)
        zy.append(z.T @ y)
    block = BlockModel(
        np.stack(zz),
        np.stack(zx),
        np.stack(zy),
        x_all.T @ x_all,
        x_all.T @ y_all,
        float(y_all @ y_all),
        len(d),
    )
    return block


@pytest.mark.parametrize("name", list(NESTED))
def test_nested_levels_match_pbkrtest(name):
    ref = NESTED[name]
    block = _machines_blocks(_listed(ref["drop"]))
    theta_wm, theta_w = ref["theta"]  # lme4's order: Machine:Worker, then Worker
    sigma2 = ref["sigma"] ** 2
    gamma = np.diag([theta_w**2, theta_wm**2, theta_wm**2, theta_wm**2])
    # pbkrtest's parameters: Machine:Worker variance, Worker variance, residual variance
    patterns = np.stack([np.diag([0.0, 1, 1, 1]), np.diag([1.0, 0, 0, 0]), np.zeros((4, 4))])
    dv = VDerivative(patterns[:, None], np.array([0.0, 0.0, 1.0]))
    kr = kenward_roger_blocks(block, gamma, sigma2, dv)
    fixed = ref["fixed"]
    se = np.sqrt(np.diag(kr.vcov_adjusted))
    np.testing.assert_allclose(se, fixed["se"], rtol=1e-9)
    df = [kr.ddf(np.eye(3)[i]) for i in range(3)]
    np.testing.assert_allclose(df, fixed["df"], rtol=1e-9)
    np.testing.assert_allclose(kr.vcov_adjusted.ravel(), ref["vcov_adj"], rtol=1e-9)
