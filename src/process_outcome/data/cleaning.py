"""Validation and cleaning of the input tables (spec section 2).

Every dropped or changed value is logged in an exclusions table, and a flow summary
counts patients, therapists and rows after each step. A user's mistake raises
:class:`~process_outcome.errors.InputError` with a message naming the file, column,
rows and values and saying how to fix it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from process_outcome.config import Measure, measures
from process_outcome.data import ids, reading
from process_outcome.errors import InputError

EXCLUSION_COLUMNS = [
    "step",
    "reason",
    "table",
    "row",
    "patient",
    "therapist",
    "session",
    "column",
    "value",
]
MAX_LISTED = 10
SOURCE = "src::"


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


def _rows(index: Iterable[int]) -> str:
    # Row numbers as a user sees them in a spreadsheet: header is row 1.
    numbers = [int(i) + 2 for i in index]
    listed = ", ".join(map(str, numbers[:MAX_LISTED]))
    more = f" and {len(numbers) - MAX_LISTED} more" if len(numbers) > MAX_LISTED else ""
    return f"row{'s' if len(numbers) > 1 else ''} {listed}{more}"


def _show(value: Any) -> str:
    # Numbers as a user typed them (2, not np.float64(2.0)); text quoted, so that
    # spaces and empty strings are visible.
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return repr(value)
    return f"{value:g}"


def _values(values: Iterable[Any]) -> str:
    vals = list(values)
    listed = ", ".join(_show(v) for v in vals[:MAX_LISTED])
    return listed + (f" and {len(vals) - MAX_LISTED} more" if len(vals) > MAX_LISTED else "")


def _name(df: pd.DataFrame, table: str) -> str:
    return f"{table} table ({df.attrs.get('path', 'in memory')})"


def require_columns(
    df: pd.DataFrame,
    table: str,
    needed: Mapping[str, str],
    other_tables: Mapping[str, pd.DataFrame] | None = None,
) -> None:
    """Check that every needed column is present.

    Parameters
    ----------
    df : DataFrame
        The table as read.
    table : str
        Its name, for the message.
    needed : mapping
        Column name -> the config key that names it (for the message).
    other_tables : mapping, optional
        The other input tables; if a missing column is found in one of them, the message
        says so.

    Raises
    ------
    InputError
        Naming every missing column, the config key, the nearest existing column and,
        where it applies, the table that does have it.
    """
    problems = []
    duplicated = df.attrs.get("duplicated", {})
    for column, key in needed.items():
        if column in duplicated:
            positions = ", ".join(map(str, duplicated[column]))
            raise InputError(
                f"{_name(df, table)}: the column name '{column}' (set by {key}) occurs "
                f"{len(duplicated[column])} times in the header (columns {positions}), so it "
                "is not clear which one holds the data. Rename or delete the other columns "
                "of that name."
            )
        if column in df.columns:
            continue
        hint = ""
        for other, odf in (other_tables or {}).items():
            if column in odf.columns:
                hint = (
                    f" It is a column of the {other} table, but {key} is looked up in the "
                    f"{table} table: move the column or correct the config."
                )
        if not hint:
            close = difflib.get_close_matches(column, list(df.columns), n=1, cutoff=0.6)
            hint = f" Did you mean '{close[0]}'?" if close else ""
        problems.append(f"column '{column}' (set by {key}) is missing.{hint}")
    if problems:
        raise InputError(
            f"{_name(df, table)}: "
            + " ".join(problems)
            + f" Its columns are: {', '.join(map(str, df.columns))}."
            " Rename the column in the file or change the config key that names it."
        )


def check_ids(df: pd.DataFrame, table: str, column: str) -> pd.Series:
    """Check an id column: no missing ids, no ids that differ only in upper/lower case.

    Ids are text: surrounding spaces are removed and a number exported as a float
    (``12.0``) is written as the whole number (``12``), so tables match whatever program
    wrote them.

    Returns
    -------
    Series
        The ids as strings.

    Examples
    --------
    >>> check_ids(pd.DataFrame({"id": [" 7", "12.0"]}), "sessions", "id").tolist()
    ['7', '12']
    """
    ids = df[column]
    missing = ids.isna() | (ids.astype("string").str.strip() == "")
    if missing.any():
        raise InputError(
            f"{_name(df, table)}, column '{column}': {_rows(np.flatnonzero(missing))} have "
            "no id. Fill in the id or delete those rows."
        )
    ids = ids.map(reading.id_text).astype("string")
    normal = ids.str.casefold()
    variants = (
        pd.DataFrame({"id": ids, "normal": normal})
        .drop_duplicates()
        .groupby("normal")["id"]
        .agg(list)
    )
    clashes = variants[variants.map(len) > 1]
    if not clashes.empty:
        listed = "; ".join(_values(v) for v in clashes.head(MAX_LISTED))
        raise InputError(
            f"{_name(df, table)}, column '{column}': ids that differ only in upper/lower "
            f"case: {listed}. They would be treated as different "
            "people; spell each id the same way in every row."
        )
    return ids


# No rating, score or count is this large; such a value is a typing or export error.
ABSURD = 1e9
# Codes that questionnaires and SPSS exports commonly use for "missing".
SENTINELS = (-9.0, -99.0, -999.0, -9999.0, 99.0, 999.0, 9999.0)


def to_numeric(
    df: pd.DataFrame,
    table: str,
    columns: Mapping[str, str],
    missing_codes: Mapping[str, Sequence[float]] | None = None,
) -> pd.DataFrame:
    """Convert measure columns to numbers, refusing text, infinite and absurd values.

    Parameters
    ----------
    columns : mapping
        Column name -> config key, for the message.
    missing_codes : mapping, optional
        Column name -> values that mean "missing" there (set to missing).

    Raises
    ------
    InputError
        Naming the column, the rows and the offending values.

    Examples
    --------
    >>> to_numeric(pd.DataFrame({"x": ["1", "-99"]}), "sessions", {"x": "k"},
    ...            {"x": [-99]})["x"].tolist()
    [1.0, nan]
    """
    out = df.copy()
    for column, key in columns.items():
        raw = df[column]
        if pd.api.types.is_bool_dtype(raw) or pd.api.types.is_numeric_dtype(raw):
            converted = raw.astype(float)
        else:
            text = raw.astype("string").str.strip()
            blank = raw.isna() | (text == "")
            converted = pd.to_numeric(text.where(~blank), errors="coerce").astype(float)
            bad = converted.isna() & ~blank
            if bad.any():
                rows = np.flatnonzero(bad)
                raise InputError(
                    f"{_name(df, table)}, column '{column}' ({key}): {_rows(rows)} hold "
                    f"values that are not numbers: {_values(raw.iloc[rows].tolist())}. "
                    "Replace them with numbers, or leave the cell empty for a missing value."
                    + _decimal_hint(raw.iloc[rows], df)
                )
        codes = list((missing_codes or {}).get(column, ()))
        if codes:
            converted = converted.mask(converted.isin(codes))
        absurd = converted.notna() & ~(converted.abs() <= ABSURD)
        if absurd.any():
            rows = np.flatnonzero(absurd)
            raise InputError(
                f"{_name(df, table)}, column '{column}' ({key}): {_rows(rows)} hold "
                f"{_values(converted.iloc[rows].tolist())}, which cannot be a score "
                f"(infinite, or beyond ±{ABSURD:g}). Correct those cells, or leave them "
                "empty for a missing value."
            )
        out[column] = converted
    return out


def _decimal_hint(values: pd.Series, df: pd.DataFrame) -> str:
    # "3,5" in a comma-separated file: the decimal comma of a European spreadsheet.
    if not values.astype("string").str.fullmatch(r"\s*[+-]?\d*,\d+\s*").any():
        return ""
    read = df.attrs.get("read", {})
    return (
        " Numbers such as '3,5' use a decimal comma: save the file with a semicolon as "
        "delimiter (as Excel does where the comma is the decimal mark), or set "
        f"data.read.<table>.decimal: ',' if the delimiter is not a comma (this file was "
        f"read with delimiter {read.get('delimiter', ',')!r})."
    )


def check_sentinels(df: pd.DataFrame, table: str, ms: Sequence[Measure]) -> None:
    """Refuse undeclared missing-value codes in measures without a range.

    A value such as -99 or 999 is taken for a code when it lies farther outside the
    range of the column's other values than that range is wide (-99 among ratings 0 to
    40; 999 among scores 0 to 180; not 99 among scores 0 to 180).

    Raises
    ------
    InputError
        Naming the column, the rows, the code and the two fixes (declare
        ``missing_codes`` or a ``range``).
    """
    for m in ms:
        if m.range is not None or m.items or m.type in {"binary", "categorical"}:
            continue
        column = str(m.column)
        values = df[column]
        codes = values[values.isin(SENTINELS)]
        others = values[values.notna() & ~values.isin(SENTINELS)]
        if codes.empty or others.nunique() < 2:
            continue
        lo, hi = float(others.min()), float(others.max())
        span = hi - lo
        flagged = codes[(codes < lo - span) | (codes > hi + span)]
        if flagged.empty:
            continue
        found = sorted(flagged.unique())
        codes_text = ", ".join(f"{c:g}" for c in found)
        rows = [values.index.get_loc(i) for i in flagged.index]
        raise InputError(
            f"{_name(df, table)}, column '{column}' ({m.config_key}): {_rows(rows)} hold "
            f"{codes_text}, which looks like a missing-value code: every other value lies "
            f"between {lo:g} and {hi:g}. Declare it with {m.config_key}.missing_codes: "
            f"[{codes_text}] (or data.missing_codes for every column), or give the "
            f"admissible {m.config_key}.range: [min, max]."
        )


def _exclusion(step: str, reason: str, table: str, **kw: Any) -> dict[str, Any]:
    row = dict.fromkeys(EXCLUSION_COLUMNS)
    row.update(step=step, reason=reason, table=table, **kw)
    return row


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
        The tables as read by :func:`process_outcome.reading.read_table`.
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
    needed_s.update(_source_keys(session_measures))
    others = {k: v for k, v in tables.items() if k != "sessions"}
    require_columns(sessions, "sessions", needed_s, others)
    needed_t = {tid: "data.columns.therapist"} | _source_keys(moderators)
    require_columns(
        therapists, "therapists", needed_t, {k: v for k, v in tables.items() if k != "therapists"}
    )
    if patients is not None:
        needed_p = {pid: "data.columns.patient"} | _source_keys(covariates)
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
        {sid: "data.columns.session"} | _source_keys(session_measures),
        _source_codes(session_measures),
    )
    check_sentinels(s, "sessions", session_measures)
    _check_session_numbers(s, sid)
    for m in session_measures:
        empty = [c for c in m.source_columns if s[c].isna().all()]
        if empty:
            raise InputError(
                f"{_name(sessions, 'sessions')}, column '{empty[0]}' ({m.config_key}): no row "
                "has a value. Check that the config names the right column, or remove the "
                "measure from the config."
            )
    t = therapists.copy()
    t[tid] = check_ids(therapists, "therapists", tid)
    t = to_numeric(t, "therapists", _source_keys(moderators), _source_codes(moderators))
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

    _check_restarting_ids(s, sessions, pid, tid)

    # 1. exact duplicates
    dup = s.duplicated(keep="first")
    for i in np.flatnonzero(dup):
        r = s.iloc[i]
        exclusions.append(
            _exclusion(
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
                f"patient {p} session {int(ses)}: {_rows(grp.index)} differ in {', '.join(diff)}"
            )
        raise InputError(
            f"{_name(sessions, 'sessions')}: {len(pairs)} patient-session pair(s) appear "
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
            f"({_rows(s.index[s['patient'] == p])})"
            for p, ts in multi.head(MAX_LISTED).items()
        )
        raise InputError(
            f"{_name(sessions, 'sessions')}, column '{tid}': {len(multi)} patient(s) appear "
            f"under more than one therapist ({listed}). The models assume each patient sees "
            "one therapist: correct the therapist id or keep one therapist's sessions."
        )
    flow.append(_count(s, "3_one_therapist", "each patient under one therapist"))

    t = _dedupe_therapists(t, therapists, tid, moderators, exclusions)
    absent = sorted(set(s["therapist"]) - set(t["therapist"]))
    if absent:
        rows = s.index[s["therapist"].isin(absent)]
        spare = set(t["therapist"]) - set(s["therapist"])
        raise InputError(
            f"{_name(sessions, 'sessions')}, column '{tid}': {len(absent)} therapist id(s) "
            f"({_rows(rows)}) are not in the {_name(therapists, 'therapists')}: "
            f"{ids.describe_unmatched(absent, ids.near_matches(absent, spare))} "
            "Add a row for each therapist to the therapists table, or correct the ids."
        )

    # 4. out-of-range values (items first, then the scores)
    s, items = _score_measures(s, sessions, session_measures, config, exclusions)
    s = _apply_ranges(s, sessions, session_measures, "sessions", config, exclusions)
    t = _apply_ranges(t, therapists, moderators, "therapists", config, exclusions)
    flow.append(_count(s, "4_ranges", "out-of-range values set to missing"))
    window = config.get("analysis", {}).get("process_sessions")
    if window:
        s = _apply_window(s, [m for m in ms if m.kind == "process"], window, exclusions)
        flow.append(
            _count(
                s, "4_window", f"process ratings outside sessions {window[0]}-{window[1]} dropped"
            )
        )

    p_out = None
    if patients is not None:
        p_out = _patients_table(patients, pid, covariates, config, exclusions)
        _check_patient_match(s, p_out, sessions, patients, pid)

    # 5. analysis sample
    s, t = _select_sample(s, t, ms, config, exclusions, p_out)
    flow.append(_count(s, "5_sample", "analysis sample"))
    _check_moderators(t, therapists, moderators)
    if p_out is not None:
        p_out = p_out[p_out["patient"].isin(set(s["patient"]))].reset_index(drop=True)
        _check_covariates(p_out, patients, covariates)

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


def _source_keys(ms: Sequence[Measure]) -> dict[str, str]:
    """Source column -> the config key that names it, for messages."""
    keys: dict[str, str] = {}
    for m in ms:
        for c in m.source_columns:
            keys.setdefault(c, f"{m.config_key}.{'items' if m.items else 'column'}")
    return keys


def _source_codes(ms: Sequence[Measure]) -> dict[str, tuple[float, ...]]:
    """Source column -> its declared missing-value codes."""
    return {c: m.missing_codes for m in ms for c in m.source_columns if m.missing_codes}


def _score_measures(
    s: pd.DataFrame,
    raw: pd.DataFrame,
    ms: Sequence[Measure],
    config: Mapping[str, Any],
    exclusions: list[dict[str, Any]],
) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Turn source columns into one column per measure key, scoring item measures."""
    out = s[["patient", "therapist", "session"]].copy()
    items: dict[str, pd.DataFrame] = {}
    for m in ms:
        if not m.items:
            out[m.key] = s[SOURCE + str(m.column)]
            continue
        lo, hi = m.item_range  # type: ignore[misc]
        resp = pd.DataFrame({c: s[SOURCE + c] for c in m.items}, index=s.index)
        for c in m.items:
            resp[c] = _out_of_range(resp[c], lo, hi, raw, c, f"{m.key} item", s, config, exclusions)
        for c in m.reverse_items:
            resp[c] = lo + hi - resp[c]
        answered = resp.notna().sum(axis=1)
        enough = answered >= m.min_answered * len(m.items)
        score = resp.mean(axis=1)
        if m.scoring == "sum":
            # Prorated: the mean of the answered items times the number of items, so a
            # skipped item does not pull the sum down.
            score = score * len(m.items)
        out[m.key] = score.where(enough)
        for i in s.index[(answered > 0) & ~enough]:
            exclusions.append(
                _exclusion(
                    "4_ranges",
                    f"{m.key} not scored: {answered[i]} of {len(m.items)} items answered, "
                    f"fewer than the minimum share {m.min_answered:g}",
                    "sessions",
                    row=int(i) + 2,
                    patient=s.at[i, "patient"],
                    therapist=s.at[i, "therapist"],
                    session=int(s.at[i, "session"]),
                    column=m.key,
                )
            )
        items[m.key] = resp
    return out, items


def _out_of_range(
    values: pd.Series,
    lo: float,
    hi: float,
    raw: pd.DataFrame,
    column: str,
    what: str,
    rows: pd.DataFrame,
    config: Mapping[str, Any],
    exclusions: list[dict[str, Any]],
    table: str = "sessions",
) -> pd.Series:
    """Set values outside [lo, hi] to missing and log each, or stop in error mode."""
    out = values.notna() & ((values < lo) | (values > hi))
    if not out.any():
        return values
    if config["cleaning"]["out_of_range"] == "error":
        raise InputError(
            f"{_name(raw, table)}, column '{column}' ({what}, range {lo:g} to {hi:g}): "
            f"{_rows(values.index[out])} hold out-of-range values "
            f"{_values(values[out].tolist())}. Correct them, or set "
            "cleaning.out_of_range: missing to treat them as missing."
        )
    for i in values.index[out]:
        exclusions.append(
            _exclusion(
                "4_ranges",
                f"value outside the range {lo:g} to {hi:g}; set to missing",
                table,
                row=int(i) + 2,
                patient=rows.at[i, "patient"] if "patient" in rows else None,
                therapist=rows.at[i, "therapist"],
                session=int(rows.at[i, "session"]) if "session" in rows else None,
                column=column,
                value=float(values[i]),
            )
        )
    return values.mask(out)


def _apply_window(
    s: pd.DataFrame,
    processes: Sequence[Measure],
    window: Sequence[int],
    exclusions: list[dict[str, Any]],
) -> pd.DataFrame:
    """Drop process ratings from sessions outside the configured window."""
    s = s.copy()
    first, last = window
    outside = (s["session"] < first) | (s["session"] > last)
    for m in processes:
        drop = outside & s[m.key].notna()
        for i in s.index[drop]:
            exclusions.append(
                _exclusion(
                    "4_window",
                    f"{m.key} rating outside the process window (sessions {first} to {last})",
                    "sessions",
                    row=int(i) + 2,
                    patient=s.at[i, "patient"],
                    therapist=s.at[i, "therapist"],
                    session=int(s.at[i, "session"]),
                    column=m.key,
                    value=float(s.at[i, m.key]),
                )
            )
        s.loc[drop, m.key] = np.nan
    return s


# Patient ids shared by this many therapists (or this share of the ids) are taken for
# numbers that restart within each therapist rather than for a few typing slips.
RESTART_MIN_IDS = 3
RESTART_SHARE = 0.2


def _check_restarting_ids(s: pd.DataFrame, raw: pd.DataFrame, pid: str, tid: str) -> None:
    per_patient = s.groupby("patient")["therapist"].nunique()
    shared = per_patient[per_patient > 1]
    if len(shared) < RESTART_MIN_IDS and len(shared) <= RESTART_SHARE * len(per_patient):
        return
    therapists_of = s.groupby("patient")["therapist"].unique()
    examples = "; ".join(
        f"patient {p}: therapists {_values(sorted(therapists_of[p])).replace(chr(39), '')}"
        for p in shared.index[:3]
    )
    raise InputError(
        f"{_name(raw, 'sessions')}, column '{pid}': {len(shared)} of {len(per_patient)} patient "
        f"ids occur under more than one therapist ({examples}). This looks like patient "
        "numbers that restart for each therapist, but a patient id must identify one "
        f"patient in the whole study. Make the ids unique, for example by writing the "
        f"therapist id in front of the number ('{tid}-{pid}', such as "
        f"{s['therapist'].iloc[0]}-{s['patient'].iloc[0]}) in the sessions table and in the "
        "patients table."
    )


def _check_patient_match(
    s: pd.DataFrame, p: pd.DataFrame, sessions: pd.DataFrame, patients: pd.DataFrame, pid: str
) -> None:
    """Stop when the patients table's ids do not match the sessions table's.

    A few session patients without a row stay a documented exclusion (missing
    covariate); no match at all, or unmatched ids with a near match in the patients
    table, mean the two tables write the ids differently.
    """
    in_sessions = set(s["patient"])
    unmatched = in_sessions - set(p["patient"])
    if not unmatched:
        return
    near = ids.near_matches(unmatched, set(p["patient"]) - in_sessions)
    if not near and len(unmatched) < len(in_sessions):
        return
    raise InputError(
        f"column '{pid}': {len(unmatched)} of {len(in_sessions)} patient ids of the "
        f"{_name(sessions, 'sessions')} have no row in the {_name(patients, 'patients')}: "
        f"{ids.describe_unmatched(unmatched, near)} Correct the ids so that both tables "
        "write each patient's id the same way."
    )


def _check_session_numbers(s: pd.DataFrame, sid: str) -> None:
    ses = s[sid]
    bad = ses.isna() | (ses != np.floor(ses))
    if bad.any():
        rows = np.flatnonzero(bad.to_numpy())
        raise InputError(
            f"{_name(s, 'sessions')}, column '{sid}' (data.columns.session): {_rows(rows)} "
            f"hold {_values(ses.iloc[rows].tolist())}; the session must be a whole number "
            "giving the order of the assessment. Fill in or correct those cells."
        )


def _dedupe_therapists(
    t: pd.DataFrame,
    raw: pd.DataFrame,
    tid: str,
    moderators: Sequence[Measure],
    exclusions: list[dict[str, Any]],
) -> pd.DataFrame:
    t = t.rename(columns={tid: "therapist"})
    t = t[["therapist", *[m.column for m in moderators]]]
    t = t.rename(columns={m.column: m.key for m in moderators})
    t.index = raw.index
    dup = t.duplicated(keep="first")
    for i in np.flatnonzero(dup):
        exclusions.append(
            _exclusion(
                "1_exact_duplicates",
                "exact duplicate of an earlier row",
                "therapists",
                row=int(t.index[i]) + 2,
                therapist=t.iloc[i]["therapist"],
            )
        )
    t = t[~dup]
    conflict = t.duplicated("therapist", keep=False)
    if conflict.any():
        listed = "; ".join(
            f"therapist {th}: {_rows(g.index)}"
            for th, g in t[conflict].groupby("therapist", sort=True)
        )
        raise InputError(
            f"{_name(raw, 'therapists')}: therapist id(s) appear in more than one row with "
            f"different values ({listed}). Keep one row per therapist."
        )
    return t


def _apply_ranges(
    df: pd.DataFrame,
    raw: pd.DataFrame,
    ms: Sequence[Measure],
    table: str,
    config: Mapping[str, Any],
    exclusions: list[dict[str, Any]],
) -> pd.DataFrame:
    df = df.copy()
    for m in ms:
        if m.range is not None:
            column = m.column if m.column else f"{m.key} (score)"
            df[m.key] = _out_of_range(
                df[m.key], *m.range, raw, column, m.key, df, config, exclusions, table
            )
    return df


def _select_sample(
    s: pd.DataFrame,
    t: pd.DataFrame,
    ms: Sequence[Measure],
    config: Mapping[str, Any],
    exclusions: list[dict[str, Any]],
    patients: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    k = config["cleaning"]["min_outcome_assessments"]
    counts = s.groupby("patient", sort=True).count()
    therapist_of = s.groupby("patient", sort=True)["therapist"].first()
    keep = pd.Series(True, index=counts.index)
    reasons: dict[str, list[str]] = {p: [] for p in counts.index}
    for m in ms:
        if m.kind == "outcome":
            short = counts[m.key] < k
            why = f"fewer than {k} non-missing {m.key} assessments"
        elif m.kind == "process":
            short = counts[m.key] < 1
            why = f"no non-missing {m.key} rating"
        elif m.kind == "covariate" and patients is not None:
            # Every model must use the same patients, or the aim 2 test against aim 1
            # would compare likelihoods of different data.
            known = patients.loc[patients[m.key].notna(), "patient"]
            short = pd.Series(~counts.index.isin(known), index=counts.index)
            why = f"covariate {m.key} missing"
        else:
            continue
        keep &= ~short
        for p in short[short].index:
            reasons[p].append(why)
    for p in keep[~keep].index:
        exclusions.append(
            _exclusion(
                "5_sample",
                "patient excluded: " + "; ".join(reasons[p]),
                "sessions",
                patient=p,
                therapist=therapist_of[p],
            )
        )
    sample = set(keep[keep].index)
    s = s[s["patient"].isin(sample)]
    if s.empty:
        raise InputError(
            "No patient meets the sample criteria (at least "
            f"{k} non-missing assessments of every outcome and one rating of every "
            "process). Check the measure columns in the config and "
            "cleaning.min_outcome_assessments; results/data/exclusions.csv is not written "
            "because the run stopped, but every patient failed these criteria."
        )
    t = t[t["therapist"].isin(set(s["therapist"]))]
    return s, t


def _check_moderators(t: pd.DataFrame, raw: pd.DataFrame, moderators: Sequence[Measure]) -> None:
    for m in moderators:
        vals = t[m.key].dropna()
        where = f"{_name(raw, 'therapists')}, column '{m.column}' ({m.key})"
        if vals.empty:
            raise InputError(
                f"{where}: no sample therapist has a value. Fill in the column or remove "
                f"measures.moderators.{m.key} from the config."
            )
        if vals.nunique() < 2:
            raise InputError(
                f"{where}: every sample therapist has the same value {_show(vals.iloc[0])}, so it "
                f"cannot explain differences between therapists. Remove "
                f"measures.moderators.{m.key} or check the column."
            )
        if m.type == "binary" and not set(vals.unique()) <= {0.0, 1.0}:
            raise InputError(
                f"{where}: a binary moderator must be coded 0/1 but holds "
                f"{_values(sorted(vals.unique()))}. Recode it to 0/1 or declare it "
                "type: continuous."
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
    p = to_numeric(p, "patients", _source_keys(continuous), _source_codes(continuous))
    check_sentinels(p, "patients", continuous)
    p = p.rename(columns={pid: "patient"})
    p.index = patients.index
    if covariates:
        p = p[["patient", *[str(m.column) for m in covariates]]]
    p = p.drop_duplicates()
    conflict = p.duplicated("patient", keep=False)
    if conflict.any():
        raise InputError(
            f"{_name(patients, 'patients')}: patient id(s) "
            f"{_values(sorted(p.loc[conflict, 'patient'].unique()))} appear in more than one "
            f"row with different values ({_rows(p.index[conflict])}). "
            "Keep one row per patient."
        )
    for m in covariates:
        values = p[str(m.column)]
        if m.type == "continuous" and m.range is not None:
            values = _out_of_range(
                values, *m.range, patients, str(m.column), m.key, p.assign(therapist=None),
                config, exclusions, "patients",
            )  # fmt: skip
        elif m.type == "categorical":
            values = values.map(lambda v: reading.text_value(v).strip(), na_action="ignore").astype(
                "string"
            )
        p[m.key] = values
    return p[["patient", *[m.key for m in covariates]]] if covariates else p


def _check_covariates(p: pd.DataFrame, raw: pd.DataFrame, covariates: Sequence[Measure]) -> None:
    for m in covariates:
        vals = p[m.key].dropna()
        where = f"{_name(raw, 'patients')}, column '{m.column}' ({m.config_key})"
        if vals.nunique() < 2:
            raise InputError(
                f"{where}: every sample patient has the same value, so the covariate "
                f"cannot be estimated. Remove {m.config_key} or check the column."
            )
        if m.type == "categorical" and m.reference is not None:
            levels = sorted(vals.unique())
            if reading.text_value(m.reference).strip() not in levels:
                raise InputError(
                    f"{where}: the reference level {m.reference!r} does not occur; the "
                    f"levels are {_values(levels)}. Set {m.config_key}.reference to one of them."
                )


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
