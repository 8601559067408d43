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
    # Row numbers as a user sees them in a spreadsheet: header is row 1.
    numbers = [int(i) + 2 for i in index]
    listed = ", ".join(map(str, numbers[:MAX_LISTED]))
    more = f" and {len(numbers) - MAX_LISTED} more" if len(numbers) > MAX_LISTED else ""
    return f"row{'s' if len(numbers) > 1 else ''} {listed}{more}"


def show_value(value: Any) -> str:
    # Numbers as a user typed them (2, not np.float64(2.0)); text quoted, so that
    # spaces and empty strings are visible.
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return repr(value)
    return f"{value:g}"


def value_list(values: Iterable[Any]) -> str:
    vals = list(values)
    listed = ", ".join(show_value(v) for v in vals[:MAX_LISTED])
    return listed + (f" and {len(vals) - MAX_LISTED} more" if len(vals) > MAX_LISTED else "")


def table_label(df: pd.DataFrame, table: str) -> str:
    return f"{table} table ({df.attrs.get('path', 'in memory')})"
