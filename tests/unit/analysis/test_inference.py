"""The reported tests: within effects from the random-slope model, the therapist bound on
the df of therapist-level and cross-level terms, the probe rule of aim 3 and the
primary between estimate; on the 42-therapist reference study and studies made here."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import special

from process_outcome.analysis import aims, between, inference, tables
from process_outcome.mixed.fit import fit_mixed
from tests.conftest import REFERENCE_DIR

MODERATORS = {
    "self_alliance": "continuous",
    "self_expectation": "continuous",
    "cbt": "binary",
    "experience": "continuous",
}


@pytest.fixture(scope="module")
def patients() -> pd.DataFrame:
    return pd.read_csv(REFERENCE_DIR / "patients.csv")


def _study(seed: int, therapists: int = 30, slope_sd: float = 0.0) -> pd.DataFrame:
    """Patients in therapists with unequal caseloads; a therapist moderator m."""
    rng = np.random.default_rng(seed)
    caseload = rng.integers(1, 9, therapists)
    g = np.repeat(np.arange(therapists), caseload)
    x = rng.normal(size=g.size)
    xbar = pd.Series(x).groupby(g).transform("mean").to_numpy()
    m = rng.normal(size=therapists)
    slope = -0.4 + slope_sd * rng.normal(size=therapists)
    y = 0.3 * rng.normal(size=therapists)[g] + slope[g] * (x - xbar) + rng.normal(size=g.size)
    return pd.DataFrame(
        {
            "therapist": [f"T{j:02d}" for j in g],
            "post_o": y,
            "baseline_o_c": rng.normal(size=g.size),
            "p_within": x - xbar,
            "p_between": xbar - xbar.mean(),
            "m": (m - m.mean())[g],
        }
    )


def test_therapist_level_terms_classified(patients):
    terms = aims.aim3_terms("symptoms", "alliance", "self_alliance")
    kinds = inference.therapist_level_terms(patients, terms, "therapist", "alliance_within")
    assert kinds == {
        "self_alliance": "therapist-level",
        "alliance_between": "therapist-level",
        "alliance_within:self_alliance": "cross-level",
        "alliance_within": "random slope",
    }
    assert "baseline_symptoms_c" not in kinds


@pytest.mark.parametrize("seed", range(4))
def test_bound_caps_df_of_therapist_terms_only(seed):
    data = _study(seed)
    fit = fit_mixed(
        data,
        "post_o",
        ["baseline_o_c", "p_within", "m", "p_between", "p_within:m"],
        "therapist",
        "p_within",
    )
    table = inference.reported_coefficients(fit, data).set_index("term")
    engine = fit.coefficients.set_index("term")
    bound = inference.between_df(data, fit)
    assert bound == fit.n_groups - 2 - 1  # m and p_between are the therapist-level terms
    for term in ("m", "p_between", "p_within:m", "p_within"):
        row = table.loc[term]
        assert row["df"] <= bound + 1e-12
        assert row["df"] == pytest.approx(min(engine.loc[term, "df"], bound))
        # the same t, its p from t(df)
        assert row["t"] == pytest.approx(engine.loc[term, "t"], rel=1e-12)
        assert row["p"] == pytest.approx(2 * special.stdtr(row["df"], -abs(row["t"])), rel=1e-9)
        assert row["df_method"].startswith("satterthwaite")
        assert row["df_method"].endswith("therapist bound") == (engine.loc[term, "df"] > bound)
    for term in ("(Intercept)", "baseline_o_c"):
        assert table.loc[term, "df"] == engine.loc[term, "df"]
        assert table.loc[term, "df_method"] == "satterthwaite"


def test_singular_cross_level_test_gets_therapist_df():
    # No slope variance at all: singular slope fits are common; their interaction df
    # must stay at or below J - q - 1 whatever Satterthwaite says.
    seen = 0
    for seed in range(12):
        data = _study(100 + seed, therapists=25)
        res = aims.fit_aim3(
            data.rename(columns=lambda c: c.replace("_o", "_y").replace("p_", "a_")),
            "y",
            "a",
            {"m": "continuous"},
        )
        row = res.moderation.iloc[0]
        fit = res.fits[0]
        assert row["df"] <= fit.n_groups - 3
        if fit.singular:
            seen += 1
            assert fit.coefficients.set_index("term").loc["a_within:m", "df"] >= row["df"]
    assert seen >= 1


def test_kenward_roger_switch_is_clear_when_engine_lacks_it(patients):
    fit = aims.fit_aim1(patients, "symptoms", "alliance")
    try:
        table = inference.reported_coefficients(fit, patients, "kenward_roger")
    except ValueError as err:
        assert "inference.ddf" in str(err) and "satterthwaite" in str(err)
    else:
        assert set(table["df_method"]) <= {"kenward_roger", "kenward_roger, therapist bound"}
    with pytest.raises(ValueError, match="inference.ddf"):
        inference.reported_coefficients(fit, patients, "containment")


def test_headline_within_from_slope_model(patients):
    nested = aims.fit_aim1(patients, "symptoms", "alliance")
    slopes = aims.fit_within_slopes(patients, nested, ["alliance"])
    table = aims.headline_coefficients(nested, slopes, patients).set_index("term")
    slope_fit = slopes["alliance"]
    assert not aims.slope_at_zero(slope_fit, patients)
    row = table.loc["alliance_within"]
    assert row["model"] == "random_slope"
    assert row["estimate"] == pytest.approx(
        slope_fit.coefficients.set_index("term").loc["alliance_within", "estimate"]
    )
    # the aim 2 model is this very model (same rows, terms and slope)
    aim2 = aims.fit_aim2(patients, "symptoms", "alliance", nested, "worse")
    assert row["se"] == pytest.approx(
        aim2.fit.coefficients.set_index("term").loc["alliance_within", "se"], rel=1e-4
    )
    for term in ("(Intercept)", "baseline_symptoms_c", "alliance_between"):
        assert table.loc[term, "model"] == "random_intercept"
        assert table.loc[term, "estimate"] == pytest.approx(
            nested.coefficients.set_index("term").loc[term, "estimate"]
        )


@pytest.mark.parametrize("seed", range(6))
def test_headline_falls_back_when_slope_variance_is_zero(seed):
    data = _study(200 + seed)
    nested = fit_mixed(data, "post_o", ["baseline_o_c", "p_within", "p_between"], "therapist")
    slopes = aims.fit_within_slopes(data, nested, ["p"])
    table = aims.headline_coefficients(nested, slopes, data).set_index("term")
    at_zero = aims.slope_at_zero(slopes["p"], data)
    expected = nested if at_zero else slopes["p"]
    assert table.loc["p_within", "model"] == ("random_intercept" if at_zero else "random_slope")
    assert table.loc["p_within", "estimate"] == pytest.approx(
        expected.coefficients.set_index("term").loc["p_within", "estimate"]
    )
    # the rule does not depend on the process's units
    scaled = data.assign(p_within=data["p_within"] * 1e4)
    refit = fit_mixed(
        scaled, "post_o", ["baseline_o_c", "p_within", "p_between"], "therapist", "p_within"
    )
    assert aims.slope_at_zero(refit, scaled) == at_zero


def test_probe_only_significant_nonsingular(patients):
    res = aims.fit_aim3(patients, "symptoms", "alliance", MODERATORS)
    every = aims.fit_aim3(patients, "symptoms", "alliance", MODERATORS, probe="all")
    mod = res.moderation.set_index("moderator")
    probed = set(res.simple_slopes["moderator"])
    for m, fit in zip(res.moderators, res.fits, strict=True):
        wanted = (not fit.singular) and mod.loc[m, "p_fdr"] < aims.ALPHA
        assert (m in probed) == wanted, m
    assert set(every.simple_slopes["moderator"]) == set(MODERATORS)
    assert set(res.moderation.columns) == set(aims.MODERATION_COLUMNS)
    tables.check_contract(res.moderation, "aim3_moderation")
    tables.check_contract(every.simple_slopes, "aim3_simple_slopes")


def test_fixed_effects_table_names_the_model(patients):
    nested = aims.fit_aim1(patients, "symptoms", "alliance")
    slopes = aims.fit_within_slopes(patients, nested, ["alliance"])
    reported = aims.headline_coefficients(nested, slopes, patients)
    summary = {
        "outcome": "symptoms",
        "process": "alliance",
        "fit": nested.to_dict(),
        "reported": reported.to_dict("records"),
    }
    old = {"outcome": "symptoms", "process": "alliance", "fit": nested.to_dict()}
    table = tables.check_contract(tables.fixed_effects([summary, old]), "aim1_fixed_effects")
    assert list(table.columns) == tables.FIXED_COLUMNS
    first = table.iloc[: len(reported)]
    assert first.set_index("term").loc["alliance_within", "model"] == "random_slope"
    assert set(table.iloc[len(reported) :]["model"]) == {"random_intercept"}


def test_between_table_primary_and_identified(patients):
    fit = aims.fit_aim1(patients, "symptoms", "alliance")
    for primary in between.METHODS:
        effects = between.aim1_effects(fit, patients, "symptoms", ["alliance"], primary=primary)
        summary = {
            "outcome": "symptoms",
            "process": "alliance",
            "fit": fit.to_dict(),
            "effects": effects,
        }
        table = between.between_table([summary])
        assert set(table.loc[table["primary"], "method"]) == {primary}
        latent = table[table["method"] == "latent_mean"]
        boundary = effects["latent"]["boundary"]
        assert (~latent["identified"]).any() == (boundary or not effects["latent"]["converged"])
        assert table.loc[table["method"] == "observed_mean", "identified"].all()
    with pytest.raises(ValueError, match="between_estimate"):
        between.aim1_effects(fit, patients, "symptoms", ["alliance"], primary="median")


def test_bound_is_at_least_one():
    data = _study(1, therapists=3)
    fit = fit_mixed(data, "post_o", ["p_within", "m", "p_between"], "therapist")
    assert inference.between_df(data, fit) == 1.0
    assert not math.isnan(inference.reported_coefficients(fit, data)["p"].iloc[2])


def test_figure3_says_why_it_has_no_probe():
    from process_outcome.analysis.figures import simple_slopes_plot

    empty = pd.DataFrame(columns=aims.SIMPLE_SLOPE_COLUMNS)
    moderation = pd.DataFrame(
        {"outcome": ["o"], "process": ["p"], "moderator": ["m"], "singular": [False]}
    )
    text = simple_slopes_plot(empty, {}, moderation).axes[0].texts[0].get_text()
    assert "FDR" in text
    text = simple_slopes_plot(empty, {}, None).axes[0].texts[0].get_text()
    assert "configured" in text
