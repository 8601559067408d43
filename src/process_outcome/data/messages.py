"""Pieces of the messages that name a user's mistake: rows, values and tables.

Every :class:`~process_outcome.errors.InputError` of the data layer names the file,
the column, the rows and the values, in the form a user sees them in a spreadsheet.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

__all__ = ["MAX_LISTED", "row_list", "show_value", "table_label", "value_list"]

# Longer lists are cut, so that a message stays readable with thousands of bad rows.
MAX_LISTED = 10


def row_list(index: Iterable[int]) -> str:
    """Rows of a table as a user sees them in a spreadsheet, at most ``MAX_LISTED``.

    Parameters
    ----------
    index : iterable of int
        Zero-based row positions (or a default index) of the table as read.

    Returns
    -------
    str
        ``"row 2"`` or ``"rows 2, 5 and 3 more"``: the header is row 1.

    Examples
    --------
    >>> row_list([0, 3])
    'rows 2, 5'
    """
    # Row numbers as a user sees them in a spreadsheet: header is row 1.
    numbers = [int(i) + 2 for i in index]
    listed = ", ".join(map(str, numbers[:MAX_LISTED]))
    more = f" and {len(numbers) - MAX_LISTED} more" if len(numbers) > MAX_LISTED else ""
    return f"row{'s' if len(numbers) > 1 else ''} {listed}{more}"


def show_value(value: Any) -> str:
    """A cell's value as the user typed it.

    Parameters
    ----------
    value : object
        A number (Python or numpy) or any other value.

    Returns
    -------
    str
        Numbers in short form (``2``, not ``np.float64(2.0)``), anything else quoted.

    Examples
    --------
    >>> show_value(2.0), show_value(" 3")
    ('2', "' 3'")
    """
    # Numbers as a user typed them (2, not np.float64(2.0)); text quoted, so that
    # spaces and empty strings are visible.
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return repr(value)
    return f"{value:g}"


def value_list(values: Iterable[Any]) -> str:
    """Values for a message, each shown by :func:`show_value`, at most ``MAX_LISTED``.

    Parameters
    ----------
    values : iterable
        The offending values.

    Returns
    -------
    str
        The values separated by commas, with ``" and N more"`` when cut.

    Examples
    --------
    >>> value_list([1.0, "x"])
    "1, 'x'"
    """
    vals = list(values)
    listed = ", ".join(show_value(v) for v in vals[:MAX_LISTED])
    return listed + (f" and {len(vals) - MAX_LISTED} more" if len(vals) > MAX_LISTED else "")


def table_label(df: pd.DataFrame, table: str) -> str:
    """A table's name and file for a message.

    Parameters
    ----------
    df : DataFrame
        The table as read (its ``attrs["path"]`` names the file).
    table : str
        The table's role: ``sessions``, ``therapists`` or ``patients``.

    Returns
    -------
    str
        Such as ``"sessions table (data/sessions.csv)"``.

    Examples
    --------
    >>> table_label(pd.DataFrame(), "sessions")
    'sessions table (in memory)'
    """
    return f"{table} table ({df.attrs.get('path', 'in memory')})"
