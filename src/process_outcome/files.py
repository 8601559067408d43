"""Writing results deterministically (atomic, fixed float format, sorted JSON keys) and
reading them back; file checksums."""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "atomic_write_text",
    "json_float",
    "json_records",
    "plain",
    "read_json",
    "sha256_file",
    "write_csv",
    "write_json",
]


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write text so that a reader never sees a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        # mkstemp creates the file private (0600); give it the mode a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_csv(df: pd.DataFrame, path: str | Path, *, float_format: str = "%.12g") -> None:
    """Write a table as CSV with a fixed float format, so equal inputs give equal bytes."""
    atomic_write_text(path, df.to_csv(index=False, float_format=float_format, lineterminator="\n"))


def write_json(obj: Any, path: str | Path) -> None:
    """Write JSON with sorted keys and a trailing newline, for byte-stable output."""
    atomic_write_text(path, json.dumps(plain(obj), indent=2, sort_keys=True, allow_nan=True) + "\n")


def read_json(path: str | Path) -> Any:
    """Read a JSON file."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def plain(obj: Any) -> Any:
    # numpy scalars and tuples are not JSON types; convert recursively.
    if isinstance(obj, Mapping):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item):
        return obj.item()
    return obj


# The workflow's own files: what a git dirty flag and the supplement's copy refer to.


def sha256_file(path: str | Path) -> str:
    """SHA-256 of a file's bytes, as lowercase hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def json_float(value: float) -> float | None:
    """A float for JSON: non-finite values (NaN, infinities) become ``None`` (null).

    Examples
    --------
    >>> json_float(1.5), json_float(float("nan"))
    (1.5, None)
    """
    value = float(value)
    return value if math.isfinite(value) else None


def json_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of a table as JSON-ready dicts: floats via :func:`json_float`, numpy bools as bools.

    Examples
    --------
    >>> json_records(pd.DataFrame({"a": [1.0, float("nan")], "ok": [True, False]}))
    [{'a': 1.0, 'ok': True}, {'a': None, 'ok': False}]
    """
    out = []
    for row in frame.to_dict(orient="records"):
        out.append(
            {
                k: (
                    json_float(v)
                    if isinstance(v, float | np.floating)
                    else (bool(v) if isinstance(v, bool | np.bool_) else v)
                )
                for k, v in row.items()
            }
        )
    return out
