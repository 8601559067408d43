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
    "OUTSIDE_SHARE",
    "SENTINELS",
    "SHIFT_MIN_SHARE",
    "check_scales",
    "check_sentinels",
    "check_values",
    "source_codes",
    "source_keys",
    "to_numeric",
]

# No rating, score or count is this large; such a value is a typing or export error.
ABSURD = 1e9
# Codes that questionnaires and SPSS exports commonly use for "missing".
SENTINELS = (-9.0, -99.0, -999.0, -9999.0, 99.0, 999.0, 9999.0)
# A scale is taken for shifted when at least this share of the values lies outside the
# declared range and every value fits it after one shift (0 to 6 against 1 to 7); a
# few typing slips at one end (one 0 among 1 to 6) stay ordinary out-of-range values.
SHIFT_MIN_SHARE = 0.01
SHIFT_MIN_COUNT = 3
# A declared range that more than this share of the values lies outside is stale.
OUTSIDE_SHARE = 0.5


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


def check_values(
    df: pd.DataFrame, table: str, ms: Sequence[Measure], check_scale: bool = True
) -> None:
    """Refuse values that a declared scale or missing-value codes do not explain.

    The one check of a table's measure values after :func:`to_numeric`: undeclared
    missing-value codes (:func:`check_sentinels`) and scales that do not match their
    declared range (:func:`check_scales`, unless ``check_scale`` is False).

    Examples
    --------
    >>> m = Measure("wai", "wai", "WAI", "process", "sessions", range=(1.0, 7.0))
    >>> check_values(pd.DataFrame({"wai": [1.0, 7.0, 4.0]}), "sessions", [m])  # passes
    """
    check_sentinels(df, table, ms)
    if check_scale:
        check_scales(df, table, ms)


def check_scales(df: pd.DataFrame, table: str, ms: Sequence[Measure]) -> None:
    """Refuse values that fit their declared range only after a shift, or mostly miss it.

    Items exported 0 to 6 with ``item_range: [1, 7]`` would lose every 0 as out of
    range, be scored a point low, and a reverse-keyed item (8 - x) would be mis-scored;
    a process rescaled to 0 to 100 with a stale ``range: [0, 40]`` would lose most of
    its ratings. Both are found here, with the numbers and the fix, instead of being
    cleaned into wrong results. The check reads each item against ``item_range`` and
    each column against ``range``.

    Raises
    ------
    InputError
        Naming the column, the values' range, how many lie outside and the fix.

    Examples
    --------
    >>> m = Measure("wai", None, "WAI", "process", "sessions", items=("w1",),
    ...             item_range=(1.0, 7.0))
    >>> df = pd.DataFrame({"w1": [0.0, 3.0, 6.0] * 20})
    >>> try:
    ...     check_scales(df, "sessions", [m])
    ... except InputError as exc:
    ...     print(str(exc).split(": ", 1)[1][:70])
    the values lie between 0 and 6 and 20 of 60 values (33.3%) lie below 1
    """
    for m in ms:
        if m.type in {"binary", "categorical"}:
            continue
        if m.items and m.item_range is not None:
            checks = [(c, m.item_range, f"{m.config_key} item", "item_range") for c in m.items]
        elif m.column and m.range is not None:
            checks = [(str(m.column), m.range, m.config_key, "range")]
        else:
            continue
        for column, (lo, hi), what, key in checks:
            message = _scale_problem(df[column], lo, hi, column in m.reverse_items, key, m)
            if message:
                raise InputError(
                    f"{table_label(df, table)}, column '{column}' ({what}, {key} {lo:g} to "
                    f"{hi:g}): {message}"
                )


def _scale_problem(
    values: pd.Series, lo: float, hi: float, reverse: bool, key: str, m: Measure
) -> str | None:
    """What is wrong with a column's scale, or None."""
    v = values.dropna()
    if v.empty:
        return None
    vmin, vmax = float(v.min()), float(v.max())
    below, above = int((v < lo).sum()), int((v > hi).sum())
    outside = below + above
    if not outside:
        return None
    n = len(v)
    setting = f"{m.config_key}.{key}"
    span = f"the values lie between {vmin:g} and {vmax:g}"
    # One shift that brings every value into the range: the scale was exported from
    # another origin (0 to 6 for 1 to 7, or 1 to 5 for 0 to 4).
    shift = lo - vmin if below else hi - vmax
    fits = vmax - vmin <= hi - lo and not (below and above)
    if fits and outside >= max(SHIFT_MIN_COUNT, SHIFT_MIN_SHARE * n):
        end = f"below {lo:g}" if below else f"above {hi:g}"
        side = vmin if below else vmax
        counts = f"{outside} of {n} values ({100 * outside / n:.1f}%) lie {end}"
        reversed_text = (
            f" This item is reverse-keyed: {lo + hi:g} - x would turn {vmin:g} to {vmax:g} "
            f"into {lo + hi - vmax:g} to {lo + hi - vmin:g}."
            if reverse
            else ""
        )
        direction = "lower" if shift > 0 else "higher"
        recode = f"add {shift:g} to" if shift > 0 else f"subtract {-shift:g} from"
        return (
            f"{span} and {counts} (the value {side:g} occurs {int((v == side).sum())} times), "
            f"so the scale looks exported as {lo - shift:g} to {hi - shift:g}, "
            f"{abs(shift):g} {direction} than the declared {lo:g} to {hi:g}. As declared, "
            f"those values would become missing and every other one would be scored "
            f"{abs(shift):g} point(s) {'low' if shift > 0 else 'high'}.{reversed_text} "
            f"Fix: if the scale runs {lo - shift:g} to {hi - shift:g}, set {setting}: "
            f"[{lo - shift:g}, {hi - shift:g}]; if it runs {lo:g} to {hi:g}, {recode} "
            "every value of the column in the file. If the values outside are typing "
            "slips, correct them (or set cleaning.check_scales: false to treat them as "
            "out of range)."
        )
    if outside > OUTSIDE_SHARE * n:
        where = []
        if below:
            where.append(f"{below} below {lo:g} (down to {vmin:g})")
        if above:
            where.append(f"{above} above {hi:g} (up to {vmax:g})")
        return (
            f"{outside} of {n} values ({100 * outside / n:.1f}%) lie outside the declared "
            f"range: {' and '.join(where)}. As declared, most values would become missing "
            f"(and patients without any value leave the sample). The range looks stale "
            f"(the values run {vmin:g} to {vmax:g}): set {setting} to the scale's real "
            "minimum and maximum, or rescale the column in the file to the declared range."
        )
    return None


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
