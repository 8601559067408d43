"""Validation and cleaning of the input tables (spec section 2).

Every dropped or changed value is logged in an exclusions table, and a flow summary
counts patients, therapists and rows after each step. A user's mistake raises
:class:`~process_outcome.errors.InputError` with a message naming the file, column,
rows and values and saying how to fix it. The checks live in
:mod:`~process_outcome.data.checks` and :mod:`~process_outcome.data.numeric`, the logged
steps in :mod:`~process_outcome.data.exclusions`; this module runs them in order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from process_outcome.config import Measure, measures
from process_outcome.data import ids, reading
from process_outcome.data.checks import (
    check_covariates,
    check_ids,
    check_moderators,
    check_patient_match,
    check_restarting_ids,
    check_session_numbers,
    require_columns,
)
from process_outcome.data.exclusions import (
    EXCLUSION_COLUMNS,
    SOURCE,
    apply_ranges,
    apply_window,
    dedupe_therapists,
    exclusion_row,
    mask_out_of_range,
    score_measures,
    select_sample,
)
from process_outcome.data.messages import MAX_LISTED, row_list, table_label, value_list
from process_outcome.data.numeric import check_sentinels, source_codes, source_keys, to_numeric
from process_outcome.errors import InputError

__all__ = ["CleanData", "clean", "validation_summary"]


@dataclass(frozen=True)
class CleanData:
    """The cleaned analysis data.

    Attributes
    ----------
    sessions : DataFrame
        Analysis-sample session rows with canonical columns ``patient``, ``therapist``,
        ``session`` and one column per outcome and process key.
    therapists : DataFrame
        One row per sample therapist: ``therapist`` and one column per moderator key.
    patients : DataFrame or None
        The optional patient table restricted to the sample (``patient`` + covariates).
    exclusions : DataFrame
        One row per excluded row, value or patient, with the reason.
    flow : list of dict
        Patients, therapists and rows after each step.
    items : dict of str to DataFrame
        For each measure scored from items: the analysis sample's item responses
        (out-of-range responses missing, reverse-keyed items already reversed), for
        reliability estimates.
    """

    sessions: pd.DataFrame
    therapists: pd.DataFrame
    patients: pd.DataFrame | None
    exclusions: pd.DataFrame
    flow: list[dict[str, Any]] = field(default_factory=list)
    items: dict[str, pd.DataFrame] = field(default_factory=dict)


def _count(sessions: pd.DataFrame, step: str, description: str) -> dict[str, Any]:
    return {
        "step": step,
        "description": description,
        "patients": int(sessions["patient"].nunique()),
        "therapists": int(sessions["therapist"].nunique()),
        "rows": len(sessions),
    }


def clean(
    sessions: pd.DataFrame,
    therapists: pd.DataFrame,
    config: Mapping[str, Any],
    patients: pd.DataFrame | None = None,
) -> CleanData:
    """Validate and clean the input tables as spec section 2 prescribes.

    Parameters
    ----------
    sessions, therapists : DataFrame
        The tables as read by :func:`process_outcome.data.reading.read_table`.
    config : mapping
        The validated config (defaults filled).
    patients : DataFrame, optional
        The optional patient table.

    Returns
    -------
    CleanData

    Raises
    ------
    InputError
        For conflicting duplicates, a patient under two therapists, a therapist missing
        from the therapists table, out-of-range values with ``cleaning.out_of_range:
        error``, an empty sample, and every structural problem of the tables.
    """
    cols = config["data"]["columns"]
    pid, tid, sid = cols["patient"], cols["therapist"], cols["session"]
    ms = measures(config)
    session_measures = [m for m in ms if m.table == "sessions"]
    moderators = [m for m in ms if m.kind == "moderator"]
    covariates = [m for m in ms if m.kind == "covariate"]
    tables = {"sessions": sessions, "therapists": therapists}
    if patients is not None:
        tables["patients"] = patients
    elif covariates:
        raise InputError(
            f"covariates are configured ({', '.join(m.config_key for m in covariates)}) but no "
            "patients table is: set data.files.patients to the table that holds them."
        )

    needed_s = {pid: "data.columns.patient", tid: "data.columns.therapist"}
    needed_s[sid] = "data.columns.session"
    needed_s.update(source_keys(session_measures))
    others = {k: v for k, v in tables.items() if k != "sessions"}
    require_columns(sessions, "sessions", needed_s, others)
    needed_t = {tid: "data.columns.therapist"} | source_keys(moderators)
    require_columns(
        therapists, "therapists", needed_t, {k: v for k, v in tables.items() if k != "therapists"}
    )
    if patients is not None:
        needed_p = {pid: "data.columns.patient"} | source_keys(covariates)
        require_columns(
            patients, "patients", needed_p, {k: v for k, v in tables.items() if k != "patients"}
        )

    source = list(dict.fromkeys(c for m in session_measures for c in m.source_columns))
    s = sessions.copy()
    s[pid] = check_ids(sessions, "sessions", pid)
    s[tid] = check_ids(sessions, "sessions", tid)
    s = to_numeric(
        s,
        "sessions",
        {sid: "data.columns.session"} | source_keys(session_measures),
        source_codes(session_measures),
    )
    check_sentinels(s, "sessions", session_measures)
    check_session_numbers(s, sid)
    for m in session_measures:
        empty = [c for c in m.source_columns if s[c].isna().all()]
        if empty:
            raise InputError(
                f"{table_label(sessions, 'sessions')}, column '{empty[0]}' ({m.config_key}): no "
                "row "
                "has a value. Check that the config names the right column, or remove the "
                "measure from the config."
            )
    t = therapists.copy()
    t[tid] = check_ids(therapists, "therapists", tid)
    t = to_numeric(t, "therapists", source_keys(moderators), source_codes(moderators))
    check_sentinels(t, "therapists", moderators)

    exclusions: list[dict[str, Any]] = []
    flow: list[dict[str, Any]] = []
    s = s.rename(columns={pid: "patient", tid: "therapist", sid: "session"})
    # Source columns get a prefix so that a user's column can never clash with a
    # canonical name (patient, session, a measure key) while the table is cleaned.
    s = s[["patient", "therapist", "session", *source]].rename(
        columns={c: SOURCE + c for c in source}
    )
    s.index = sessions.index  # keep file row numbers
    flow.append(_count(s, "input", "rows read from the sessions table"))

    check_restarting_ids(s, sessions, pid, tid)

    # 1. exact duplicates
    dup = s.duplicated(keep="first")
    for i in np.flatnonzero(dup):
        r = s.iloc[i]
        exclusions.append(
            exclusion_row(
                "1_exact_duplicates",
                "exact duplicate of an earlier row",
                "sessions",
                row=int(s.index[i]) + 2,
                patient=r["patient"],
                therapist=r["therapist"],
                session=int(r["session"]),
            )
        )
    s = s[~dup]
    flow.append(_count(s, "1_exact_duplicates", "exact duplicate rows dropped"))

    # 2. conflicting duplicates
    key_dup = s.duplicated(["patient", "session"], keep=False)
    if key_dup.any():
        pairs = []
        for (p, ses), grp in s[key_dup].groupby(["patient", "session"], sort=True):
            diff = [
                c.removeprefix(SOURCE)
                for c in grp.columns
                if grp[c].astype("string").nunique(dropna=False) > 1
            ]
            pairs.append(
                f"patient {p} session {int(ses)}: {row_list(grp.index)} differ in {', '.join(diff)}"
            )
        raise InputError(
            f"{table_label(sessions, 'sessions')}: {len(pairs)} patient-session pair(s) appear "
            f"in more than one row with different values: {'; '.join(pairs[:MAX_LISTED])}. "
            "Keep the correct row of each pair and delete the other."
        )
    flow.append(_count(s, "2_conflicting_duplicates", "no conflicting duplicates"))

    # 3. patients nested in one therapist
    per_patient = s.groupby("patient")["therapist"].unique()
    multi = per_patient[per_patient.map(len) > 1]
    if not multi.empty:
        listed = "; ".join(
            f"patient {p}: therapists {', '.join(sorted(map(str, ts)))} "
            f"({row_list(s.index[s['patient'] == p])})"
            for p, ts in multi.head(MAX_LISTED).items()
        )
        raise InputError(
            f"{table_label(sessions, 'sessions')}, column '{tid}': {len(multi)} patient(s) appear "
            f"under more than one therapist ({listed}). The models assume each patient sees "
            "one therapist: correct the therapist id or keep one therapist's sessions."
        )
    flow.append(_count(s, "3_one_therapist", "each patient under one therapist"))

    t = dedupe_therapists(t, therapists, tid, moderators, exclusions)
    absent = sorted(set(s["therapist"]) - set(t["therapist"]))
    if absent:
        rows = s.index[s["therapist"].isin(absent)]
        spare = set(t["therapist"]) - set(s["therapist"])
        raise InputError(
            f"{table_label(sessions, 'sessions')}, column '{tid}': {len(absent)} therapist id(s) "
            f"({row_list(rows)}) are not in the {table_label(therapists, 'therapists')}: "
            f"{ids.describe_unmatched(absent, ids.near_matches(absent, spare))} "
            "Add a row for each therapist to the therapists table, or correct the ids."
        )

    # 4. out-of-range values (items first, then the scores)
    s, items = score_measures(s, sessions, session_measures, config, exclusions)
    s = apply_ranges(s, sessions, session_measures, "sessions", config, exclusions)
    t = apply_ranges(t, therapists, moderators, "therapists", config, exclusions)
    flow.append(_count(s, "4_ranges", "out-of-range values set to missing"))
    window = config.get("analysis", {}).get("process_sessions")
    if window:
        s = apply_window(s, [m for m in ms if m.kind == "process"], window, exclusions)
        flow.append(
            _count(
                s, "4_window", f"process ratings outside sessions {window[0]}-{window[1]} dropped"
            )
        )

    p_out = None
    if patients is not None:
        p_out = _patients_table(patients, pid, covariates, config, exclusions)
        check_patient_match(s, p_out, sessions, patients, pid)

    # 5. analysis sample
    s, t = select_sample(s, t, ms, config, exclusions, p_out)
    flow.append(_count(s, "5_sample", "analysis sample"))
    check_moderators(t, therapists, moderators)
    if p_out is not None:
        p_out = p_out[p_out["patient"].isin(set(s["patient"]))].reset_index(drop=True)
        check_covariates(p_out, patients, covariates)

    excl = pd.DataFrame(exclusions, columns=EXCLUSION_COLUMNS)
    sample_rows = s.index
    s = s.sort_values(["patient", "session"], kind="mergesort").reset_index(drop=True)
    return CleanData(
        sessions=s,
        therapists=t.sort_values("therapist", kind="mergesort").reset_index(drop=True),
        patients=p_out,
        exclusions=excl,
        flow=flow,
        items={k: v.loc[v.index.isin(sample_rows)] for k, v in items.items()},
    )


def _patients_table(
    patients: pd.DataFrame,
    pid: str,
    covariates: Sequence[Measure],
    config: Mapping[str, Any],
    exclusions: list[dict[str, Any]],
) -> pd.DataFrame:
    p = patients.copy()
    p[pid] = check_ids(patients, "patients", pid)
    continuous = [m for m in covariates if m.type == "continuous"]
    p = to_numeric(p, "patients", source_keys(continuous), source_codes(continuous))
    check_sentinels(p, "patients", continuous)
    p = p.rename(columns={pid: "patient"})
    p.index = patients.index
    if covariates:
        p = p[["patient", *[str(m.column) for m in covariates]]]
    p = p.drop_duplicates()
    conflict = p.duplicated("patient", keep=False)
    if conflict.any():
        raise InputError(
            f"{table_label(patients, 'patients')}: patient id(s) "
            f"{value_list(sorted(p.loc[conflict, 'patient'].unique()))} appear in more than one "
            f"row with different values ({row_list(p.index[conflict])}). "
            "Keep one row per patient."
        )
    for m in covariates:
        values = p[str(m.column)]
        if m.type == "continuous" and m.range is not None:
            values = mask_out_of_range(
                values, *m.range, patients, str(m.column), m.key, p.assign(therapist=None),
                config, exclusions, "patients",
            )  # fmt: skip
        elif m.type == "categorical":
            values = values.map(lambda v: reading.text_value(v).strip(), na_action="ignore").astype(
                "string"
            )
        p[m.key] = values
    return p[["patient", *[m.key for m in covariates]]] if covariates else p


def validation_summary(
    data: CleanData, tables: Mapping[str, pd.DataFrame], config: Mapping[str, Any]
) -> str:
    """A plain-text summary of the input tables and the analysis sample.

    Parameters
    ----------
    data : CleanData
        Result of :func:`clean`.
    tables : mapping
        The input tables as read (``sessions``, ``therapists``, optional ``patients``).
    config : mapping
        The validated config.

    Returns
    -------
    str
        Rows and columns per table, patients and sessions per therapist, missing values
        per measure, exclusions by reason, and the sample's size.
    """
    lines = ["Data and config are valid.", "", "Input tables:"]
    for name, df in tables.items():
        path = df.attrs.get("path", "")
        lines.append(f"  {name:<11s} {len(df):6d} rows, {df.shape[1]:3d} columns  ({path})")
        how = {k: v for k, v in df.attrs.get("read", {}).items() if v}
        if how:
            # How the file was read, so a wrong guess (encoding, delimiter) is visible.
            settings = ", ".join(f"{k} {v!r}" for k, v in how.items())
            lines.append(f"{'':14s}read with {settings}")
    s = data.sessions
    lines += ["", "Missing values per measure (analysis sample, session rows):"]
    for m in measures(config):
        if m.table == "sessions":
            miss = int(s[m.key].isna().sum())
            lines.append(f"  {m.key:<24s} {miss:6d} of {len(s):6d} ({100 * miss / len(s):5.1f}%)")
    for m in measures(config):
        if m.kind == "moderator":
            t = data.therapists
            miss = int(t[m.key].isna().sum())
            lines.append(f"  {m.key:<24s} {miss:6d} of {len(t):6d} therapists")
    per = s.groupby("therapist").agg(patients=("patient", "nunique"), sessions=("session", "size"))
    lines += ["", "Per therapist (analysis sample):", f"  {'therapist':<16s} patients sessions"]
    lines += [f"  {t:<16s} {r.patients:8d} {r.sessions:8d}" for t, r in per.iterrows()]
    if len(data.exclusions):
        lines += ["", "Exclusions:"]
        counts = data.exclusions.groupby(["step", "reason"], sort=True).size()
        lines += [f"  {n:5d}  {reason}" for (_, reason), n in counts.items()]
    last = data.flow[-1]
    lines += [
        "",
        f"Analysis sample: {last['patients']} patients, {last['therapists']} therapists, "
        f"{last['rows']} session rows.",
    ]
    return "\n".join(lines) + "\n"
