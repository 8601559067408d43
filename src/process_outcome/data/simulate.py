"""The default simulated study (spec section 5), with known generating parameters.

The study has the published shape: therapists with unequal caseloads, assessments every
two weeks for up to 16 weeks (up to 9 occasions) with dropout, two outcomes on a
z-score metric where higher is worse, alliance on 1–5 and expectation on 1–9, therapist
self-ratings, orientation and experience, and patient trial arm.

The outcome at a patient's last observed assessment is generated from the patient-level
model of spec section 4 *with the process components computed exactly as the analysis
computes them* (observed means, centred within and between therapists), so the
generating parameters are the true values of the fitted models and truth recovery is a
fair check.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from process_outcome.data.analysis_table import split_within_between

__all__ = [
    "EXAMPLE_ITEMS",
    "MODERATORS",
    "OUTCOMES",
    "PROCESSES",
    "SCALES",
    "SLOPE_CORRELATION",
    "TRUE_FIXED",
    "TRUE_MODERATION",
    "TRUE_RANDOM",
    "SimulatedStudy",
    "caseloads",
    "example_own_data",
    "main",
    "simulate_study",
    "simulate_therapists",
    "write_example_data",
]

OUTCOMES = ("symptoms", "functioning")
PROCESSES = ("alliance", "expectation")
MODERATORS = (
    "self_alliance",
    "self_expectation",
    "use_alliance",
    "use_expectation",
    "cbt",
    "experience",
)
SCALES = {"alliance": (1.0, 5.0), "expectation": (1.0, 9.0)}

# Generating parameters per outcome: fixed effects of the patient-level model, therapist
# random-effect SDs and the cross-level moderation of the alliance slope by
# self-rated alliance-fostering skill (humbler therapists: stronger association).
TRUE_FIXED = {
    "symptoms": {
        "(Intercept)": 1.00,
        "baseline_c": 0.55,
        "alliance_within": -0.45,
        "alliance_between": -0.30,
        "expectation_within": -0.20,
        "expectation_between": -0.10,
    },
    "functioning": {
        "(Intercept)": 0.90,
        "baseline_c": 0.60,
        "alliance_within": -0.30,
        "alliance_between": -0.20,
        "expectation_within": -0.15,
        "expectation_between": -0.05,
    },
}
TRUE_RANDOM = {
    "symptoms": {
        "intercept_sd": 0.25,
        "alliance_slope_sd": 0.30,
        "expectation_slope_sd": 0.10,
        "residual_sd": 0.45,
    },
    "functioning": {
        "intercept_sd": 0.20,
        "alliance_slope_sd": 0.20,
        "expectation_slope_sd": 0.08,
        "residual_sd": 0.45,
    },
}
SLOPE_CORRELATION = 0.3  # therapists' alliance and expectation slopes
TRUE_MODERATION = {  # (outcome, process, moderator): interaction coefficient
    ("symptoms", "alliance", "self_alliance"): 0.15,
    ("functioning", "alliance", "self_alliance"): 0.10,
}


@dataclass(frozen=True)
class SimulatedStudy:
    """A simulated study.

    Attributes
    ----------
    sessions : DataFrame
        Long table ``patient_id, therapist_id, session, week, symptoms, functioning,
        alliance, expectation`` including the configured mess.
    therapists : DataFrame
        ``therapist_id`` and the six therapist characteristics.
    patients : DataFrame
        ``patient_id, arm, age``.
    truth : DataFrame
        Generating parameters: ``outcome, process, moderator, parameter, value``.
    """

    sessions: pd.DataFrame
    therapists: pd.DataFrame
    patients: pd.DataFrame
    truth: pd.DataFrame


def caseloads(n_therapists: int, n_patients: int, rng: np.random.Generator) -> np.ndarray:
    """Unequal caseloads (at least one patient each) summing to ``n_patients``.

    Lognormal weights give the skew of community clinics: most therapists see a few
    patients and some see about a dozen.
    """
    if n_patients < n_therapists:
        raise ValueError("n_patients must be at least n_therapists")
    weights = rng.lognormal(0.0, 0.6, n_therapists)
    extra = rng.multinomial(n_patients - n_therapists, weights / weights.sum())
    return extra + 1


def _likert(
    rng: np.random.Generator, n: int, mean: float, sd: float, lo: int, hi: int
) -> np.ndarray:
    return np.clip(np.round(rng.normal(mean, sd, n)), lo, hi)


def simulate_therapists(n_therapists: int, rng: np.random.Generator) -> pd.DataFrame:
    """Therapist ids and characteristics (self-ratings on 1–7, orientation, experience)."""
    width = max(3, len(str(n_therapists)))
    return pd.DataFrame(
        {
            "therapist_id": [f"TH{j + 1:0{width}d}" for j in range(n_therapists)],
            "self_alliance": _likert(rng, n_therapists, 5.3, 1.0, 1, 7),
            "self_expectation": _likert(rng, n_therapists, 4.8, 1.1, 1, 7),
            "use_alliance": _likert(rng, n_therapists, 5.6, 0.9, 1, 7),
            "use_expectation": _likert(rng, n_therapists, 4.5, 1.2, 1, 7),
            "cbt": rng.binomial(1, 0.45, n_therapists).astype(float),
            "experience": np.round(rng.gamma(2.0, 4.5, n_therapists), 1),
        }
    )


def simulate_study(
    *,
    seed: int,
    n_therapists: int = 42,
    n_patients: int = 212,
    max_sessions: int = 9,
    mess: bool = True,
    true_fixed: Mapping[str, Mapping[str, float]] | None = None,
    true_random: Mapping[str, Mapping[str, float]] | None = None,
    true_moderation: Mapping[tuple[str, str, str], float] | None = None,
) -> SimulatedStudy:
    """Simulate a study of the published shape with known generating parameters.

    Parameters
    ----------
    seed : int
        Seed of the random generator; the same seed gives the same study.
    n_therapists, n_patients : int
        Numbers of therapists and patients.
    max_sessions : int
        Maximum number of assessment occasions (every two weeks from week 0).
    mess : bool
        Add realistic mess that the cleaning must handle: exact duplicate rows,
        out-of-range ratings, missed surveys and patients who drop out after intake.
    true_fixed, true_random, true_moderation : mapping, optional
        Generating values in the form of :data:`TRUE_FIXED` (per outcome),
        :data:`TRUE_RANDOM` (per outcome) and :data:`TRUE_MODERATION` (keyed by
        ``(outcome, process, moderator)``, only ``self_alliance`` moderates); ``None``
        keeps the module defaults. Used by design planning (:mod:`process_outcome.analysis.power`);
        the random draws do not depend on the values, so the defaults give the same study.

    Returns
    -------
    SimulatedStudy
    """
    fixed_values = TRUE_FIXED if true_fixed is None else true_fixed
    random_values = TRUE_RANDOM if true_random is None else true_random
    moderation_values = TRUE_MODERATION if true_moderation is None else true_moderation
    rng = np.random.default_rng(seed)
    therapists = simulate_therapists(n_therapists, rng)
    load = caseloads(n_therapists, n_patients, rng)
    tid = np.repeat(therapists["therapist_id"].to_numpy(), load)
    width = max(4, len(str(n_patients)))
    pid = np.array([f"PT{i + 1:0{width}d}" for i in range(n_patients)])
    patients = pd.DataFrame(
        {
            "patient_id": pid,
            "arm": np.where(rng.random(n_patients) < 0.5, "matched", "usual"),
            "age": np.clip(np.round(rng.normal(38, 12, n_patients)), 18, 80),
        }
    )

    # Occasions: dropout leaves between 2 and max_sessions assessments (mess adds
    # intake-only patients, who fail the minimum of two outcome assessments).
    n_occ = rng.integers(2, max_sessions + 1, n_patients)
    n_occ = np.where(rng.random(n_patients) < 0.45, max_sessions, n_occ)
    if mess:
        n_occ = np.where(rng.random(n_patients) < 0.03, 1, n_occ)
    rows = pd.DataFrame(
        {
            "patient_id": np.repeat(pid, n_occ),
            "therapist_id": np.repeat(tid, n_occ),
            "session": np.concatenate([np.arange(1, k + 1) for k in n_occ]),
        }
    )
    rows["week"] = 2 * (rows["session"] - 1)
    n_rows = len(rows)
    first = rows["session"].eq(1).to_numpy()
    last = (rows["session"] == rows.groupby("patient_id")["session"].transform("max")).to_numpy()

    # Process ratings: therapist level + patient level + occasion noise, on the scale.
    t_index = pd.Index(therapists["therapist_id"])
    p_index = pd.Index(pid)
    row_t = t_index.get_indexer(rows["therapist_id"])
    row_p = p_index.get_indexer(rows["patient_id"])
    for proc, (lo, hi), mu, sd_t, sd_p, sd_e, growth in (
        ("alliance", SCALES["alliance"], 3.9, 0.25, 0.45, 0.30, 0.03),
        ("expectation", SCALES["expectation"], 6.4, 0.45, 1.00, 0.60, 0.05),
    ):
        level_t = rng.normal(0, sd_t, n_therapists)
        level_p = rng.normal(0, sd_p, n_patients)
        value = (
            mu
            + level_t[row_t]
            + level_p[row_p]
            + growth * (rows["session"].to_numpy() - 1)
            + rng.normal(0, sd_e, n_rows)
        )
        rows[proc] = np.round(np.clip(value, lo, hi), 2)
        if mess:
            missed = rng.random(n_rows) < 0.08
            rows.loc[missed, proc] = np.nan

    outliers: dict[str, np.ndarray] = {}
    if mess:
        # Impossible ratings that the cleaning must set to missing (they must not count
        # towards the patient means that generate the outcome).
        for proc, bad in (("alliance", 0.0), ("expectation", 99.0)):
            idx = rng.choice(n_rows, size=2, replace=False)
            rows.loc[idx, proc] = bad
            outliers[proc] = idx

    # Outcome missingness: surveys missed at intermediate occasions only, so that the
    # first and last occasion are the observed baseline and post values.
    for out in OUTCOMES:
        rows[out] = np.nan
        if mess:
            missed = (rng.random(n_rows) < 0.10) & ~first & ~last
        else:
            missed = np.zeros(n_rows, dtype=bool)
        rows[f"_{out}_observed"] = ~missed

    # Patient-level process components as the analysis will compute them.
    valid = rows.copy()
    for proc, (lo, hi) in SCALES.items():
        valid.loc[(valid[proc] < lo) | (valid[proc] > hi), proc] = np.nan
    pt = valid.groupby("patient_id", sort=False).agg(
        therapist_id=("therapist_id", "first"),
        n_occ=("session", "size"),
        alliance_mean=("alliance", "mean"),
        expectation_mean=("expectation", "mean"),
    )
    pt = pt.reindex(pid)
    in_sample = (pt["n_occ"] >= 2) & pt["alliance_mean"].notna() & pt["expectation_mean"].notna()
    sample = pt[in_sample].copy()
    for proc in PROCESSES:
        parts = split_within_between(sample, f"{proc}_mean", group="therapist_id")
        sample[f"{proc}_within"] = parts["within"]
        sample[f"{proc}_between"] = parts["between"]
    mod = therapists.set_index("therapist_id")
    mod_c = mod.loc[mod.index.isin(sample["therapist_id"]), "self_alliance"]
    self_alliance_c = (
        (mod["self_alliance"] - mod_c.mean()).reindex(sample["therapist_id"]).to_numpy()
    )
    st = t_index.get_indexer(sample["therapist_id"])
    # Realised variance of the moderator over sample therapists (ddof=0): the moderated
    # slope part's variance across these therapists.
    moderator_var = float(np.var(mod_c - mod_c.mean()))

    truth_rows: list[dict[str, object]] = []
    for out in OUTCOMES:
        fx = fixed_values[out]
        rnd = random_values[out]
        cov = np.array(
            [
                [
                    rnd["alliance_slope_sd"] ** 2,
                    SLOPE_CORRELATION * rnd["alliance_slope_sd"] * rnd["expectation_slope_sd"],
                ],
                [
                    SLOPE_CORRELATION * rnd["alliance_slope_sd"] * rnd["expectation_slope_sd"],
                    rnd["expectation_slope_sd"] ** 2,
                ],
            ]
        )
        slopes = rng.multivariate_normal([0.0, 0.0], cov, n_therapists)
        u0 = rng.normal(0, rnd["intercept_sd"], n_therapists)
        baseline_all = rng.normal(1.4 if out == "symptoms" else 1.2, 0.75, n_patients)
        baseline = pd.Series(baseline_all, index=pid)
        base_c = baseline[sample.index] - baseline[sample.index].mean()
        gamma_mod = {p: moderation_values.get((out, p, "self_alliance"), 0.0) for p in PROCESSES}
        post = (
            fx["(Intercept)"]
            + fx["baseline_c"] * base_c.to_numpy()
            + (fx["alliance_within"] + slopes[st, 0] + gamma_mod["alliance"] * self_alliance_c)
            * sample["alliance_within"].to_numpy()
            + fx["alliance_between"] * sample["alliance_between"].to_numpy()
            + (
                fx["expectation_within"]
                + slopes[st, 1]
                + gamma_mod["expectation"] * self_alliance_c
            )
            * sample["expectation_within"].to_numpy()
            + fx["expectation_between"] * sample["expectation_between"].to_numpy()
            + u0[st]
            + rng.normal(0, rnd["residual_sd"], len(sample))
        )
        post_all = pd.Series(baseline_all - 0.4, index=pid)  # non-sample patients
        post_all[sample.index] = post
        # Trajectory: baseline at intake, post at the last occasion, noisy path between.
        frac = (rows["session"] - 1) / (
            rows.groupby("patient_id")["session"].transform("max") - 1
        ).replace(0, 1)
        b = baseline[rows["patient_id"]].to_numpy()
        p = post_all[rows["patient_id"]].to_numpy()
        path = b + (p - b) * frac.to_numpy() + rng.normal(0, 0.25, n_rows) * (~first & ~last)
        rows[out] = np.where(rows[f"_{out}_observed"], np.round(path, 3), np.nan)
        # Rounding to 3 decimals perturbs the baseline/post values by < 5e-4 only.
        base_term = {"baseline_c": f"baseline_{out}_c"}
        for term, value in fx.items():
            truth_rows.append(
                {
                    "outcome": out,
                    "process": "",
                    "moderator": "",
                    "parameter": base_term.get(term, term),
                    "value": value,
                }
            )
        for proc in PROCESSES:
            # Without the moderator in the model (aim 2), the moderated part of the slope
            # is therapist variation too: the aim 2 slope SD is the marginal one.
            marginal = np.sqrt(rnd[f"{proc}_slope_sd"] ** 2 + gamma_mod[proc] ** 2 * moderator_var)
            truth_rows.append(
                {
                    "outcome": out,
                    "process": proc,
                    "moderator": "",
                    "parameter": "slope_sd",
                    "value": float(marginal),
                }
            )
            truth_rows.append(
                {
                    "outcome": out,
                    "process": proc,
                    "moderator": "",
                    "parameter": "slope_sd_unexplained",
                    "value": rnd[f"{proc}_slope_sd"],
                }
            )
            for m in MODERATORS:
                truth_rows.append(
                    {
                        "outcome": out,
                        "process": proc,
                        "moderator": m,
                        "parameter": f"{proc}_within:{m}",
                        "value": moderation_values.get((out, proc, m), 0.0),
                    }
                )
        truth_rows.append(
            {
                "outcome": out,
                "process": "",
                "moderator": "",
                "parameter": "intercept_sd",
                "value": rnd["intercept_sd"],
            }
        )
        truth_rows.append(
            {
                "outcome": out,
                "process": "",
                "moderator": "",
                "parameter": "residual_sd",
                "value": rnd["residual_sd"],
            }
        )
        truth_rows.append(
            {
                "outcome": out,
                "process": "",
                "moderator": "",
                "parameter": "slope_correlation",
                "value": SLOPE_CORRELATION,
            }
        )

    sessions = rows[["patient_id", "therapist_id", "session", "week", *OUTCOMES, *PROCESSES]].copy()
    if mess:
        dup = rng.choice(len(sessions), size=3, replace=False)
        sessions = pd.concat([sessions, sessions.iloc[dup]], ignore_index=True)
        order = rng.permutation(len(sessions))
        sessions = sessions.iloc[order].reset_index(drop=True)
    return SimulatedStudy(
        sessions=sessions,
        therapists=therapists,
        patients=patients,
        truth=pd.DataFrame(
            truth_rows, columns=["outcome", "process", "moderator", "parameter", "value"]
        ),
    )


EXAMPLE_ITEMS = ("wai_1", "wai_2", "wai_3r", "wai_4")


def example_own_data(seed: int = 11) -> dict[str, pd.DataFrame]:
    """An "own data" example in another lab's layout, derived from a simulated study.

    One outcome (``oq_total``), three processes (the alliance as four 1–7 items with
    ``wai_3r`` reverse-keyed, ``ceq_expectancy`` and ``srs_total``), two therapist
    characteristics and a patients table with trial arm and age; id columns
    ``client``, ``clinician`` and ``visit``. See ``config/examples/own_data.yaml``.

    Returns
    -------
    dict
        ``sessions``, ``therapists`` and ``patients`` tables.
    """
    # Mess is added after the derived columns, so duplicated rows stay exact duplicates.
    study = simulate_study(seed=seed, n_therapists=30, n_patients=150, mess=False)
    rng = np.random.default_rng(seed + 1)
    s = study.sessions
    n = len(s)
    sessions = pd.DataFrame(
        {
            "client": s["patient_id"].str.replace("PT", "C-", regex=False),
            "clinician": s["therapist_id"].str.replace("TH", "DR", regex=False),
            "visit": s["session"],
            "oq_total": np.round(60 + 15 * s["symptoms"], 0),
            "ceq_expectancy": s["expectation"],
        }
    )
    # Items on 1-7 tracking the 1-5 alliance rating; wai_3r is worded negatively.
    for item in EXAMPLE_ITEMS:
        value = np.clip(np.round(1 + 1.5 * (s["alliance"] - 1) + rng.normal(0, 0.7, n)), 1, 7)
        value = value.where(s["alliance"].between(1, 5))
        sessions[item] = 8 - value if item.endswith("r") else value
    srs = 20 + 4 * s["alliance"] + rng.normal(0, 2.5, n)
    sessions["srs_total"] = np.round(np.clip(srs, 0, 40), 1).where(s["alliance"].notna())
    missed = rng.random(n) < 0.05
    sessions.loc[missed, "wai_2"] = np.nan
    sessions.loc[rng.choice(n, 2, replace=False), "ceq_expectancy"] = 99.0
    sessions = pd.concat([sessions, sessions.iloc[rng.choice(n, 2, replace=False)]])
    sessions = sessions.reset_index(drop=True)
    therapists = pd.DataFrame(
        {
            "clinician": study.therapists["therapist_id"].str.replace("TH", "DR", regex=False),
            "self_rated_alliance_skill": study.therapists["self_alliance"],
            "cbt_orientation": study.therapists["cbt"].astype(int),
        }
    )
    patients = pd.DataFrame(
        {
            "client": study.patients["patient_id"].str.replace("PT", "C-", regex=False),
            "trial_arm": study.patients["arm"],
            "age_years": study.patients["age"],
        }
    )
    return {"sessions": sessions, "therapists": therapists, "patients": patients}


def write_example_data(directory: str | Path, seed: int = 11) -> dict[str, Path]:
    """Write :func:`example_own_data` as ``sessions.sav`` (SPSS), ``therapists.xlsx``
    (Excel) and ``patients.csv`` into ``directory``; returns the paths."""
    import pyreadstat

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tables = example_own_data(seed)
    paths = {
        "sessions": directory / "sessions.sav",
        "therapists": directory / "therapists.xlsx",
        "patients": directory / "patients.csv",
    }
    pyreadstat.write_sav(tables["sessions"], paths["sessions"])
    tables["therapists"].to_excel(paths["therapists"], index=False)
    tables["patients"].to_csv(paths["patients"], index=False)
    return paths


def main(argv: list[str] | None = None) -> None:
    """Command line: ``process-outcome-example-data DIRECTORY`` writes the example data."""
    import argparse

    parser = argparse.ArgumentParser(description=write_example_data.__doc__.splitlines()[0])
    parser.add_argument("directory", nargs="?", default="example_data")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)
    for name, path in write_example_data(args.directory, args.seed).items():
        print(f"{name}: {path}")
