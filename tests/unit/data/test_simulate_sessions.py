"""The session-level simulator: shape, seeds, dropout and the outcome-driven path."""

import numpy as np

from process_outcome.data.simulate import OUTCOMES, PROCESSES
from process_outcome.data.simulate_sessions import simulate_session_study


def test_columns_ids_and_seed():
    a = simulate_session_study(seed=5, n_therapists=10, n_patients=40)
    b = simulate_session_study(seed=5, n_therapists=10, n_patients=40)
    c = simulate_session_study(seed=6, n_therapists=10, n_patients=40)
    assert a.sessions.equals(b.sessions)
    assert not a.sessions.equals(c.sessions)
    s = a.sessions
    assert list(s.columns) == [
        "patient_id", "therapist_id", "session", "week", *OUTCOMES, *PROCESSES
    ]  # fmt: skip
    assert s["patient_id"].nunique() == 40
    assert s.groupby("patient_id")["therapist_id"].nunique().eq(1).all()
    # sessions are 1..n without gaps (dropout ends a course; it does not skip sessions)
    n = s.groupby("patient_id")["session"].agg(["max", "size"])
    assert (n["max"] == n["size"]).all() and n["max"].min() >= 2
    assert s[list(OUTCOMES)].notna().all().all()
    assert 0 < s["alliance"].isna().mean() < 0.15


def test_dropout_depends_on_observed_improvement():
    s = simulate_session_study(seed=1, n_therapists=42, n_patients=600).sessions
    per = s.groupby("patient_id").agg(n=("session", "max"))
    first = s[s["session"] == 1].set_index("patient_id")["symptoms"]
    second = s[s["session"] == 2].set_index("patient_id")["symptoms"]
    gain = (first - second).reindex(per.index)
    early = per["n"] < 10
    assert 0.2 < early.mean() < 0.8
    # MAR: patients who improved early leave earlier
    assert gain[early].mean() > gain[~early].mean()


def test_delta_only_changes_the_reverse_path():
    on = simulate_session_study(seed=3, n_therapists=20, n_patients=100)
    off = simulate_session_study(seed=3, n_therapists=20, n_patients=100, delta_scale=0.0)
    # same draws: intake outcomes are identical, process ratings differ
    f_on = on.sessions[on.sessions["session"] == 1]
    f_off = off.sessions[off.sessions["session"] == 1]
    assert np.allclose(f_on["symptoms"], f_off["symptoms"])
    assert np.allclose(f_on["alliance"], f_off["alliance"], equal_nan=True)
    # with the path on, a session's rating rises with the improvement just observed
    d = on.sessions.sort_values(["patient_id", "session"])
    imp = -d.groupby("patient_id")["symptoms"].diff()
    dx = d.groupby("patient_id")["alliance"].diff()
    d0 = off.sessions.sort_values(["patient_id", "session"])
    imp0 = -d0.groupby("patient_id")["symptoms"].diff()
    dx0 = d0.groupby("patient_id")["alliance"].diff()
    assert imp.corr(dx) > imp0.corr(dx0) + 0.2


def test_truth_table():
    t = simulate_session_study(seed=1, n_therapists=8, n_patients=30).truth
    assert list(t.columns) == ["outcome", "process", "moderator", "parameter", "value"]
    row = t[(t["outcome"] == "symptoms") & (t["parameter"] == "alliance_within")]
    assert row["value"].item() == -0.20
    sd = t[(t["outcome"] == "symptoms") & (t["parameter"] == "within_slope_sd")]["value"].item()
    assert sd > 0.12  # the moderated part adds to the marginal slope SD
