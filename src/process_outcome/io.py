"""Reading the user's tables and writing results deterministically."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from process_outcome.errors import InputError

READERS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".txt": "tsv",
    ".xlsx": "excel",
    ".xls": "excel",
    ".sav": "spss",
    ".zsav": "spss",
    ".dta": "stata",
    ".parquet": "parquet",
    ".pq": "parquet",
}


def read_table(
    path: str | Path,
    *,
    table: str,
    id_columns: tuple[str, ...] = (),
    sheet: str | int | None = None,
) -> pd.DataFrame:
    """Read one input table, choosing the reader by the file's extension.

    Parameters
    ----------
    path : str or Path
        CSV, TSV (``.tsv``, ``.tab``, ``.txt``), Excel (``.xlsx``, ``.xls``), SPSS
        (``.sav``, ``.zsav``), Stata (``.dta``) or Parquet (``.parquet``).
    table : str
        Which table this is (``sessions``, ``therapists``, ``patients``), for messages.
    id_columns : tuple of str
        Columns read as text, so ids such as ``007`` keep their leading zeros.
    sheet : str or int, optional
        Excel sheet name or 0-based index; the first sheet by default.

    Returns
    -------
    pandas.DataFrame
        The table with its columns as in the file and the attribute ``attrs["path"]``.

    Raises
    ------
    InputError
        If the file is missing, has an unknown extension, cannot be parsed, or is empty.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(
            f"{table} table: file {path} does not exist. Check data.files.{table} in the "
            "config (paths are relative to the directory you run snakemake from)."
        )
    kind = READERS.get(path.suffix.lower())
    if kind is None:
        raise InputError(
            f"{table} table: file {path} has the extension '{path.suffix}', which the "
            f"workflow cannot read. Use one of {', '.join(sorted(READERS))}."
        )
    try:
        df = _read(path, kind, id_columns, sheet)
    except InputError:
        raise
    except Exception as exc:  # every reader has its own exception types
        raise InputError(
            f"{table} table: could not read {path} as {kind}: {exc}. Check that the file "
            "is not damaged and that its extension matches its format."
        ) from None
    df.columns = [str(c) for c in df.columns]
    if df.empty:
        raise InputError(
            f"{table} table: {path} has no data rows. Point data.files.{table} at a file "
            "with one row per record below the header."
        )
    for col in id_columns:
        if col in df.columns:
            df[col] = df[col].map(text_value, na_action="ignore").astype("string")
    df.attrs["path"] = str(path)
    return df


def text_value(value: Any) -> str:
    """A cell as text, whole-number floats without ``.0``.

    SPSS, Stata and Excel store numeric ids and codes as floats; 12.0 must match "12"
    in a CSV.
    """
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _read(path: Path, kind: str, id_columns: tuple[str, ...], sheet: str | int | None):
    dtype = dict.fromkeys(id_columns, str)
    if kind in {"csv", "tsv"}:
        sep = "," if kind == "csv" else "\t"
        return pd.read_csv(path, sep=sep, dtype=dtype, skipinitialspace=False)
    if kind == "excel":
        try:
            return pd.read_excel(path, sheet_name=0 if sheet is None else sheet, dtype=dtype)
        except (ValueError, KeyError, IndexError) as exc:
            if (
                "not found" in str(exc)
                or "out of range" in str(exc)
                or isinstance(exc, (KeyError, IndexError))
            ):
                sheets = pd.ExcelFile(path).sheet_names
                raise InputError(
                    f"file {path} has no sheet {sheet!r}; its sheets are "
                    f"{', '.join(map(repr, sheets))}. Set data.sheets to one of them."
                ) from None
            raise
    if kind == "spss":
        return pd.read_spss(path, convert_categoricals=False)
    if kind == "stata":
        return pd.read_stata(path, convert_categoricals=False)
    return pd.read_parquet(path)


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
    atomic_write_text(
        path, json.dumps(_plain(obj), indent=2, sort_keys=True, allow_nan=True) + "\n"
    )


def read_json(path: str | Path) -> Any:
    """Read a JSON file."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _plain(obj: Any) -> Any:
    # numpy scalars and tuples are not JSON types; convert recursively.
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item):
        return obj.item()
    return obj


# The workflow's own files: what a git dirty flag and the supplement's copy refer to.
WORKFLOW_PATHS = (
    "Snakefile",
    "workflow",
    "scripts",
    "src",
    "config",
    "environment.yml",
    "pyproject.toml",
)


def package_versions(names: Sequence[str]) -> dict[str, str | None]:
    """Installed version of each named distribution (``None`` when not installed)."""
    from importlib import metadata

    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def sha256_file(path: str | Path) -> str:
    """SHA-256 of a file's bytes, as lowercase hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def git_state(path: str | Path, paths: Sequence[str] = WORKFLOW_PATHS) -> dict[str, Any]:
    """Commit, commit time and dirty flag of the workflow's git checkout.

    ``dirty`` is judged on the workflow's own files (``paths``), untracked ones
    included, and ``changed`` lists them; results, notes and caches do not count. All
    values are ``None`` outside a git checkout (for example an unpacked supplement).

    Returns
    -------
    dict
        ``commit``, ``commit_time`` (ISO 8601), ``commit_epoch`` (seconds), ``dirty``,
        ``changed``.
    """

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(path), *args],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout

    try:
        commit = git("rev-parse", "HEAD").strip()
        stamp = git("log", "-1", "--format=%cI %ct", "HEAD").split()
        status = git("status", "--porcelain", "--untracked-files=all", "--", *paths)
    except (OSError, subprocess.SubprocessError):
        return dict.fromkeys(("commit", "commit_time", "commit_epoch", "dirty", "changed"))
    changed = sorted(line[3:] for line in status.splitlines() if line.strip())
    return {
        "commit": commit,
        "commit_time": stamp[0],
        "commit_epoch": int(stamp[1]),
        "dirty": bool(changed),
        "changed": changed,
    }
