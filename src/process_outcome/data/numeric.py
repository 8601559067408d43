"""Measure columns as numbers: conversion, absurd values and missing-value codes.

A cell that is not a number, infinite or absurdly large, or an undeclared code such as
-99, raises :class:`~process_outcome.errors.InputError` naming the file, column, rows
and values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from process_outcome.config import Measure
from process_outcome.data.messages import row_list, table_label, value_list
from process_outcome.errors import InputError

__all__ = [
    "ABSURD",
    "SENTINELS",
    "check_sentinels",
    "source_codes",
    "source_keys",
    "to_numeric",
]

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
                    f"{table_label(df, table)}, column '{column}' ({key}): {row_list(rows)} hold "
                    f"values that are not numbers: {value_list(raw.iloc[rows].tolist())}. "
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
                f"{table_label(df, table)}, column '{column}' ({key}): {row_list(rows)} hold "
                f"{value_list(converted.iloc[rows].tolist())}, which cannot be a score "
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

    Examples
    --------
    >>> m = Measure("wai", "wai", "WAI", "process", "sessions")
    >>> df = pd.DataFrame({"wai": [0.0, 180.0, 99.0]})
    >>> check_sentinels(df, "sessions", [m])  # 99 among 0 to 180 is a score: passes
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
            f"{table_label(df, table)}, column '{column}' ({m.config_key}): {row_list(rows)} hold "
            f"{codes_text}, which looks like a missing-value code: every other value lies "
            f"between {lo:g} and {hi:g}. Declare it with {m.config_key}.missing_codes: "
            f"[{codes_text}] (or data.missing_codes for every column), or give the "
            f"admissible {m.config_key}.range: [min, max]."
        )


def source_keys(ms: Sequence[Measure]) -> dict[str, str]:
    """Source column -> the config key that names it, for messages.

    Parameters
    ----------
    ms : sequence of Measure
        The measures of one table.

    Returns
    -------
    dict
        Each column a measure is read from (its column or its items) -> the config key,
        such as ``measures.processes.wai.column``; the first measure naming a column wins.

    Examples
    --------
    >>> m = Measure("wai", "wai_total", "WAI", "process", "sessions")
    >>> source_keys([m])
    {'wai_total': 'measures.processes.wai.column'}
    """
    keys: dict[str, str] = {}
    for m in ms:
        for c in m.source_columns:
            keys.setdefault(c, f"{m.config_key}.{'items' if m.items else 'column'}")
    return keys


def source_codes(ms: Sequence[Measure]) -> dict[str, tuple[float, ...]]:
    """Source column -> its declared missing-value codes.

    Parameters
    ----------
    ms : sequence of Measure
        The measures of one table.

    Returns
    -------
    dict
        Each source column of a measure with ``missing_codes`` -> those codes (the
        ``missing_codes`` argument of :func:`to_numeric`).

    Examples
    --------
    >>> m = Measure("wai", "wai", "WAI", "process", "sessions", missing_codes=(-99.0,))
    >>> source_codes([m])
    {'wai': (-99.0,)}
    """
    return {c: m.missing_codes for m in ms for c in m.source_columns if m.missing_codes}
