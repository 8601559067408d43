"""A simulated study with session-level generating values (sessions in patients in
therapists), for checking the session-level analysis against known truth.

Each session ``t`` has an outcome assessment (before the session) and process ratings
(after it). The process rating of patient ``i`` of therapist ``j`` is

    x_ijt = mu + tau_j + pi_i + e_ijt + delta * (y_ij,t-1 - y_ijt)

a therapist level ``tau_j``, a patient (trait-like) level ``pi_i``, a session-to-session
(state-like) deviation ``e_ijt`` and *outcome-driven process change*: the symptom
improvement the patient has just had raises the rating (``delta``; early symptom change
drives later alliance ratings). The outcome at the next session is

    y_ij,t+1 = c + rho y_ijt + (b_w + g m_j + u_1j) s_ijt + b_p (pi_i + d_i - pibar_j)
               + b_t (tau_j + pibar_j) + u_0j + v_i + eps

with ``s_ijt = x_ijt - (mu + tau_j + pi_i + d_i)`` the state-like deviation from the
patient's own level as known at ``t`` (``d_i`` the patient's mean outcome-driven shift
over sessions 1 to ``t``; see ``state_reference``), ``pibar_j`` the mean trait of the
therapist's patients (so that the trait-like and therapist parts are the ones the
analysis separates), therapist-varying state-like slopes ``u_1j``, their moderation by
the therapist's centred self-rated alliance skill ``m_j`` (aim 3) and random intercepts
of therapist and patient. Patients drop out at random given the observed outcome (MAR):
after each session from the second on, the chance of leaving rises with the improvement
from intake observed so far.

The generating values are per unit of the rating (unclipped, so about 1.5% of alliance
and 1% of expectation ratings fall beyond the 1-5 and 1-9 scales, which the workflow's
cleaning would set missing; ratings are rounded to two decimals only), so the
session-level model of :mod:`process_outcome.analysis.sessions` estimates them up to the
sampling error of the observed patient means. With ``delta > 0`` the patient-level design
(process mean over all sessions against the last observed outcome) picks up the reverse
path; with ``delta = 0`` it does not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from process_outcome.data.simulate import (
    OUTCOMES,
    PROCESSES,
    caseloads,
    simulate_therapists,
)

__all__ = [
    "SESSION_DROPOUT",
    "SESSION_FIXED",
    "SESSION_MODERATION",
    "SESSION_PROCESS",
    "SESSION_RANDOM",
    "SessionStudy",
    "simulate_session_study",
]

# Per outcome: the lagged outcome (rho), intercept (c) and per-session effects of the
# state-like (within-patient), trait-like (between-patient) and therapist-level process.
SESSION_FIXED = {
    "symptoms": {
        "intercept": 0.15,
        "lag": 0.75,
        "alliance_within": -0.20,
        "alliance_between_patient": -0.15,
        "alliance_between_therapist": -0.10,
        "expectation_within": -0.08,
        "expectation_between_patient": -0.05,
        "expectation_between_therapist": 0.00,
    },
    "functioning": {
        "intercept": 0.12,
        "lag": 0.75,
        "alliance_within": -0.15,
        "alliance_between_patient": -0.10,
        "alliance_between_therapist": -0.05,
        "expectation_within": -0.05,
        "expectation_between_patient": -0.03,
        "expectation_between_therapist": 0.00,
    },
}
SESSION_RANDOM = {
    "symptoms": {
        "intercept_sd": 0.10,  # therapist
        "alliance_within_slope_sd": 0.12,  # therapist-varying state-like slope
        "patient_sd": 0.08,
        "residual_sd": 0.35,
    },
    "functioning": {
        "intercept_sd": 0.08,
        "alliance_within_slope_sd": 0.10,
        "patient_sd": 0.08,
        "residual_sd": 0.35,
    },
}
SESSION_MODERATION = {  # (outcome, process, moderator): moderation of the within slope
    ("symptoms", "alliance", "self_alliance"): 0.06,
    ("functioning", "alliance", "self_alliance"): 0.04,
}
# Per process: mean, therapist SD, patient SD, state SD and outcome-driven change delta
# (rating units per unit of symptom improvement since the last session).
SESSION_PROCESS = {
    "alliance": {"mean": 3.6, "therapist_sd": 0.25, "patient_sd": 0.45, "state_sd": 0.30,
                 "delta": 0.50},
    "expectation": {"mean": 6.0, "therapist_sd": 0.45, "patient_sd": 0.90, "state_sd": 0.55,
                    "delta": 0.80},
}  # fmt: skip
# Dropout after session t >= 2: logit P = base + improvement * (y_1 - y_t) on symptoms.
SESSION_DROPOUT = {"base": -3.0, "improvement": 1.2}


@dataclass(frozen=True)
class SessionStudy:
    """A simulated session-level study.

    Attributes
    ----------
    sessions : DataFrame
        Long table ``patient_id, therapist_id, session, week, symptoms, functioning,
        alliance, expectation`` (the column conventions of
        :func:`process_outcome.data.simulate.simulate_study`), observed sessions only.
    therapists : DataFrame
        ``therapist_id`` and the six therapist characteristics.
    truth : DataFrame
        Generating values: ``outcome, process, moderator, parameter, value``.
    """

    sessions: pd.DataFrame
    therapists: pd.DataFrame
    truth: pd.DataFrame


def _truth_rows(
    fixed: Mapping[str, Mapping[str, float]],
    random: Mapping[str, Mapping[str, float]],
    moderation: Mapping[tuple[str, str, str], float],
    process: Mapping[str, Mapping[str, float]],
    moderator_var: float,
) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []

    def add(out: str, proc: str, mod: str, par: str, value: float) -> None:
        rows.append(
            {"outcome": out, "process": proc, "moderator": mod, "parameter": par, "value": value}
        )

    for out in OUTCOMES:
        for par, value in fixed[out].items():
            proc = next((p for p in PROCESSES if par.startswith(p)), "")
            add(out, proc, "", par, float(value))
        rnd = random[out]
        gamma = moderation.get((out, "alliance", "self_alliance"), 0.0)
        sd = rnd["alliance_within_slope_sd"]
        # Without the moderator in the model the moderated part is therapist variation too.
        add(
            out, "alliance", "", "within_slope_sd", float(np.sqrt(sd**2 + gamma**2 * moderator_var))
        )
        add(out, "alliance", "", "within_slope_sd_unexplained", float(sd))
        add(out, "alliance", "self_alliance", "alliance_within:self_alliance", float(gamma))
        for par in ("intercept_sd", "patient_sd", "residual_sd"):
            add(out, "", "", par, float(rnd[par]))
    for proc in PROCESSES:
        add("", proc, "", "outcome_driven_change", float(process[proc]["delta"]))
    return rows


def simulate_session_study(
    *,
    seed: int,
    n_therapists: int = 42,
    n_patients: int = 212,
    max_sessions: int = 10,
    delta_scale: float = 1.0,
    process_missing: float = 0.05,
    fixed: Mapping[str, Mapping[str, float]] | None = None,
    random: Mapping[str, Mapping[str, float]] | None = None,
    moderation: Mapping[tuple[str, str, str], float] | None = None,
    dropout: Mapping[str, float] | None = None,
    state_reference: str = "running",
) -> SessionStudy:
    """Simulate sessions in patients in therapists with known session-level effects.

    Parameters
    ----------
    seed : int
        Seed of the random generator; the same arguments give the same study.
    n_therapists, n_patients : int
        Numbers of therapists (unequal caseloads) and patients.
    max_sessions : int
        Weekly sessions offered (week 0 to ``max_sessions - 1``); dropout ends some early.
    delta_scale : float
        Multiplies every process's outcome-driven change ``delta``
        (:data:`SESSION_PROCESS`); 0 switches the reverse path off. The random draws do not
        depend on it, so two studies with the same seed differ only by that path.
    process_missing : float
        Share of process ratings missing completely at random.
    fixed, random, moderation, dropout : mapping, optional
        Generating values in the form of :data:`SESSION_FIXED`, :data:`SESSION_RANDOM`,
        :data:`SESSION_MODERATION` and :data:`SESSION_DROPOUT`; ``None`` keeps the defaults.
    state_reference : {"running", "latent"}
        The patient level the generating state-like deviation is taken from: ``"running"``
        (default) includes the patient's mean outcome-driven shift so far (``d_i`` above,
        the trait-like effect acting on it too); ``"latent"`` is the latent trait alone
        (``d_i = 0``: every outcome-driven shift is state-like). The benchmark checks the
        model under both.

    Returns
    -------
    SessionStudy

    Examples
    --------
    >>> study = simulate_session_study(seed=1, n_therapists=6, n_patients=20)
    >>> list(study.sessions.columns)[:5]
    ['patient_id', 'therapist_id', 'session', 'week', 'symptoms']
    >>> bool(study.sessions.groupby("patient_id")["session"].max().between(2, 10).all())
    True
    >>> simulate_session_study(seed=1, n_therapists=6, n_patients=20).sessions.equals(
    ...     study.sessions)
    True
    """
    fixed = SESSION_FIXED if fixed is None else fixed
    random = SESSION_RANDOM if random is None else random
    moderation = SESSION_MODERATION if moderation is None else moderation
    dropout = SESSION_DROPOUT if dropout is None else dropout
    if max_sessions < 3:
        raise ValueError("max_sessions must be at least 3 (a lagged model needs two pairs)")
    if state_reference not in ("running", "latent"):
        raise ValueError(f"state_reference must be 'running' or 'latent', not {state_reference!r}")
    running = 1.0 if state_reference == "running" else 0.0
    rng = np.random.default_rng(seed)
    therapists = simulate_therapists(n_therapists, rng)
    load = caseloads(n_therapists, n_patients, rng)
    row_t = np.repeat(np.arange(n_therapists), load)
    tid = therapists["therapist_id"].to_numpy()[row_t]
    width = max(4, len(str(n_patients)))
    pid = np.array([f"PT{i + 1:0{width}d}" for i in range(n_patients)])
    n_s = max_sessions

    # Process levels and state deviations: all draws made before any value is used, in a
    # fixed order, so the generating values do not change the random stream.
    levels = {}
    for proc in PROCESSES:
        pp = SESSION_PROCESS[proc]
        levels[proc] = (
            rng.normal(0, pp["therapist_sd"], n_therapists),
            rng.normal(0, pp["patient_sd"], n_patients),
            rng.normal(0, pp["state_sd"], (n_patients, n_s)),
        )
    moderator = therapists["self_alliance"].to_numpy()
    moderator_c = moderator - moderator.mean()
    effects = {}
    for out in OUTCOMES:
        rnd = random[out]
        effects[out] = (
            rng.normal(0, rnd["intercept_sd"], n_therapists),
            rng.normal(0, rnd["alliance_within_slope_sd"], n_therapists),
            rng.normal(0, rnd["patient_sd"], n_patients),
            rng.normal(0, rnd["residual_sd"], (n_patients, n_s)),
        )
    y = {
        "symptoms": np.empty((n_patients, n_s)),
        "functioning": np.empty((n_patients, n_s)),
    }
    y["symptoms"][:, 0] = rng.normal(1.4, 0.75, n_patients)
    y["functioning"][:, 0] = 0.5 * y["symptoms"][:, 0] + rng.normal(0.5, 0.6, n_patients)
    leave_u = rng.random((n_patients, n_s))
    missing_u = {proc: rng.random((n_patients, n_s)) for proc in PROCESSES}

    # The therapist-level part is the therapist's level plus the mean trait of their
    # patients, as the analysis splits it (patient means around their therapist's mean).
    pi_bar = {
        proc: np.bincount(row_t, levels[proc][1], n_therapists)
        / np.maximum(np.bincount(row_t, minlength=n_therapists), 1)
        for proc in PROCESSES
    }
    # Generate session by session: process after outcome, outcome of the next session.
    x = {proc: np.empty((n_patients, n_s)) for proc in PROCESSES}
    shift = {proc: np.zeros((n_patients, n_s)) for proc in PROCESSES}
    for t in range(n_s):
        improvement = y["symptoms"][:, t - 1] - y["symptoms"][:, t] if t else np.zeros(n_patients)
        for proc in PROCESSES:
            shift[proc][:, t] = delta_scale * SESSION_PROCESS[proc]["delta"] * improvement
        if t == n_s - 1:
            break
        # The outcome at t + 1 needs the state deviation at t from the patient's own level,
        # whose outcome-driven part d_i is the patient's mean shift so far (the future is
        # not known yet at t).
        for out in OUTCOMES:
            fx = fixed[out]
            u0, u1, v, eps = effects[out]
            gamma = moderation.get((out, "alliance", "self_alliance"), 0.0)
            lin = fx["intercept"] + fx["lag"] * y[out][:, t] + u0[row_t] + v + eps[:, t]
            for proc in PROCESSES:
                tau, pi, e = levels[proc]
                d_i = shift[proc][:, : t + 1].mean(axis=1) * running
                state = e[:, t] + shift[proc][:, t] - d_i
                slope = fx[f"{proc}_within"]
                if proc == "alliance":
                    slope = slope + gamma * moderator_c[row_t] + u1[row_t]
                lin = (
                    lin
                    + slope * state
                    + fx[f"{proc}_between_patient"] * (pi + d_i - pi_bar[proc][row_t])
                    + fx[f"{proc}_between_therapist"] * (tau[row_t] + pi_bar[proc][row_t])
                )
            y[out][:, t + 1] = lin
    for proc in PROCESSES:
        tau, pi, e = levels[proc]
        x[proc] = SESSION_PROCESS[proc]["mean"] + tau[row_t, None] + pi[:, None] + e + shift[proc]

    # MAR dropout: after session t (t >= 2, 1-based) the patient leaves with a chance that
    # rises with the symptom improvement from intake observed at t.
    n_obs = np.full(n_patients, n_s)
    for t in range(1, n_s - 1):
        gain = y["symptoms"][:, 0] - y["symptoms"][:, t]
        p_leave = 1.0 / (1.0 + np.exp(-(dropout["base"] + dropout["improvement"] * gain)))
        leaves = (n_obs == n_s) & (leave_u[:, t] < p_leave)
        n_obs[leaves] = t + 1
    keep = np.arange(n_s)[None, :] < n_obs[:, None]
    pi_idx, t_idx = np.nonzero(keep)
    sessions = pd.DataFrame(
        {
            "patient_id": pid[pi_idx],
            "therapist_id": tid[pi_idx],
            "session": t_idx + 1,
            "week": t_idx,
        }
    )
    for out in OUTCOMES:
        sessions[out] = np.round(y[out][pi_idx, t_idx], 3)
    for proc in PROCESSES:
        value = np.round(x[proc][pi_idx, t_idx], 2)
        value[missing_u[proc][pi_idx, t_idx] < process_missing] = np.nan
        sessions[proc] = value
    used = np.isin(np.arange(n_therapists), row_t)
    truth = pd.DataFrame(
        _truth_rows(fixed, random, moderation, SESSION_PROCESS, float(np.var(moderator_c[used]))),
        columns=["outcome", "process", "moderator", "parameter", "value"],
    )
    return SessionStudy(sessions=sessions, therapists=therapists, truth=truth)
