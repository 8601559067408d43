"""Ids as text: matching them between tables and describing the ones that do not match."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

__all__ = ["DIFFLIB_PAIRS", "describe_unmatched", "distinct", "id_key", "isin", "near_matches"]

MAX_LISTED = 10
# difflib compares every unmatched id with every candidate; beyond this many pairs
# (200,000 unmatched patient ids) only the loose key (case, separators, zeros) is used.
DIFFLIB_PAIRS = 2_000_000


def isin(ids: pd.Series, values: Iterable[object]) -> np.ndarray:
    """Which ids are among ``values``, fast for the text ids of a million rows.

    pandas' ``isin`` on Arrow-backed text converts every value of the set one by one;
    Arrow's own ``is_in`` does not.

    Examples
    --------
    >>> isin(pd.Series(["a", "b", None], dtype="string"), {"b"}).tolist()
    [False, True, False]
    """
    values = list(values)
    array = ids.array
    if isinstance(ids.dtype, pd.StringDtype) and ids.dtype.storage == "pyarrow":
        import pyarrow as pa
        import pyarrow.compute as pc

        chunks = pa.array(array)
        wanted = pa.array([str(v) for v in values if isinstance(v, str)], type=chunks.type)
        return np.asarray(pc.is_in(chunks, value_set=wanted).fill_null(False), dtype=bool)
    return ids.isin(values).to_numpy(dtype=bool)


def distinct(ids: pd.Series) -> set[str]:
    """The distinct non-missing ids of a column, as a set (without iterating every row).

    Examples
    --------
    >>> sorted(distinct(pd.Series(["a", "b", "a", None], dtype="string")))
    ['a', 'b']
    """
    return set(ids.dropna().unique().tolist())


def id_key(value: str) -> str:
    """A loose form of an id for finding near matches (never for matching itself).

    Case, separators (``-``, ``_``, spaces, dots) and leading zeros of numbers are
    ignored, so ``Kl-01``, ``kl0001`` and ``KL 1`` share a key.

    Examples
    --------
    >>> id_key("Kl-01"), id_key("kl0001"), id_key("Q7 "), id_key("12.0")
    ('kl1', 'kl1', 'q7', '12')
    """
    text = re.sub(r"\.0+$", "", str(value).strip()).casefold()
    text = re.sub(r"[\s\-_./]+", "", text)
    return re.sub(r"\d+", lambda m: str(int(m.group())), text)


def near_matches(unmatched: Iterable[str], candidates: Iterable[str]) -> dict[str, str]:
    """For each unmatched id, the candidate it most probably was meant to be.

    A candidate with the same :func:`id_key` wins; otherwise the closest by
    :func:`difflib.get_close_matches` (ratio at least 0.8), if any and if there are at
    most ``DIFFLIB_PAIRS`` pairs to compare.

    Examples
    --------
    >>> near_matches(["Kl-01", "X9"], ["Kl-001", "Kl-002"])
    {'Kl-01': 'Kl-001'}
    """
    pool = sorted(set(candidates))
    by_key: dict[str, str] = {}
    for c in pool:
        by_key.setdefault(id_key(c), c)
    out: dict[str, str] = {}
    unmatched = sorted(set(unmatched))
    compare = len(unmatched) * len(pool) <= DIFFLIB_PAIRS
    for u in unmatched:
        if id_key(u) in by_key:
            out[u] = by_key[id_key(u)]
            continue
        close = difflib.get_close_matches(u, pool, n=1, cutoff=0.8) if compare else None
        if close:
            out[u] = close[0]
    return out


def describe_unmatched(unmatched: Iterable[str], near: Mapping[str, str]) -> str:
    """The unmatched ids, each with its near match, and what the near matches suggest.

    Examples
    --------
    >>> describe_unmatched(["Kl-01"], {"Kl-01": "Kl-001"})[:24]
    "'Kl-01' (near 'Kl-001')."
    """
    ids = sorted(set(unmatched))
    listed = ", ".join(
        repr(u) + (f" (near {near[u]!r})" if u in near else "") for u in ids[:MAX_LISTED]
    )
    if len(ids) > MAX_LISTED:
        listed += f" and {len(ids) - MAX_LISTED} more"
    if not near:
        return listed + "."
    same_key = all(id_key(u) == id_key(c) for u, c in near.items())
    why = (
        "The near matches differ only in case, separators or leading zeros: one table "
        "writes the ids differently"
        if same_key
        else "Near matches are listed"
    )
    return (
        f"{listed}. {why}; write them the same way in every table (Excel drops leading "
        "zeros from numbers; store ids as text)."
    )
