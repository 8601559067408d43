"""Robustness variants: each variant's data change checked by hand on small tables, the
variant path against the main analysis path, infeasible variants reported, and the config
checks of the ``robustness`` list."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import yaml

from process_outcome.analysis import aims, tables
from process_outcome.analysis.robustness import (
    SESSIONS_TERM,
    fit_variant,
    key_estimates,
    variant_sessions,
    variant_table,
)
from process_outcome.config import validate_config, variant_config
from process_outcome.data.analysis_table import analysis_table
from process_outcome.data.cleaning import clean
from process_outcome.data.simulate import simulate_study
from process_outcome.errors import InputError
from tests.conftest import ROOT, SCHEMA


@pytest.fixture(scope="module")
def study():
    """A small simulated study in the default config's column names, and its config."""
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    config["simulate"].update(n_therapists=16, n_patients=90, seed=11)
    config = validate_config(config, SCHEMA)
    sim = simulate_study(seed=11, n_therapists=16, n_patients=90, max_sessions=9, mess=False)
    tables_ = {
        "sessions": sim.sessions.astype({"patient_id": str, "therapist_id": str}),
        "therapists": sim.therapists.astype({"therapist_id": str}),
        "patients": sim.patients.astype({"patient_id": str}),
    }
    return tables_, config


SESSIONS = pd.DataFrame(
    {
        "patient": ["a"] * 4 + ["b"] * 3,
        "session": [1, 2, 3, 4, 1, 2, 3],
        "y": [5.0, 4.0, 3.0, np.nan, 6.0, np.nan, np.nan],
        "p": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0],
    }
)


def test_precedence_keeps_only_ratings_before_the_last_outcome_assessment():
    out = variant_sessions(SESSIONS, ["y"], ["p"], {"process_before_outcome": True})
    # a: last outcome at session 3, so ratings of sessions 3 and 4 go; b: last outcome at 1.
    assert out["p"].notna().tolist() == [True, True, False, False, False, False, False]
    assert out["y"].equals(SESSIONS["y"])  # outcomes untouched


def test_completers_are_patients_assessed_at_the_final_session():
    sessions = SESSIONS.copy()
    sessions.loc[3, "y"] = 2.0  # a now assessed at session 4, the final one
    out = variant_sessions(sessions, ["y"], ["p"], {"completers_only": True})
    assert set(out["patient"]) == {"a"}
    assert variant_sessions(SESSIONS, ["y"], ["p"], {"completers_only": True}).empty


def test_variant_config_changes_only_what_the_variant_names():
    main = {
        "analysis": {"process_sessions": None, "min_caseload_slopes": 1},
        "cleaning": {"min_outcome_assessments": 2, "out_of_range": "missing"},
        "measures": {"covariates": {"age": {"column": "age", "type": "continuous"}}},
    }
    before = copy.deepcopy(main)
    arm = {"column": "arm", "type": "categorical"}
    out = variant_config(
        main, {"name": "v", "label": "V", "min_outcome_assessments": 3, "covariates": {"arm": arm}}
    )
    assert main == before  # not modified in place
    assert out["cleaning"] == {"min_outcome_assessments": 3, "out_of_range": "missing"}
    assert out["analysis"] == main["analysis"]
    assert set(out["measures"]["covariates"]) == {"age", "arm"}


def test_a_variant_that_repeats_the_main_settings_gives_the_main_estimates(study):
    tables_, config = study
    variant = {"name": "same", "label": "Same", "min_caseload_slopes": 1}
    est = fit_variant(tables_, config, variant)
    # The main analysis's path: the workflow's cleaning, analysis table and model code.
    _, table = analysis_table(
        tables_["sessions"], tables_["therapists"], config, patients=tables_["patients"]
    )
    fit = aims.fit_aim1(table, "symptoms", "alliance")
    slopes = aims.fit_within_slopes(table, fit, ["alliance"])
    headline = aims.headline_coefficients(fit, slopes, table).set_index("term")
    within = headline.loc["alliance_within", "estimate"]
    row = est[(est.outcome == "symptoms") & (est.process == "alliance") & (est.aim == "aim1")]
    assert row.set_index("parameter").loc["within", "estimate"] == pytest.approx(within, abs=1e-10)
    assert est["problem"].isna().all()
    assert set(est["aim"]) == {"aim1", "aim2", "aim3"}
    assert (est.loc[est.aim == "aim1", "n_patients"] == len(table)).all()


def test_sessions_adjustment_adds_the_centred_count_to_every_model(study):
    tables_, config = study
    variant = {"name": "s", "label": "S", "adjust_sessions": True}
    vconfig = variant_config(config, variant)
    data = clean(tables_["sessions"], tables_["therapists"], vconfig, patients=tables_["patients"])
    table = variant_table(data, vconfig, variant)
    counts = data.sessions.groupby("patient").size()
    expected = counts - counts.mean()
    got = table.set_index("patient")[SESSIONS_TERM]
    assert np.allclose(got.to_numpy(), expected.reindex(got.index).to_numpy())
    fit = aims.fit_aim1(table, "symptoms", "alliance", [SESSIONS_TERM])
    assert SESSIONS_TERM in fit.terms


def test_an_infeasible_variant_is_reported_not_raised(study):
    tables_, config = study
    est = fit_variant(tables_, config, {"name": "big", "label": "Big", "min_caseload_slopes": 50})
    assert len(est) == 1 and est["estimate"].isna().all()
    assert "min_caseload_slopes" in est["problem"].iloc[0]


def test_key_estimates_take_aim3_significance_from_the_fdr_column():
    a1 = pd.DataFrame(columns=tables.FIXED_COLUMNS)
    a2 = pd.DataFrame(columns=tables.SLOPE_TEST_COLUMNS)
    a3 = pd.DataFrame(
        [
            {"outcome": "y", "process": "p", "moderator": "m", "estimate": 0.2, "se": 0.1,
             "df": 20.0, "t": 2.0, "p": 0.04, "p_fdr": 0.2, "ci_low": 0.0, "ci_high": 0.4,
             "singular": False}
        ]
    )  # fmt: skip
    out = key_estimates(a1, a2, a3, "main", (10, 3))
    assert out.loc[0, ["aim", "parameter", "p", "p_fdr"]].tolist() == ["aim3", "m", 0.04, 0.2]


@pytest.mark.parametrize(
    ("variants", "message"),
    [
        ([{"name": "a", "label": "A", "completers_only": True}] * 2, "its own name"),
        ([{"name": "a", "label": "A"}], "changes nothing"),
        ([{"name": "a", "label": "A", "process_sessions": [4, 2]}], "Did you mean [2, 4]"),
        (
            [
                {
                    "name": "a",
                    "label": "A",
                    "covariates": {"alliance": {"column": "x", "type": "continuous"}},
                }
            ],
            "already a measure key",
        ),
        ([{"name": "A b", "label": "A", "completers_only": True}], "robustness"),
    ],
)
def test_robustness_config_mistakes_are_named(variants, message):
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    config["robustness"] = variants
    with pytest.raises(InputError, match=message.replace("[", r"\[").replace("]", r"\]")):
        validate_config(config, SCHEMA)


def test_validate_warns_about_a_variant_that_cannot_be_fitted(capsys):
    from process_outcome.steps.data import validate_data

    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    config["simulate"].update(n_therapists=12, n_patients=60)
    config["robustness"] = [
        {
            "name": "typo",
            "label": "Typo",
            "covariates": {"site": {"column": "clinic_site", "type": "categorical"}},
        }
    ]
    validate_data(validate_config(config, SCHEMA))
    out = capsys.readouterr().out
    assert "WARNING: robustness variant 'typo' cannot be fitted" in out
    assert "clinic_site" in out
