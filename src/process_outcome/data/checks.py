"""Structural checks of the input tables: columns, ids, session numbers, and the
sample's moderators and covariates.

Each check raises :class:`~process_outcome.errors.InputError` with a message naming the
file, column, rows and values and saying how to fix it; none changes the data.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from process_outcome.config import Measure
from process_outcome.data import ids, reading
from process_outcome.data.messages import MAX_LISTED, row_list, show_value, table_label, value_list
from process_outcome.errors import InputError

__all__ = [
    "RESTART_MIN_IDS",
    "RESTART_SHARE",
    "check_covariates",
    "check_ids",
    "check_moderators",
    "check_patient_match",
    "check_restarting_ids",
    "check_session_numbers",
    "require_columns",
]

# Patient ids shared by this many therapists (or this share of the ids) are taken for
# numbers that restart within each therapist rather than for a few typing slips.
RESTART_MIN_IDS = 3
RESTART_SHARE = 0.2


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

    Examples
    --------
    >>> df = pd.DataFrame({"pid": ["1"]})
    >>> require_columns(df, "sessions", {"pid": "data.columns.patient"})  # present: passes
    """
    problems = []
    duplicated = df.attrs.get("duplicated", {})
    for column, key in needed.items():
        if column in duplicated:
            positions = ", ".join(map(str, duplicated[column]))
            raise InputError(
                f"{table_label(df, table)}: the column name '{column}' (set by {key}) occurs "
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
            f"{table_label(df, table)}: "
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
            f"{table_label(df, table)}, column '{column}': {row_list(np.flatnonzero(missing))} "
            "have "
            "no id. Fill in the id or delete those rows."
        )
    ids = reading.id_texts(ids)
    distinct = pd.DataFrame({"id": ids}).drop_duplicates()
    distinct["normal"] = distinct["id"].str.casefold()
    clash = distinct["normal"].duplicated(keep=False)
    if clash.any():
        clashes = distinct[clash].groupby("normal", sort=True)["id"].agg(list)
        listed = "; ".join(value_list(v) for v in clashes.head(MAX_LISTED))
        raise InputError(
            f"{table_label(df, table)}, column '{column}': ids that differ only in upper/lower "
            f"case: {listed}. They would be treated as different "
            "people; spell each id the same way in every row."
        )
    return ids


def check_session_numbers(s: pd.DataFrame, sid: str) -> None:
    """Refuse missing or fractional session numbers.

    Parameters
    ----------
    s : DataFrame
        The sessions table with numeric session column (after :func:`to_numeric`).
    sid : str
        The session column (``data.columns.session``).

    Raises
    ------
    InputError
        Naming the rows and values that are not whole numbers.

    Examples
    --------
    >>> check_session_numbers(pd.DataFrame({"s": [1.0, 2.0]}), "s")  # whole: passes
    """
    ses = s[sid]
    bad = ses.isna() | (ses != np.floor(ses))
    if bad.any():
        rows = np.flatnonzero(bad.to_numpy())
        raise InputError(
            f"{table_label(s, 'sessions')}, column '{sid}' (data.columns.session): "
            f"{row_list(rows)} "
            f"hold {value_list(ses.iloc[rows].tolist())}; the session must be a whole number "
            "giving the order of the assessment. Fill in or correct those cells."
        )


def check_restarting_ids(s: pd.DataFrame, raw: pd.DataFrame, pid: str, tid: str) -> None:
    """Refuse patient ids that restart for each therapist.

    Many patient ids under more than one therapist (at least ``RESTART_MIN_IDS``, or
    more than ``RESTART_SHARE`` of them) mean numbers that restart per therapist, not a
    few typing slips (those are reported later, patient by patient).

    Parameters
    ----------
    s : DataFrame
        Sessions with canonical ``patient`` and ``therapist`` columns.
    raw : DataFrame
        The sessions table as read (for the file name).
    pid, tid : str
        The user's patient and therapist columns, for the message.

    Raises
    ------
    InputError
        With examples and the fix (therapist id in front of the number).

    Examples
    --------
    >>> s = pd.DataFrame({"patient": ["1", "2"], "therapist": ["a", "a"]})
    >>> check_restarting_ids(s, s, "pid", "tid")  # one therapist per patient: passes
    """
    per_patient = s.groupby("patient")["therapist"].nunique()
    shared = per_patient[per_patient > 1]
    if len(shared) < RESTART_MIN_IDS and len(shared) <= RESTART_SHARE * len(per_patient):
        return
    examples_of = s[ids.isin(s["patient"], shared.index[:3])]
    therapists_of = examples_of.groupby("patient")["therapist"].unique()
    examples = "; ".join(
        f"patient {p}: therapists {value_list(sorted(therapists_of[p])).replace(chr(39), '')}"
        for p in shared.index[:3]
    )
    raise InputError(
        f"{table_label(raw, 'sessions')}, column '{pid}': {len(shared)} of {len(per_patient)} "
        "patient "
        f"ids occur under more than one therapist ({examples}). This looks like patient "
        "numbers that restart for each therapist, but a patient id must identify one "
        f"patient in the whole study. Make the ids unique, for example by writing the "
        f"therapist id in front of the number ('{tid}-{pid}', such as "
        f"{s['therapist'].iloc[0]}-{s['patient'].iloc[0]}) in the sessions table and in the "
        "patients table."
    )


def check_patient_match(
    s: pd.DataFrame, p: pd.DataFrame, sessions: pd.DataFrame, patients: pd.DataFrame, pid: str
) -> None:
    """Stop when the patients table's ids do not match the sessions table's.

    A few session patients without a row stay a documented exclusion (missing
    covariate); no match at all, or unmatched ids with a near match in the patients
    table, mean the two tables write the ids differently.

    Parameters
    ----------
    s, p : DataFrame
        Cleaned sessions and patients, each with a canonical ``patient`` column.
    sessions, patients : DataFrame
        The two tables as read (for the file names).
    pid : str
        The user's patient column, for the message.

    Raises
    ------
    InputError
        Listing the unmatched ids and their near matches.

    Examples
    --------
    >>> s = pd.DataFrame({"patient": ["1", "2"]})
    >>> check_patient_match(s, s, s, s, "pid")  # every id matches: passes
    """
    in_sessions = ids.distinct(s["patient"])
    in_patients = ids.distinct(p["patient"])
    unmatched = in_sessions - in_patients
    if not unmatched:
        return
    near = ids.near_matches(unmatched, in_patients - in_sessions)
    if not near and len(unmatched) < len(in_sessions):
        return
    raise InputError(
        f"column '{pid}': {len(unmatched)} of {len(in_sessions)} patient ids of the "
        f"{table_label(sessions, 'sessions')} have no row in the "
        f"{table_label(patients, 'patients')}: "
        f"{ids.describe_unmatched(unmatched, near)} Correct the ids so that both tables "
        "write each patient's id the same way."
    )


def check_moderators(t: pd.DataFrame, raw: pd.DataFrame, moderators: Sequence[Measure]) -> None:
    """Refuse moderators the aim 3 models cannot use.

    Parameters
    ----------
    t : DataFrame
        The sample's therapists, one column per moderator key.
    raw : DataFrame
        The therapists table as read (for the file name).
    moderators : sequence of Measure
        The configured moderators.

    Raises
    ------
    InputError
        For a moderator without any value, with one value only, or a binary moderator
        not coded 0/1.

    Examples
    --------
    >>> m = Measure("exp", "exp", "Experience", "moderator", "therapists", type="binary")
    >>> t = pd.DataFrame({"exp": [0.0, 1.0]})
    >>> check_moderators(t, t, [m])  # two values, coded 0/1: passes
    """
    for m in moderators:
        vals = t[m.key].dropna()
        where = f"{table_label(raw, 'therapists')}, column '{m.column}' ({m.key})"
        if vals.empty:
            raise InputError(
                f"{where}: no sample therapist has a value. Fill in the column or remove "
                f"measures.moderators.{m.key} from the config."
            )
        if vals.nunique() < 2:
            raise InputError(
                f"{where}: every sample therapist has the same value {show_value(vals.iloc[0])}, "
                "so it "
                f"cannot explain differences between therapists. Remove "
                f"measures.moderators.{m.key} or check the column."
            )
        if m.type == "binary" and not set(vals.unique()) <= {0.0, 1.0}:
            raise InputError(
                f"{where}: a binary moderator must be coded 0/1 but holds "
                f"{value_list(sorted(vals.unique()))}. Recode it to 0/1 or declare it "
                "type: continuous."
            )


def check_covariates(p: pd.DataFrame, raw: pd.DataFrame, covariates: Sequence[Measure]) -> None:
    """Refuse covariates the models cannot estimate.

    Parameters
    ----------
    p : DataFrame
        The sample's patients, one column per covariate key.
    raw : DataFrame
        The patients table as read (for the file name).
    covariates : sequence of Measure
        The configured covariates.

    Raises
    ------
    InputError
        For a covariate with one value only, or a categorical covariate whose reference
        level does not occur.

    Examples
    --------
    >>> m = Measure("age", "age", "Age", "covariate", "patients", type="continuous")
    >>> p = pd.DataFrame({"age": [30.0, 41.0]})
    >>> check_covariates(p, p, [m])  # two values: passes
    """
    for m in covariates:
        vals = p[m.key].dropna()
        where = f"{table_label(raw, 'patients')}, column '{m.column}' ({m.config_key})"
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
                    f"levels are {value_list(levels)}. Set {m.config_key}.reference to one of them."
                )
