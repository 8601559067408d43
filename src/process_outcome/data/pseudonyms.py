"""Ids of the study and their stand-ins: pseudonymous therapist codes and the prefix
of synthetic ids, collision-free by construction.

Codes are numbered in an order that carries no information about the real ids: by a
keyed hash (HMAC-SHA-256) of each id, with a key drawn from the content of the input
tables (:func:`code_key`). The same data give the same codes on every run, but someone
who knows the roster, and not the data, cannot tell which code is whose (with codes in
the ids' sorted order, ``T01`` would be the first name in the alphabet). The mapping is
kept in ``results/private/therapist_codes.csv``.

Codes (``T01``, ``T02``, …) and synthetic ids (``SYNT01``, ``SYNP0001``, …) take their
prefix from a list of candidates. An id of the study can rule out at most one candidate
per word it has (a word ``t07`` rules out the prefix ``T``, nothing else), so among
``n + 1`` candidates, with ``n`` the number of distinct words that rule one out, one is
free (pigeonhole): the search is bounded and never finds a code or synthetic id that
equals, or contains as a word, a study id.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import re
import string
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

import pandas as pd

__all__ = [
    "WORD",
    "StudyId",
    "code_key",
    "code_prefix",
    "free_prefix",
    "id_tokens",
    "pseudonymize",
    "pseudonymous_codes",
    "study_ids",
    "synthetic_prefix",
    "therapist_codes",
]

# A word as the scan sees it: a run of letters and digits (case-insensitive).
WORD = re.compile(r"[a-z0-9]+")
# Words of a therapist code (letters, then digits) and of a synthetic id or its prefix.
CODE_WORD = re.compile(r"([a-z]+)[0-9]+")
SYNTHETIC_WORD = re.compile(r"(syn[0-9]*)(?:[tp][0-9]+)?")


def id_tokens(value: str) -> list[str]:
    """The words of an id as the privacy scan sees them (lower case).

    Examples
    --------
    >>> id_tokens("SYN-T01")
    ['syn', 't01']
    """
    return WORD.findall(str(value).lower())


def free_prefix(ids: Iterable[str], candidates: Iterable[str], pattern: re.Pattern[str]) -> str:
    """The first candidate prefix that no word of any id rules out.

    A word of an id rules out the prefix ``pattern`` captures when the pattern matches
    the whole word. Each word rules out at most one prefix, so among ``n + 1``
    candidates (``n`` distinct ruled-out prefixes) one is free: the search looks at no
    more than ``n + 1`` candidates.

    Parameters
    ----------
    ids : iterable of str
        Every id of the study.
    candidates : iterable of str
        Distinct prefixes in order of preference (may be endless).
    pattern : compiled regex
        Full-matches a word that a prefix could produce; group 1 is that prefix (lower
        case).

    Examples
    --------
    >>> free_prefix(["T01", "TH02"], ["T", "TH", "TC"], CODE_WORD)
    'TC'
    """
    blocked = {
        m.group(1) for value in ids for token in id_tokens(value) if (m := pattern.fullmatch(token))
    }
    for candidate in itertools.islice(candidates, len(blocked) + 1):
        if candidate.lower() not in blocked:
            return candidate
    raise ValueError(f"fewer than {len(blocked) + 1} distinct candidate prefixes were given")


def _letters(k: int) -> str:
    # Bijective base 26: 1 -> A, 26 -> Z, 27 -> AA.
    out = ""
    while k > 0:  # bounded: k shrinks by a factor of 26 each pass
        k, r = divmod(k - 1, 26)
        out = string.ascii_uppercase[r] + out
    return out


def _code_candidates() -> Iterator[str]:
    yield "T"
    yield "TH"
    for k in itertools.count(1):
        if (prefix := "T" + _letters(k)) != "TH":
            yield prefix


def code_prefix(ids: Iterable[str]) -> str:
    """Prefix of the pseudonymous therapist codes: ``T`` unless a study id rules it out.

    A code is the prefix and a number (``T07``). An id with a word of that shape
    (``T07``, ``t000``, ``P-T12``) rules out its prefix; then ``TH``, then ``TA``,
    ``TB``, … are tried.

    Examples
    --------
    >>> code_prefix(["DR001", "C-0001"]), code_prefix(["T01", "T02"])
    ('T', 'TH')
    """
    return free_prefix(ids, _code_candidates(), CODE_WORD)


def code_key(tables: Mapping[str, pd.DataFrame]) -> bytes:
    """The key of the codes' order: a SHA-256 digest of every cell of the input tables.

    It depends on the data alone (the same files give the same codes on every run and
    machine) and cannot be computed from what is shared: the supplement publishes the
    files' SHA-256 sums, not this digest of their cells.

    Examples
    --------
    >>> t = {"sessions": pd.DataFrame({"p": ["1", "2"], "x": [0.5, 1.0]})}
    >>> code_key(t) == code_key({"sessions": t["sessions"].copy()})
    True
    >>> code_key(t) == code_key({"sessions": t["sessions"].assign(x=[0.5, 1.1])})
    False
    """
    digest = hashlib.sha256(b"process-outcome therapist codes\0")
    for name in sorted(tables):
        df = tables[name]
        if df is None:
            continue
        digest.update(f"{name}\0{list(map(str, df.columns))}\0".encode())
        # pandas' cell hashes use a fixed key, so they are the same on every run.
        try:
            hashed = pd.util.hash_pandas_object(df, index=False)
        except TypeError:  # cells of mixed types
            hashed = pd.util.hash_pandas_object(df.astype("string"), index=False)
        digest.update(hashed.to_numpy().tobytes())
    return digest.digest()


def pseudonymous_codes(
    therapists: Iterable[str], avoid: Iterable[str] = (), key: bytes = b""
) -> pd.DataFrame:
    """Pseudonymous codes of the therapists, numbered in the order of a keyed hash.

    ``T01``, ``T02``, … (zero-padded to at least two digits), with the prefix of
    :func:`code_prefix`, so that no code equals or contains as a word any of the
    therapist ids or of the ids in ``avoid`` (give every id of the study). The
    therapists are numbered by the HMAC-SHA-256 of their ids under ``key``
    (:func:`code_key` of the input tables), so the numbers follow neither the ids'
    order nor their order in the files.

    Returns
    -------
    DataFrame
        Columns ``therapist`` (original id) and ``code``, in the order of the codes.

    Examples
    --------
    >>> sorted(pseudonymous_codes(["b", "a"])["code"])
    ['T01', 'T02']
    >>> sorted(pseudonymous_codes(["T2", "T1"], avoid=["P001"])["code"])
    ['TH01', 'TH02']
    """
    ids = sorted({str(v) for v in therapists if not pd.isna(v)})
    prefix = code_prefix([*ids, *map(str, avoid)])
    width = max(2, len(str(len(ids))))
    order = sorted(ids, key=lambda v: (hmac.new(key, v.encode(), hashlib.sha256).digest(), v))
    return pd.DataFrame(
        {"therapist": order, "code": [f"{prefix}{i + 1:0{width}d}" for i in range(len(order))]}
    )


def _synthetic_candidates() -> Iterator[str]:
    yield "SYN"
    for k in itertools.count(2):
        yield f"SYN{k}"


def synthetic_prefix(ids: Iterable[str]) -> str:
    """Prefix of the synthetic replica's ids: ``SYN`` unless a study id rules it out.

    Synthetic ids are one word, prefix, ``T`` or ``P`` and a number (``SYNT01``,
    ``SYNP0001``); an id with a word of that shape or equal to the prefix rules it out
    (a replica given as input rules out its own prefix), then ``SYN2``, ``SYN3``, … are
    tried.

    Examples
    --------
    >>> synthetic_prefix(["T01", "P0001"]), synthetic_prefix(["SYNT01", "SYN2P0001"])
    ('SYN', 'SYN3')
    """
    return free_prefix(ids, _synthetic_candidates(), SYNTHETIC_WORD)


# --------------------------------------------------------------------------- the study's ids


@dataclass(frozen=True)
class StudyId:
    """Where an id was first seen: its kind, table and spreadsheet row (header = row 1)."""

    kind: str
    table: str
    row: int

    def describe(self) -> str:
        """``therapist id (therapists table, row 7)``: names the id without showing it."""
        return f"{self.kind} id ({self.table} table, row {self.row})"


def study_ids(tables: Mapping[str, pd.DataFrame], columns: Mapping[str, str]) -> dict[str, StudyId]:
    """Every patient and therapist id of the input tables, with where it was first seen.

    Parameters
    ----------
    tables : mapping
        Table name -> the table as read (ids as text).
    columns : mapping
        ``data.columns`` of the config (``patient``, ``therapist``).

    Examples
    --------
    >>> t = {"therapists": pd.DataFrame({"tid": ["A7", "B9"]})}
    >>> study_ids(t, {"patient": "pid", "therapist": "tid"})["B9"].describe()
    'therapist id (therapists table, row 3)'
    """
    found: dict[str, StudyId] = {}
    # Therapists first, so an id of both kinds is named by its therapists-table row.
    order = sorted(tables, key=lambda t: (t != "therapists", t))
    for table in order:
        df = tables[table]
        for kind in ("therapist", "patient"):
            col = columns[kind]
            if col not in df.columns:
                continue
            values = df[col].astype("string").str.strip()
            for pos, value in enumerate(values.tolist()):
                if value is pd.NA or value == "" or value in found:
                    continue
                found[value] = StudyId(kind, table, pos + 2)
    return dict(sorted(found.items()))


def therapist_codes(
    therapists: pd.Series, avoid: Iterable[str] = (), key: bytes = b""
) -> pd.DataFrame:
    """Stable pseudonymous codes, numbered in the order of a keyed hash of the ids.

    ``T01``, ``T02``, … unless an id of the study has that shape (``T07``): then the
    codes take another prefix (``TH01``, …; see
    :func:`code_prefix`), so that a code never equals an id and
    the shared tables cannot show a real id under a code's name.

    Parameters
    ----------
    therapists : Series
        The therapist ids to code.
    avoid : iterable of str
        Every other id of the study (patients', and therapists' outside the sample).
    key : bytes
        Key of the codes' order (:func:`code_key` of the input tables).

    Returns
    -------
    DataFrame
        Columns ``therapist`` (original id) and ``code``.

    Examples
    --------
    >>> sorted(therapist_codes(pd.Series(["T2", "T1"]))["code"])
    ['TH01', 'TH02']
    """
    return pseudonymous_codes(therapists.astype(str), avoid, key)


def pseudonymize(
    table: pd.DataFrame, codes: pd.DataFrame, column: str = "therapist"
) -> pd.DataFrame:
    """Replace original therapist ids by their codes (order is preserved)."""
    mapping = dict(zip(codes["therapist"].astype(str), codes["code"], strict=True))
    out = table.copy()
    out[column] = out[column].astype(str).map(mapping)
    return out
