"""The session-level model: decomposition, lagged pairs and recovery of known session-level
effects where the last-observation patient-level design moves with outcome-driven change."""

import numpy as np
import pandas as pd
import pytest

from process_outcome.analysis.sessions import (
    add_moderators,
    fit_session_model,
    lagged_table,
    session_analysis,
    session_components,
)
from process_outcome.data.analysis_table import split_within_between
from process_outcome.data.simulate_sessions import simulate_session_study
from process_outcome.mixed import lmer

PROCESSES = ["alliance", "expectation"]


@pytest.mark.parametrize("centering", ["prior", "all"])
def test_parts_add_up_to_the_rating(centering):
    s = simulate_session_study(seed=4, n_therapists=8, n_patients=30).sessions
    s = s.sample(frac=1.0, random_state=1)  # row order must not matter
    parts = session_components(s, "alliance", centering=centering)
    total = parts.sum(axis=1, skipna=False)
    ok = s["alliance"].notna()
    assert parts[ok].notna().all().all() and parts.loc[~ok, "alliance_within"].isna().all()
    grand = (s["alliance"] - total)[ok]
    assert np.allclose(grand, grand.iloc[0])  # rating = parts + one grand mean
    if centering == "prior":
        first = s["session"].eq(1) & ok
        assert np.allclose(parts.loc[first, "alliance_within"], 0.0)
    else:
        pm = s.groupby("patient_id")["alliance"].transform("mean")
        assert np.allclose(parts["alliance_within"][ok], (s["alliance"] - pm)[ok])


def test_lagged_pairs_are_consecutive_and_complete():
    s = simulate_session_study(seed=2, n_therapists=6, n_patients=25).sessions
    s = s[~((s["patient_id"] == s["patient_id"].iloc[0]) & (s["session"] == 3))]
    t = lagged_table(s, "symptoms", PROCESSES)
    assert t.notna().all().all()
    nxt = s.set_index(["patient_id", "session"])["symptoms"]
    want = nxt.reindex(list(zip(t["patient_id"], t["session"] + 1, strict=True))).to_numpy()
    assert np.allclose(t["symptoms_next"], want)
    first = t[t["patient_id"] == s["patient_id"].iloc[0]]["session"]
    assert 2 not in set(first) and 3 not in set(first)  # the missed session breaks 2 pairs
    assert abs(t["symptoms_now_c"].mean()) < 1e-12


def _patient_level(sessions):
    """The current aims' design: last observed outcome on the process mean over all
    sessions (within and between therapists), intake outcome controlled."""
    d = sessions.sort_values(["patient_id", "session"])
    g = d.groupby("patient_id")
    p = g.agg(therapist_id=("therapist_id", "first"), base=("symptoms", "first"))
    p["post"] = g["symptoms"].last()
    p["base_c"] = p["base"] - p["base"].mean()
    for proc in PROCESSES:
        p[f"{proc}_mean"] = g[proc].mean()
        parts = split_within_between(p, f"{proc}_mean", group="therapist_id")
        p[f"{proc}_w"], p[f"{proc}_b"] = parts["within"], parts["between"]
    fit = lmer(
        "post ~ base_c + alliance_w + alliance_b + expectation_w + expectation_b"
        " + (1 + alliance_w | therapist_id)",
        p.reset_index(),
    )
    return fit.coef_table().set_index("term").loc["alliance_w", "estimate"]


def test_recovery_where_the_patient_level_design_moves():
    truth = simulate_session_study(seed=0, n_therapists=4, n_patients=8).truth
    truth = truth[truth["outcome"] == "symptoms"].set_index("parameter")["value"]
    rows = []
    for seed in range(4):
        for scale in (0.0, 1.0):
            s = simulate_session_study(seed=100 + seed, delta_scale=scale).sessions
            fit = fit_session_model(
                lagged_table(s, "symptoms", PROCESSES), "symptoms", PROCESSES, "alliance"
            )
            c = fit.coef_table().set_index("term")
            rows.append(
                {"scale": scale, "patient_level": _patient_level(s)}
                | {f"{k}_est": v for k, v in c["estimate"].items()}
                | {f"{k}_se": v for k, v in c["se"].items()}
            )
    r = pd.DataFrame(rows)
    on = r[r["scale"] == 1.0]
    n = len(on)
    for term, par in (
        ("symptoms_now_c", "lag"),
        ("alliance_within", "alliance_within"),
        ("alliance_between_patient", "alliance_between_patient"),
        ("expectation_within", "expectation_within"),
    ):
        err = on[f"{term}_est"].mean() - truth[par]
        assert abs(err) < 3 * on[f"{term}_se"].mean() / np.sqrt(n), (term, err)
    # Same seeds with and without the reverse path: it inflates the patient-level estimate
    # in every study (by about a fifth) and leaves the state-like estimate where it was.
    off = r[r["scale"] == 0.0]
    shift_patient = on["patient_level"].to_numpy() - off["patient_level"].to_numpy()
    shift_session = on["alliance_within_est"].to_numpy() - off["alliance_within_est"].to_numpy()
    assert (shift_patient < -0.04).all() and shift_patient.mean() < -0.06, shift_patient
    assert abs(shift_session.mean()) < 0.03, shift_session


def test_slope_variance_test_and_table():
    s = simulate_session_study(seed=7).sessions
    res = session_analysis(s, "symptoms", PROCESSES, "alliance")
    f = res.fixed
    assert list(f.columns[:4]) == ["outcome", "term", "estimate", "se"]
    assert (f["df"] > 1).all() and f["p"].between(0, 1).all()
    t = res.slope_test.iloc[0]
    assert t["lr"] >= 0 and 0 < t["p"] <= 1 and t["slope_sd"] > 0
    assert res.model.n_groups == {"therapist_id:patient_id": 212, "therapist_id": 42}


def test_moderated_within_slope():
    study = simulate_session_study(seed=11, n_therapists=80, n_patients=400)
    table = add_moderators(
        lagged_table(study.sessions, "symptoms", PROCESSES), study.therapists, ["self_alliance"]
    )
    fit = fit_session_model(table, "symptoms", PROCESSES, "alliance", moderators=["self_alliance"])
    row = fit.coef_table().set_index("term").loc["alliance_within:self_alliance"]
    truth = study.truth.set_index("parameter")["value"]["alliance_within:self_alliance"]
    assert abs(row["estimate"] - truth.iloc[0]) < 3 * row["se"]
    assert fit.n_groups["therapist_id"] == 80
