"""De-identified original records, shared only by the explicit opt-in
``supplement.share_deidentified``: the analysis columns, ids salted and hashed.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

import pandas as pd

from process_outcome.config import measures
from process_outcome.errors import InputError

__all__ = ["deidentified_tables", "salted_id"]


def salted_id(value: str, salt: str, kind: str) -> str:
    """Keyed SHA-256 (HMAC) of an id, 16 hex digits, prefixed by ``P-`` or ``T-``."""
    digest = hmac.new(salt.encode(), f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()
    return f"{kind[0].upper()}-{digest[:16]}"


def deidentified_tables(
    config: Mapping[str, Any], tables: Mapping[str, pd.DataFrame], salt: str
) -> dict[str, pd.DataFrame]:
    """The analysis columns of the sessions and therapists tables, ids salted and hashed.

    Only the columns the analysis uses are kept (ids, session, outcomes, processes,
    moderators): anything else in the files (names, dates, free text) stays out. Rows are
    sorted by the hashed ids, so the file order of the input is not disclosed either.
    """
    if not salt or len(salt) < 16:
        raise InputError(
            "supplement.share_deidentified is true, so supplement.salt must be a secret of "
            "at least 16 characters (keep it out of version control; pass it with "
            "--config supplement='{salt: ...}' or a private config file)."
        )
    cols = config["data"]["columns"]
    pid, tid, sid = cols["patient"], cols["therapist"], cols["session"]
    ms = measures(config)
    keep = {
        "sessions": [pid, tid, sid, *[m.column for m in ms if m.table == "sessions"]],
        "therapists": [tid, *[m.column for m in ms if m.kind == "moderator"]],
    }
    out = {}
    for table, columns in keep.items():
        df = tables[table][list(dict.fromkeys(columns))].copy()
        for col, kind in ((pid, "patient"), (tid, "therapist")):
            if col in df.columns:
                ids = df[col].astype("string")
                mapping = {v: salted_id(v, salt, kind) for v in ids.dropna().unique()}
                if len(set(mapping.values())) < len(mapping):
                    raise InputError("two ids share a salted hash; choose another salt.")
                df[col] = ids.map(mapping)
        order = [c for c in (tid, pid, sid) if c in df.columns]
        out[table] = df.sort_values(order, kind="mergesort").reset_index(drop=True)
    return out
