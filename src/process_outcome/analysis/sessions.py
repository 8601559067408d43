"""The session-level analysis: sessions in patients in therapists, every assessment used.

The process rating at session ``t`` is split into three parts (Curran & Bauer, 2011):
its *within-patient* (state-like) part, the deviation from the patient's own level; the
*between-patient-within-therapist* (trait-like) part, the patient's level minus their
therapist's mean; and the *between-therapist* part, the therapist's mean minus the grand
mean. By default the patient's level is the mean of their ratings *up to and including*
session ``t`` (``centering="prior"``): the textbook mean over all sessions
(``centering="all"``) puts ratings made after the next outcome into the predictor, and
when improvement raises later ratings that biases the within effect towards zero (the
person-mean analogue of Nickell's bias; measured in
``benchmarks/bench_session_recovery.py``). The response is the
outcome at the next session, with the current outcome controlled (grand-mean centred):

    y_next ~ y_now_c + process_within + process_between_patient + process_between_therapist
             + (1 + process_within | therapist) + (1 | therapist:patient)

fitted by the nested engine (:func:`process_outcome.mixed.lmer`), so that the state-like
slope varies across therapists (aim 2).

Why a lagged model rather than a growth formulation. The question is temporal: does a
better-than-usual alliance in this session precede less distress at the next one? A growth
model of all assessments under ML (which is valid under MAR) relates the process to the
level or slope of the trajectory, where early symptom change that *raises* later process
ratings (outcome-driven process change) enters the association; the lagged model with the
current outcome controlled removes the symptom level the rating was made at, the approach
of Falkenström et al. (2017) and Zilcha-Mano (2017) for the state-like alliance effect.
Its assumptions: the lag is one session (pairs of consecutive observed sessions; a missed
session breaks a pair); no unmeasured time-varying confounder of rating and next outcome;
the patient level is estimated from that patient's observed ratings (a patient with few
sessions has a noisier trait part, attenuating the between effects; Lüdtke et al. 2008);
dropout that depends on observed outcomes is ignorable for the likelihood (MAR) because
the fitted rows are conditioned on the current outcome; and the patient random intercept
is small next to the lag (a lagged outcome with a random intercept has the dynamic-panel
bias of order 1/T; Falkenström et al. 2017 discuss it). With ``centering="all"`` the
patient mean includes ratings made after the outcome, so neither part is free of the
reverse path; with ``"prior"`` both parts use ratings up to the current session only.

References: Curran, P. J., & Bauer, D. J. (2011). Annu Rev Psychol, 62, 583-619.
Lüdtke, O., et al. (2008). Psychol Methods, 13(3), 203-229. Nickell, S. (1981).
Econometrica, 49(6), 1417-1426.
Falkenström, F., Finkel, S., Sandell, R., Rubel, J. A., & Holmqvist, R. (2017). J Consult
Clin Psychol, 85(6), 537-549. Zilcha-Mano, S. (2017). Am Psychol, 72(4), 311-325.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from process_outcome.mixed import LinearMixedModel, lmer, mixture_lr_test

__all__ = [
    "CENTERINGS",
    "SESSION_PARTS",
    "SessionAnalysis",
    "add_moderators",
    "fit_session_model",
    "lagged_table",
    "session_analysis",
    "session_components",
    "session_formula",
]

SESSION_PARTS = ("within", "between_patient", "between_therapist")


CENTERINGS = ("prior", "all")


def session_components(
    sessions: pd.DataFrame,
    process: str,
    patient: str = "patient_id",
    therapist: str = "therapist_id",
    session: str = "session",
    centering: str = "prior",
) -> pd.DataFrame:
    """Split a session-level process rating into within-patient, between-patient and
    between-therapist parts.

    Parameters
    ----------
    sessions : DataFrame
        One row per session with ``process``, ``patient``, ``therapist`` and ``session``.
    process : str
        The rating column.
    patient, therapist, session : str
        Id and session-number columns.
    centering : {"prior", "all"}
        The patient's own level the within part deviates from: ``"prior"`` (default) the
        mean of the patient's observed ratings up to and including this session, so no
        rating made after the next outcome enters the predictor; ``"all"`` the mean over
        all the patient's observed ratings (Curran & Bauer, 2011), which takes in ratings
        raised by later improvement and so attenuates the within effect when improvement
        drives the process (measured in ``benchmarks/bench_session_recovery.py``).

    Returns
    -------
    DataFrame
        ``<process>_within`` (rating minus the patient's level),
        ``<process>_between_patient`` (patient level minus the therapist's mean of
        patient levels) and ``<process>_between_therapist`` (therapist mean minus the
        grand mean), aligned with ``sessions``. With ``"all"`` the levels are the
        patient means; with ``"prior"`` the patient level is the running mean and the
        therapist mean is over the therapist's rated sessions. A missing rating has a
        missing within part (with ``"prior"`` a missing patient part too).

    Examples
    --------
    >>> d = pd.DataFrame({"patient_id": ["a", "a", "b", "b", "c"],
    ...                   "therapist_id": ["T1", "T1", "T1", "T1", "T2"],
    ...                   "session": [1, 2, 1, 2, 1],
    ...                   "alliance": [3.0, 5.0, 2.0, 2.0, 4.0]})
    >>> session_components(d, "alliance", centering="all").round(3).values.tolist()[::2]
    [[-1.0, 1.0, -0.333], [0.0, -1.0, -0.333], [0.0, 0.0, 0.667]]
    >>> session_components(d, "alliance").round(3)["alliance_within"].tolist()
    [0.0, 1.0, 0.0, 0.0, 0.0]
    """
    if centering not in CENTERINGS:
        raise ValueError(f"centering must be one of {CENTERINGS}, not {centering!r}")
    rating = sessions[process].astype(float)
    if centering == "all":
        pmean = rating.groupby(sessions[patient]).mean()
        owner = sessions.groupby(patient)[therapist].first()
        patients = pd.DataFrame({"mean": pmean, "therapist": owner.reindex(pmean.index)})
        patients = patients.dropna(subset=["mean"])
        tmean = patients.groupby("therapist")["mean"].mean()
        grand = patients["mean"].mean()
        row_p = sessions[patient].map(patients["mean"])
        row_t = sessions[therapist].map(tmean)
    else:
        order = sessions.sort_values([patient, session]).index
        r = rating.loc[order]
        g = sessions.loc[order, patient]
        total = r.fillna(0.0).groupby(g).cumsum()
        count = r.notna().astype(float).groupby(g).cumsum()
        row_p = (total / count.where(count > 0)).where(r.notna()).reindex(sessions.index)
        row_t = row_p.groupby(sessions[therapist]).transform("mean")
        grand = row_p.mean()
    return pd.DataFrame(
        {
            f"{process}_within": rating - row_p,
            f"{process}_between_patient": row_p - row_t,
            f"{process}_between_therapist": row_t - grand,
        },
        index=sessions.index,
    )


def lagged_table(
    sessions: pd.DataFrame,
    outcome: str,
    processes: Sequence[str],
    patient: str = "patient_id",
    therapist: str = "therapist_id",
    session: str = "session",
    centering: str = "prior",
) -> pd.DataFrame:
    """Pairs of consecutive sessions: the process parts and outcome at ``t`` and the
    outcome at ``t + 1``.

    Parameters
    ----------
    sessions : DataFrame
        Long session table (one row per patient and session number).
    outcome : str
        Outcome column.
    processes : sequence of str
        Process columns, split by :func:`session_components` over all observed ratings.
    patient, therapist, session : str
        Id and session-number columns.
    centering : {"prior", "all"}
        The patient level of :func:`session_components`.

    Returns
    -------
    DataFrame
        ``patient, therapist, session``, ``<outcome>_next``, ``<outcome>_now`` and
        ``<outcome>_now_c`` (centred on the rows kept) and the process parts, one row per
        pair with every value observed; a missed session breaks the pair.

    Examples
    --------
    >>> d = pd.DataFrame({"patient_id": ["a"] * 3 + ["b"] * 3, "therapist_id": "T1",
    ...                   "session": [1, 2, 3, 1, 3, 4], "y": [2.0, 1.5, 1.0, 3.0, 2.0, 1.0],
    ...                   "x": [3.0, 4.0, 5.0, 2.0, 3.0, 4.0]})
    >>> lagged_table(d, "y", ["x"])[["patient_id", "session", "y_now", "y_next"]].values.tolist()
    [['a', 1, 2.0, 1.5], ['a', 2, 1.5, 1.0], ['b', 3, 2.0, 1.0]]
    """
    d = sessions.sort_values([patient, session]).reset_index(drop=True)
    parts = pd.concat(
        [session_components(d, p, patient, therapist, session, centering) for p in processes],
        axis=1,
    )
    nxt = d.groupby(patient)[[session, outcome]].shift(-1)
    consecutive = nxt[session].eq(d[session] + 1)
    out = pd.concat(
        [
            d[[patient, therapist, session]],
            pd.DataFrame(
                {
                    f"{outcome}_next": nxt[outcome].where(consecutive),
                    f"{outcome}_now": d[outcome].astype(float),
                }
            ),
            parts,
        ],
        axis=1,
    )
    out = out.dropna().reset_index(drop=True)
    out[f"{outcome}_now_c"] = out[f"{outcome}_now"] - out[f"{outcome}_now"].mean()
    return out


def add_moderators(
    table: pd.DataFrame,
    therapists: pd.DataFrame,
    moderators: Sequence[str],
    therapist: str = "therapist_id",
) -> pd.DataFrame:
    """Add therapist characteristics to a :func:`lagged_table`, centred on the mean over
    the therapists in the table (each therapist once), for aim 3's cross-level terms.

    Examples
    --------
    >>> t = pd.DataFrame({"therapist_id": ["A", "A", "B"], "y_next": [1.0, 2.0, 3.0]})
    >>> th = pd.DataFrame({"therapist_id": ["A", "B", "C"], "skill": [4.0, 6.0, 9.0]})
    >>> add_moderators(t, th, ["skill"])["skill"].tolist()
    [-1.0, -1.0, 1.0]
    """
    info = therapists.set_index(therapist)
    missing = sorted(set(table[therapist]) - set(info.index))
    if missing:
        raise ValueError(f"{len(missing)} therapists of the sessions have no row in therapists")
    present = info.loc[info.index.isin(table[therapist]), list(moderators)].astype(float)
    out = table.copy()
    for m in moderators:
        out[m] = table[therapist].map(present[m] - present[m].mean()).to_numpy()
    return out


def session_formula(
    outcome: str,
    processes: Sequence[str],
    slope: str | None,
    patient: str = "patient_id",
    therapist: str = "therapist_id",
    moderators: Sequence[str] = (),
) -> str:
    """The lme4 formula of the session-level model.

    ``moderators`` (centred therapist characteristics, :func:`add_moderators`) enter with
    their main effects and their interactions with ``slope``'s within part (aim 3).

    Examples
    --------
    >>> session_formula("y", ["x"], "x")  # doctest: +NORMALIZE_WHITESPACE
    'y_next ~ y_now_c + x_within + x_between_patient + x_between_therapist
     + (1 + x_within | therapist_id) + (1 | therapist_id:patient_id)'
    """
    fixed = [f"{outcome}_now_c"] + [f"{p}_{part}" for p in processes for part in SESSION_PARTS]
    if slope is not None:
        # a cross-level interaction with its main effect (the moderator's own term)
        fixed += [*moderators, *(f"{slope}_within:{m}" for m in moderators)]
    lhs = f"1 + {slope}_within" if slope is not None else "1"
    return (
        f"{outcome}_next ~ {' + '.join(fixed)} + ({lhs} | {therapist}) "
        f"+ (1 | {therapist}:{patient})"
    )


def fit_session_model(
    table: pd.DataFrame,
    outcome: str,
    processes: Sequence[str],
    slope: str | None = None,
    patient: str = "patient_id",
    therapist: str = "therapist_id",
    moderators: Sequence[str] = (),
    reml: bool = True,
) -> LinearMixedModel:
    """Fit the session-level model to a :func:`lagged_table`.

    Parameters
    ----------
    table : DataFrame
        From :func:`lagged_table` (plus moderator columns, centred, if ``moderators``).
    outcome : str
        Outcome name (the table has ``<outcome>_next`` and ``<outcome>_now_c``).
    processes : sequence of str
        Processes whose three parts enter the fixed part.
    slope : str, optional
        Process whose within-patient slope varies across therapists (``None``: random
        intercepts only).
    patient, therapist : str
        Id columns.
    moderators : sequence of str
        Therapist characteristics moderating the ``slope`` process's within slope (aim 3).
    reml : bool
        REML (default) or ML.

    Returns
    -------
    LinearMixedModel
    """
    formula = session_formula(outcome, processes, slope, patient, therapist, moderators)
    return lmer(formula, table, REML=reml)


@dataclass(frozen=True)
class SessionAnalysis:
    """Results of :func:`session_analysis`.

    Attributes
    ----------
    fixed : DataFrame
        ``outcome, term, estimate, se, df, t, p, ci_low, ci_high`` (Satterthwaite df) of
        the random-slope model.
    slope_test : DataFrame
        One row: ``outcome, process, slope_sd, lr, p, converged, singular`` (mixture LR
        test of the therapist variance of the within slope against the intercept model).
    model, intercept_model : LinearMixedModel
        The two fits.
    """

    fixed: pd.DataFrame
    slope_test: pd.DataFrame
    model: LinearMixedModel
    intercept_model: LinearMixedModel


def session_analysis(
    sessions: pd.DataFrame,
    outcome: str,
    processes: Sequence[str],
    slope: str,
    patient: str = "patient_id",
    therapist: str = "therapist_id",
    session: str = "session",
    centering: str = "prior",
) -> SessionAnalysis:
    """Fit the session-level model with a therapist-varying within slope and test it.

    Parameters
    ----------
    sessions : DataFrame
        Long session table.
    outcome : str
        Outcome column.
    processes : sequence of str
        Process columns.
    slope : str
        The process whose within-patient (state-like) slope varies across therapists.
    patient, therapist, session : str
        Id and session-number columns.
    centering : {"prior", "all"}
        The patient level of :func:`session_components`.

    Returns
    -------
    SessionAnalysis

    Examples
    --------
    >>> from process_outcome.data.simulate_sessions import simulate_session_study
    >>> s = simulate_session_study(seed=2, n_therapists=12, n_patients=60).sessions
    >>> res = session_analysis(s, "symptoms", ["alliance"], "alliance")
    >>> res.fixed["term"].tolist()[:3]
    ['(Intercept)', 'symptoms_now_c', 'alliance_within']
    >>> list(res.slope_test.columns)
    ['outcome', 'process', 'slope_sd', 'lr', 'p', 'converged', 'singular']
    """
    table = lagged_table(sessions, outcome, processes, patient, therapist, session, centering)
    model = fit_session_model(table, outcome, processes, slope, patient, therapist)
    base = fit_session_model(table, outcome, processes, None, patient, therapist)
    lr, p = mixture_lr_test(model.loglik, base.loglik)
    key = f"{therapist}|{slope}_within|"
    fixed = model.coef_table()
    fixed.insert(0, "outcome", outcome)
    test = pd.DataFrame(
        [
            {
                "outcome": outcome,
                "process": slope,
                "slope_sd": float(np.sqrt(max(model.variance_components[key], 0.0))),
                "lr": lr,
                "p": p,
                "converged": bool(model.converged and base.converged),
                "singular": bool(model.singular),
            }
        ]
    )
    return SessionAnalysis(fixed=fixed, slope_test=test, model=model, intercept_model=base)
