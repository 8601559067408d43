"""Cleaning steps that drop or change values, each logged as an exclusion (spec section 2).

Exact duplicates, scoring of item measures, out-of-range values, process ratings outside
the window and patients outside the analysis sample: every dropped or changed value
becomes one row of the exclusions table (:data:`EXCLUSION_COLUMNS`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from process_outcome.config import Measure
from process_outcome.data import ids
from process_outcome.data.messages import row_list, table_label, value_list
from process_outcome.errors import InputError

__all__ = [
    "EXCLUSION_COLUMNS",
    "SOURCE",
    "apply_ranges",
    "apply_window",
    "dedupe_therapists",
    "exclusion_row",
    "exclusion_rows",
    "exclusion_table",
    "mask_out_of_range",
    "score_measures",
    "select_sample",
]

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
# Prefix of the user's source columns while the sessions table is cleaned.
SOURCE = "src::"


def exclusion_row(step: str, reason: str, table: str, **kw: Any) -> dict[str, Any]:
    """One row of the exclusions table.

    Parameters
    ----------
    step, reason, table : str
        The cleaning step, why the row, value or patient was dropped, and the table.
    **kw
        Any other of :data:`EXCLUSION_COLUMNS` (``row``, ``patient``, ``value``, ...);
        those not given are None.

    Returns
    -------
    dict
        Every exclusion column, in order.

    Examples
    --------
    >>> exclusion_row("1_exact_duplicates", "duplicate", "sessions", row=3)["row"]
    3
    """
    row = dict.fromkeys(EXCLUSION_COLUMNS)
    row.update(step=step, reason=reason, table=table, **kw)
    return row


def exclusion_rows(step: str, reason: Any, table: str, **columns: Any) -> pd.DataFrame:
    """Many rows of the exclusions table at once (one per element of the columns).

    Parameters
    ----------
    step, table : str
        The cleaning step and the table.
    reason : str or array-like
        Why, for all rows or one per row.
    **columns
        Any other of :data:`EXCLUSION_COLUMNS`, as arrays of one length (or scalars).

    Returns
    -------
    DataFrame
        :data:`EXCLUSION_COLUMNS`, the missing ones empty.

    Examples
    --------
    >>> exclusion_rows("4_ranges", "out of range", "sessions", row=[3, 5])["row"].tolist()
    [3, 5]
    """
    n = max((len(v) for v in columns.values() if np.ndim(v)), default=1)
    frame = pd.DataFrame(
        {k: np.asarray(v) if np.ndim(v) else [v] * n for k, v in columns.items()},
        index=range(n),
    )
    frame.insert(0, "table", table)
    frame.insert(0, "reason", np.asarray(reason) if np.ndim(reason) else reason)
    frame.insert(0, "step", step)
    return frame.reindex(columns=EXCLUSION_COLUMNS)


def exclusion_table(exclusions: Sequence[Mapping[str, Any] | pd.DataFrame]) -> pd.DataFrame:
    """The exclusions table from rows (:func:`exclusion_row`) and blocks of rows
    (:func:`exclusion_rows`), in the order they were logged.

    Examples
    --------
    >>> log = [exclusion_row("1", "a", "sessions", row=2),
    ...        exclusion_rows("4", "b", "sessions", row=[3, 4], value=[1.5, 2.0])]
    >>> exclusion_table(log)[["step", "row", "value"]].values.tolist()
    [['1', 2, nan], ['4', 3, 1.5], ['4', 4, 2.0]]
    """
    parts: list[pd.DataFrame] = []
    singles: list[Mapping[str, Any]] = []
    for e in exclusions:
        if isinstance(e, pd.DataFrame):
            if singles:
                parts.append(pd.DataFrame(singles, columns=EXCLUSION_COLUMNS))
                singles = []
            parts.append(e)
        else:
            singles.append(e)
    if singles or not parts:
        parts.append(pd.DataFrame(singles, columns=EXCLUSION_COLUMNS))
    parts = [p for p in parts if len(p)] or parts[:1]
    table = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    # Object columns of numbers and gaps become numbers, as if read from the log once.
    return table.reset_index(drop=True).infer_objects()


def score_measures(
    s: pd.DataFrame,
    raw: pd.DataFrame,
    ms: Sequence[Measure],
    config: Mapping[str, Any],
    exclusions: list[dict[str, Any]],
) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Turn source columns into one column per measure key, scoring item measures.

    Item responses outside the item range become missing (logged); reverse-keyed items
    are reversed; a score needs at least ``min_answered`` of the items (else missing,
    logged) and a sum score is prorated.

    Parameters
    ----------
    s : DataFrame
        Sessions with canonical ``patient``, ``therapist``, ``session`` and the source
        columns prefixed with :data:`SOURCE`.
    raw : DataFrame
        The sessions table as read (for messages).
    ms : sequence of Measure
        The sessions-table measures.
    config : mapping
        The validated config (``cleaning.out_of_range``).
    exclusions : list of dict
        Appended to, one row per changed value.

    Returns
    -------
    sessions : DataFrame
        ``patient``, ``therapist``, ``session`` and one column per measure key.
    items : dict of str to DataFrame
        For each item measure, its cleaned (and reversed) item responses.

    Examples
    --------
    >>> m = Measure("wai", "wai", "WAI", "process", "sessions")
    >>> s = pd.DataFrame({"patient": ["1"], "therapist": ["a"], "session": [1.0],
    ...                   SOURCE + "wai": [5.0]})
    >>> score_measures(s, s, [m], {}, [])[0]["wai"].tolist()
    [5.0]
    """
    out = s[["patient", "therapist", "session"]].copy()
    items: dict[str, pd.DataFrame] = {}
    for m in ms:
        if not m.items:
            out[m.key] = s[SOURCE + str(m.column)]
            continue
        lo, hi = m.item_range  # type: ignore[misc]
        resp = pd.DataFrame({c: s[SOURCE + c] for c in m.items}, index=s.index)
        for c in m.items:
            resp[c] = mask_out_of_range(
                resp[c], lo, hi, raw, c, f"{m.key} item", s, config, exclusions
            )
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
        short = (answered > 0) & ~enough
        if short.any():
            n_answered = answered[short].to_numpy()
            exclusions.append(
                exclusion_rows(
                    "4_ranges",
                    [
                        f"{m.key} not scored: {a} of {len(m.items)} items answered, "
                        f"fewer than the minimum share {m.min_answered:g}"
                        for a in n_answered
                    ],
                    "sessions",
                    row=s.index[short].to_numpy() + 2,
                    patient=s.loc[short, "patient"].to_numpy(),
                    therapist=s.loc[short, "therapist"].to_numpy(),
                    session=s.loc[short, "session"].to_numpy().astype(int),
                    column=m.key,
                )
            )
        items[m.key] = resp
    return out, items


def mask_out_of_range(
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
    """Set values outside [lo, hi] to missing and log each, or stop in error mode.

    Parameters
    ----------
    values : Series
        The values, indexed by file row.
    lo, hi : float
        The admissible range.
    raw : DataFrame
        The table as read (for the message).
    column, what : str
        The user's column and what it holds (measure key or item), for the message.
    rows : DataFrame
        The table's ``therapist`` (and ``patient``, ``session`` where present) per row,
        for the log.
    config : mapping
        The validated config (``cleaning.out_of_range``).
    exclusions : list of dict
        Appended to, one row per value set to missing.
    table : str
        The table's name.

    Returns
    -------
    Series
        The values with those out of range missing.

    Raises
    ------
    InputError
        With ``cleaning.out_of_range: error``, listing the rows and values.

    Examples
    --------
    >>> rows = pd.DataFrame({"therapist": ["a", "a"]})
    >>> log = []
    >>> mask_out_of_range(pd.Series([3.0, 9.0]), 1, 7, rows, "wai", "wai", rows,
    ...                   {"cleaning": {"out_of_range": "missing"}}, log).tolist()
    [3.0, nan]
    >>> exclusion_table(log)[["row", "value"]].values.tolist()
    [[3.0, 9.0]]
    """
    out = values.notna() & ((values < lo) | (values > hi))
    if not out.any():
        return values
    if config["cleaning"]["out_of_range"] == "error":
        raise InputError(
            f"{table_label(raw, table)}, column '{column}' ({what}, range {lo:g} to {hi:g}): "
            f"{row_list(values.index[out])} hold out-of-range values "
            f"{value_list(values[out].tolist())}. Correct them, or set "
            "cleaning.out_of_range: missing to treat them as missing."
        )
    exclusions.append(
        exclusion_rows(
            "4_ranges",
            f"value outside the range {lo:g} to {hi:g}; set to missing",
            table,
            row=values.index[out].to_numpy() + 2,
            patient=rows.loc[out, "patient"].to_numpy() if "patient" in rows else None,
            therapist=rows.loc[out, "therapist"].to_numpy(),
            session=rows.loc[out, "session"].to_numpy().astype(int) if "session" in rows else None,
            column=column,
            value=values[out].to_numpy(dtype=float),
        )
    )
    return values.mask(out)


def apply_window(
    s: pd.DataFrame,
    processes: Sequence[Measure],
    window: Sequence[int],
    exclusions: list[dict[str, Any]],
) -> pd.DataFrame:
    """Drop process ratings from sessions outside the configured window.

    Parameters
    ----------
    s : DataFrame
        Sessions with canonical columns and one column per measure key.
    processes : sequence of Measure
        The process measures.
    window : sequence of int
        First and last session (``analysis.process_sessions``).
    exclusions : list of dict
        Appended to, one row per rating dropped.

    Returns
    -------
    DataFrame
        A copy with those ratings missing.

    Examples
    --------
    >>> m = Measure("wai", "wai", "WAI", "process", "sessions")
    >>> s = pd.DataFrame({"patient": ["1", "1"], "therapist": ["a", "a"],
    ...                   "session": [1, 9], "wai": [4.0, 5.0]})
    >>> apply_window(s, [m], [1, 4], [])["wai"].tolist()
    [4.0, nan]
    """
    s = s.copy()
    first, last = window
    outside = (s["session"] < first) | (s["session"] > last)
    for m in processes:
        drop = outside & s[m.key].notna()
        if drop.any():
            exclusions.append(
                exclusion_rows(
                    "4_window",
                    f"{m.key} rating outside the process window (sessions {first} to {last})",
                    "sessions",
                    row=s.index[drop].to_numpy() + 2,
                    patient=s.loc[drop, "patient"].to_numpy(),
                    therapist=s.loc[drop, "therapist"].to_numpy(),
                    session=s.loc[drop, "session"].to_numpy().astype(int),
                    column=m.key,
                    value=s.loc[drop, m.key].to_numpy(dtype=float),
                )
            )
        s.loc[drop, m.key] = np.nan
    return s


def dedupe_therapists(
    t: pd.DataFrame,
    raw: pd.DataFrame,
    tid: str,
    moderators: Sequence[Measure],
    exclusions: list[dict[str, Any]],
) -> pd.DataFrame:
    """One row per therapist: drop exact duplicates (logged), refuse conflicting ones.

    Parameters
    ----------
    t : DataFrame
        The therapists table with checked ids and numeric moderators.
    raw : DataFrame
        The table as read (file row numbers and name).
    tid : str
        The user's therapist column.
    moderators : sequence of Measure
        The configured moderators.
    exclusions : list of dict
        Appended to, one row per duplicate dropped.

    Returns
    -------
    DataFrame
        ``therapist`` and one column per moderator key, indexed by file row.

    Raises
    ------
    InputError
        When a therapist id appears in rows with different values.

    Examples
    --------
    >>> t = pd.DataFrame({"tid": ["a", "a", "b"]})
    >>> dedupe_therapists(t, t, "tid", [], [])["therapist"].tolist()
    ['a', 'b']
    """
    t = t.rename(columns={tid: "therapist"})
    t = t[["therapist", *[m.column for m in moderators]]]
    t = t.rename(columns={m.column: m.key for m in moderators})
    t.index = raw.index
    dup = t.duplicated(keep="first")
    for i in np.flatnonzero(dup):
        exclusions.append(
            exclusion_row(
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
            f"therapist {th}: {row_list(g.index)}"
            for th, g in t[conflict].groupby("therapist", sort=True)
        )
        raise InputError(
            f"{table_label(raw, 'therapists')}: therapist id(s) appear in more than one row with "
            f"different values ({listed}). Keep one row per therapist."
        )
    return t


def apply_ranges(
    df: pd.DataFrame,
    raw: pd.DataFrame,
    ms: Sequence[Measure],
    table: str,
    config: Mapping[str, Any],
    exclusions: list[dict[str, Any]],
) -> pd.DataFrame:
    """Apply every measure's configured range with :func:`mask_out_of_range`.

    Parameters
    ----------
    df : DataFrame
        A table with one column per measure key and a ``therapist`` column.
    raw : DataFrame
        The table as read (for messages).
    ms : sequence of Measure
        The table's measures; those without a range are left alone.
    table : str
        The table's name.
    config : mapping
        The validated config (``cleaning.out_of_range``).
    exclusions : list of dict
        Appended to, one row per value set to missing.

    Returns
    -------
    DataFrame
        A copy with out-of-range values missing.

    Examples
    --------
    >>> m = Measure("wai", "wai", "WAI", "process", "sessions", range=(1.0, 7.0))
    >>> df = pd.DataFrame({"therapist": ["a"], "wai": [8.0]})
    >>> cfg = {"cleaning": {"out_of_range": "missing"}}
    >>> apply_ranges(df, df, [m], "sessions", cfg, [])["wai"].tolist()
    [nan]
    """
    df = df.copy()
    for m in ms:
        if m.range is not None:
            column = m.column if m.column else f"{m.key} (score)"
            df[m.key] = mask_out_of_range(
                df[m.key], *m.range, raw, column, m.key, df, config, exclusions, table
            )
    return df


def select_sample(
    s: pd.DataFrame,
    t: pd.DataFrame,
    ms: Sequence[Measure],
    config: Mapping[str, Any],
    exclusions: list[dict[str, Any]],
    patients: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Keep the patients with enough outcome assessments, process ratings and covariates.

    Parameters
    ----------
    s : DataFrame
        Cleaned sessions, one column per measure key.
    t : DataFrame
        Cleaned therapists.
    ms : sequence of Measure
        Every configured measure.
    config : mapping
        The validated config (``cleaning.min_outcome_assessments``).
    exclusions : list of dict
        Appended to, one row per excluded patient with every reason.
    patients : DataFrame, optional
        The cleaned patients table; a patient without a covariate is excluded.

    Returns
    -------
    sessions, therapists : DataFrame
        The sample's session rows and their therapists.

    Raises
    ------
    InputError
        When no patient meets the criteria.

    Examples
    --------
    >>> m = Measure("wai", "wai", "WAI", "process", "sessions")
    >>> s = pd.DataFrame({"patient": ["1", "2"], "therapist": ["a", "b"],
    ...                   "wai": [4.0, None]})
    >>> t = pd.DataFrame({"therapist": ["a", "b"]})
    >>> cfg = {"cleaning": {"min_outcome_assessments": 2}}
    >>> log = []
    >>> select_sample(s, t, [m], cfg, log)[1]["therapist"].tolist()
    ['a']
    >>> exclusion_table(log)["reason"].tolist()
    ['patient excluded: no non-missing wai rating']
    """
    k = config["cleaning"]["min_outcome_assessments"]
    counts = s.groupby("patient", sort=True).count()
    therapist_of = s.groupby("patient", sort=True)["therapist"].first()
    keep = pd.Series(True, index=counts.index)
    reasons = pd.Series("", index=counts.index, dtype=object)
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
            short = pd.Series(~ids.isin(counts.index.to_series(), known), index=counts.index)
            why = f"covariate {m.key} missing"
        else:
            continue
        keep &= ~short
        reasons[short] = reasons[short] + ("; " + why)
    out = ~keep
    if out.any():
        exclusions.append(
            exclusion_rows(
                "5_sample",
                ("patient excluded: " + reasons[out].str.slice(2)).to_numpy(),
                "sessions",
                patient=keep.index[out].to_numpy(),
                therapist=therapist_of[out].to_numpy(),
            )
        )
    s = s[ids.isin(s["patient"], keep.index[keep])]
    if s.empty:
        raise InputError(
            "No patient meets the sample criteria (at least "
            f"{k} non-missing assessments of every outcome and one rating of every "
            "process). Check the measure columns in the config and "
            "cleaning.min_outcome_assessments; results/data/exclusions.csv is not written "
            "because the run stopped, but every patient failed these criteria."
        )
    t = t[ids.isin(t["therapist"], ids.distinct(s["therapist"]))]
    return s, t
