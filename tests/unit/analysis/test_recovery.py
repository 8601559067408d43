"""Parameter recovery: a large simulated study recovers its generating parameters.

Tolerances: fixed effects and moderator effects within 4 standard errors of the truth
(a failure rate of about 6e-5 per parameter for an unbiased estimator); slope SDs within
0.06 absolute (about twice their sampling SD at 300 therapists).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from process_outcome.analysis import aims
from process_outcome.config import load_config
from process_outcome.data.analysis_table import analysis_table
from process_outcome.data.simulate import simulate_study
from tests.conftest import ROOT, SCHEMA

OUTCOMES = ("symptoms", "functioning")


@pytest.fixture(scope="module")
def large_study():
    config = load_config(ROOT / "config" / "config.yaml", SCHEMA)
    study = simulate_study(seed=7, n_therapists=300, n_patients=3000, mess=False)
    sessions = study.sessions.assign(
        patient_id=study.sessions["patient_id"].astype("string"),
        therapist_id=study.sessions["therapist_id"].astype("string"),
    )
    therapists = study.therapists.assign(
        therapist_id=study.therapists["therapist_id"].astype("string")
    )
    _, table = analysis_table(sessions, therapists, config)
    return table, study.truth


def truth_value(
    truth: pd.DataFrame, outcome: str, parameter: str, process: str = "", moderator: str = ""
) -> float:
    sel = truth[
        (truth["outcome"] == outcome)
        & (truth["parameter"] == parameter)
        & (truth["process"] == process)
        & (truth["moderator"] == moderator)
    ]
    assert len(sel) == 1, (outcome, parameter, process, moderator)
    return float(sel["value"].iloc[0])


@pytest.mark.parametrize("outcome", OUTCOMES)
def test_fixed_effects_recovered(large_study, outcome):
    table, truth = large_study
    fit = aims.fit_aim1_joint(table, outcome, ["alliance", "expectation"])
    for row in fit.coefficients.itertuples():
        true = truth_value(truth, outcome, row.term)
        assert abs(row.estimate - true) < 4 * row.se, (row.term, row.estimate, true, row.se)


@pytest.mark.parametrize("outcome", OUTCOMES)
@pytest.mark.parametrize("process", ["alliance", "expectation"])
def test_slope_sd_and_moderation_recovered(large_study, outcome, process):
    table, truth = large_study
    nested = aims.fit_aim1(table, outcome, process)
    res = aims.fit_aim2(table, outcome, process, nested, higher_is="worse")
    true_sd = truth_value(truth, outcome, "slope_sd", process)
    assert abs(res.slope_sd - true_sd) < 0.06, (res.slope_sd, true_sd)
    assert res.p_mixture < 0.05 or true_sd < 0.15
    moderators = {"self_alliance": "continuous", "cbt": "binary", "experience": "continuous"}
    mod = aims.fit_aim3(table, outcome, process, moderators).moderation
    for row in mod.itertuples():
        true = truth_value(
            truth, outcome, f"{process}_within:{row.moderator}", process, row.moderator
        )
        assert abs(row.estimate - true) < 4 * row.se, (row.moderator, row.estimate, true, row.se)
    humble = mod.set_index("moderator").loc["self_alliance"]
    if truth_value(truth, outcome, f"{process}_within:self_alliance", process, "self_alliance") > 0:
        assert humble["p"] < 0.05 and humble["estimate"] > 0


def test_truth_table_is_complete(large_study):
    _, truth = large_study
    assert np.isfinite(truth["value"]).all()
    assert {"slope_sd", "(Intercept)", "alliance_within:self_alliance"} <= set(truth["parameter"])
