"""Validation and cleaning of the input tables (spec section 2).

Every dropped or changed value is logged in an exclusions table, and a flow summary
counts patients, therapists and rows after each step. A user's mistake raises
:class:`~process_outcome.errors.InputError` with a message naming the file, column,
rows and values and saying how to fix it. The checks live in
:mod:`~process_outcome.data.checks` and :mod:`~process_outcome.data.numeric`, the logged
steps in :mod:`~process_outcome.data.exclusions`; this module runs them in order.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

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
    SOURCE,
    apply_ranges,
    apply_window,
    dedupe_therapists,
    exclusion_rows,
    exclusion_table,
    mask_out_of_range,
    score_measures,
    select_sample,
)
from process_outcome.data.messages import MAX_LISTED, row_list, table_label, value_list
from process_outcome.data.numeric import check_values, source_codes, source_keys, to_numeric
from process_outcome.errors import InputError

__all__ = [
    "EXTREMES",
    "LISTED_THERAPISTS",
    "CleanData",
    "caseload_summary",
    "clean",
    "validation_summary",
]


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
    exclusions: list[Any] = []
    sessions = redcap_rows(sessions, pid, tid, sid, source)
    s = sessions.copy()
    s[pid] = check_ids(sessions, "sessions", pid)
    s[tid] = check_ids(sessions, "sessions", tid)
    s = to_numeric(
        s,
        "sessions",
        {sid: "data.columns.session"} | source_keys(session_measures),
        source_codes(session_measures),
    )
    scales = config.get("cleaning", {}).get("check_scales", True)
    check_values(s, "sessions", session_measures, scales)
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
    check_values(t, "therapists", moderators, scales)

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
    if dup.any():
        exclusions.append(
            exclusion_rows(
                "1_exact_duplicates",
                "exact duplicate of an earlier row",
                "sessions",
                row=s.index[dup].to_numpy() + 2,
                patient=s.loc[dup, "patient"].to_numpy(),
                therapist=s.loc[dup, "therapist"].to_numpy(),
                session=s.loc[dup, "session"].to_numpy().astype(int),
            )
        )
    s = s[~dup]
    flow.append(_count(s, "1_exact_duplicates", "exact duplicate rows dropped"))

    # 2. conflicting duplicates
    key_dup = s.duplicated(["patient", "session"], keep=False)
    if key_dup.any():
        pairs = []
        groups = s[key_dup].groupby(["patient", "session"], sort=True)
        for (p, ses), grp in itertools.islice(groups, MAX_LISTED):
            diff = [
                c.removeprefix(SOURCE)
                for c in grp.columns
                if grp[c].astype("string").nunique(dropna=False) > 1
            ]
            pairs.append(
                f"patient {p} session {int(ses)}: {row_list(grp.index)} differ in {', '.join(diff)}"
            )
        raise InputError(
            f"{table_label(sessions, 'sessions')}: {groups.ngroups} patient-session pair(s) "
            f"appear in more than one row with different values: {'; '.join(pairs)}. "
            "Keep the correct row of each pair and delete the other."
        )
    flow.append(_count(s, "2_conflicting_duplicates", "no conflicting duplicates"))

    # 3. patients nested in one therapist
    n_therapists = s.groupby("patient")["therapist"].nunique()
    if (n_therapists > 1).any():
        several = s[ids.isin(s["patient"], n_therapists.index[n_therapists > 1])]
        multi = several.groupby("patient")["therapist"].unique()
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
    absent = sorted(ids.distinct(s["therapist"]) - ids.distinct(t["therapist"]))
    if absent:
        rows = s.index[ids.isin(s["therapist"], absent)]
        spare = ids.distinct(t["therapist"]) - ids.distinct(s["therapist"])
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
        p_out = p_out[ids.isin(p_out["patient"], ids.distinct(s["patient"]))]
        p_out = p_out.reset_index(drop=True)
        check_covariates(p_out, patients, covariates)

    excl = exclusion_table(exclusions)
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


REDCAP_REPEAT = "redcap_repeat_instrument"


def redcap_rows(
    sessions: pd.DataFrame,
    pid: str,
    tid: str,
    sid: str,
    source: Sequence[str],
) -> pd.DataFrame:
    """Set aside the rows of REDCap's non-repeating forms in a repeating-forms export.

    A REDCap export with repeating instruments has, per record (and event), one row for
    the non-repeating forms (``redcap_repeat_instrument`` empty) besides one row per
    repeated session. Those rows hold no session: without a session number and without
    any measure value they are set aside (the validation summary counts them; they are
    the export's layout, not records, so not exclusions), and a therapist id that only
    they hold is carried to the record's session rows.

    Returns
    -------
    DataFrame
        The session rows (file row numbers kept as the index).

    Examples
    --------
    >>> df = pd.DataFrame({"pid": ["1", "1", "1"], "tid": ["A", None, None],
    ...                    "redcap_repeat_instrument": [None, "session", "session"],
    ...                    "s": [None, 1, 2], "x": [None, 3.0, 4.0]})
    >>> redcap_rows(df, "pid", "tid", "s", ["x"])["tid"].tolist()
    ['A', 'A']
    """
    if REDCAP_REPEAT not in sessions.columns:
        return sessions
    blank = sessions[REDCAP_REPEAT].isna() | (
        sessions[REDCAP_REPEAT].astype("string").str.strip() == ""
    )
    values = [c for c in [sid, *source] if c in sessions.columns]
    empty = sessions[values].isna() | (sessions[values].astype("string") == "")
    aside = blank & empty.all(axis=1)
    if not aside.any():
        return sessions
    kept = sessions[~aside].copy()
    if tid in sessions.columns and pid in sessions.columns:
        # The therapist is often entered once, on the record's enrolment form.
        own = sessions.loc[aside & sessions[tid].notna(), [pid, tid]].drop_duplicates(pid)
        lookup = own.set_index(pid)[tid]
        missing = kept[tid].isna()
        if missing.any() and len(lookup):
            kept[tid] = kept[tid].astype(object)
            kept.loc[missing, tid] = kept.loc[missing, pid].map(lookup)
            kept[tid] = kept[tid].astype(sessions[tid].dtype)
    kept.attrs = dict(sessions.attrs)
    return kept


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
    check_values(p, "patients", continuous, config.get("cleaning", {}).get("check_scales", True))
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


# Up to this many therapists the summary has a line per therapist; beyond, counts and the
# smallest and largest caseloads, so that it stays readable at a thousand therapists.
LISTED_THERAPISTS = 30
EXTREMES = 5


def caseload_summary(sessions: pd.DataFrame) -> list[str]:
    """Patients and session rows per therapist, for the validation summary.

    A line per therapist for small studies; for more than ``LISTED_THERAPISTS``, the
    distribution of caseloads and the therapists with the smallest and largest ones.

    Examples
    --------
    >>> s = pd.DataFrame({"therapist": ["a", "a", "b"], "patient": ["1", "2", "3"],
    ...                   "session": [1, 1, 1]})
    >>> print("\\n".join(caseload_summary(s)))
    Per therapist (analysis sample):
      therapist        patients sessions
      a                       2        2
      b                       1        1
    """
    per = sessions.groupby("therapist").agg(
        patients=("patient", "nunique"), sessions=("session", "size")
    )
    head = [f"  {'therapist':<16s} patients sessions"]
    if len(per) <= LISTED_THERAPISTS:
        rows = [f"  {t:<16s} {r.patients:8d} {r.sessions:8d}" for t, r in per.iterrows()]
        return ["Per therapist (analysis sample):", *head, *rows]
    q = per["patients"].quantile([0.25, 0.5, 0.75]).tolist()
    ones = int((per["patients"] == 1).sum())
    by_size = per.sort_values(["patients", "sessions"], kind="mergesort")
    lines = [
        f"Per therapist (analysis sample, {len(per)} therapists):",
        f"  patients per therapist: min {per['patients'].min()}, quartiles {q[0]:g}, "
        f"{q[1]:g}, {q[2]:g}, max {per['patients'].max()}; {ones} therapist(s) with one "
        "patient",
        f"  session rows per therapist: min {per['sessions'].min()}, median "
        f"{per['sessions'].median():g}, max {per['sessions'].max()}",
        f"  smallest and largest caseloads ({EXTREMES} each):",
        *head,
    ]
    extremes = pd.concat([by_size.head(EXTREMES), by_size.tail(EXTREMES)])
    lines += [f"  {t:<16s} {r.patients:8d} {r.sessions:8d}" for t, r in extremes.iterrows()]
    return lines


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
    if REDCAP_REPEAT in tables["sessions"].columns:
        cols = config["data"]["columns"]
        source = [c for m in measures(config) if m.table == "sessions" for c in m.source_columns]
        rows = redcap_rows(
            tables["sessions"], cols["patient"], cols["therapist"], cols["session"], source
        )
        aside = len(tables["sessions"]) - len(rows)
        lines.append(
            f"{'':14s}REDCap export: {aside} row(s) of the non-repeating forms "
            f"({REDCAP_REPEAT} empty, no session data) set aside"
        )
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
    lines += ["", *caseload_summary(s)]
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
