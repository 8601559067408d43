"""Reading the user's tables: formats by extension, delimiter, decimal mark, encoding and
header row detected or configured, ids read as text."""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from process_outcome.errors import InputError

__all__ = [
    "HEADER_SEARCH_ROWS",
    "NAMES",
    "READERS",
    "SNIFF_LINES",
    "TEXT_DELIMITERS",
    "ReadOptions",
    "decode_text",
    "id_text",
    "io_text",
    "read_table",
    "sniff_format",
    "text_value",
]

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


TEXT_DELIMITERS = ",;\t|"
# Rows searched for a header below a title, and sheets searched for the data.
HEADER_SEARCH_ROWS = 30
SNIFF_LINES = 50
NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe", ".": "point"}


@dataclass(frozen=True)
class ReadOptions:
    """How one table's file is read (``data.read.<table>`` of the config).

    Attributes
    ----------
    sheet : str, int or None
        Excel sheet name or 0-based index (first sheet when None).
    header_row : int or None
        Row of the column names as a spreadsheet numbers it (1 when None).
    delimiter, decimal, encoding : str or None
        For text files; detected when None.
    """

    sheet: str | int | None = None
    header_row: int | None = None
    delimiter: str | None = None
    decimal: str | None = None
    encoding: str | None = None

    @classmethod
    def from_config(cls, data: Mapping[str, Any], table: str) -> ReadOptions:
        """The options of ``table`` from the config's ``data`` section.

        Examples
        --------
        >>> ReadOptions.from_config({"read": {"sessions": {"delimiter": ";"}}}, "sessions")
        ReadOptions(sheet=None, header_row=None, delimiter=';', decimal=None, encoding=None)
        """
        given = dict((data.get("read") or {}).get(table) or {})
        if given.get("sheet") is None:
            given["sheet"] = (data.get("sheets") or {}).get(table)
        return cls(**{k: given.get(k) for k in cls.__dataclass_fields__})


def read_table(
    path: str | Path,
    *,
    table: str,
    id_columns: tuple[str, ...] = (),
    sheet: str | int | None = None,
    options: ReadOptions | None = None,
) -> pd.DataFrame:
    """Read one input table, choosing the reader by the file's extension.

    Text files have their encoding (UTF-8, UTF-8 with BOM, UTF-16, else Windows cp1252),
    delimiter (csv.Sniffer) and decimal mark detected unless ``options`` gives them.
    When the id columns are not in the header but below a title, or on another Excel
    sheet, the message says which ``header_row`` or ``sheet`` to set.

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
    options : ReadOptions, optional
        How to read the file; ``options.sheet`` overrides ``sheet``.

    Returns
    -------
    pandas.DataFrame
        The table with its columns as in the file (surrounding spaces removed) and the
        attributes ``path``, ``read`` (how it was read) and ``duplicated`` (column names
        that occur more than once, with their 1-based positions).

    Raises
    ------
    InputError
        If the file is missing, empty, has an unknown extension, cannot be decoded or
        parsed, has no data rows, or its header is not on the configured row.

    Examples
    --------
    A Latin-1 file with semicolons and decimal commas, ids with leading zeros:

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "sessions.csv"
    >>> _ = path.write_bytes("patient_id;score\\n007;1,5\\n008;2\\n".encode("latin-1"))
    >>> df = read_table(path, table="sessions", id_columns=("patient_id",))
    >>> df.to_dict("list")
    {'patient_id': ['007', '008'], 'score': [1.5, 2.0]}
    """
    path = Path(path)
    opts = options or ReadOptions()
    if opts.sheet is None and sheet is not None:
        opts = replace(opts, sheet=sheet)
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
    if path.stat().st_size == 0:
        raise InputError(
            f"{table} table: {path} is empty (0 bytes): no header and no rows. Export the "
            f"table again, or point data.files.{table} at the right file."
        )
    try:
        df, header, how = _read(path, kind, table, id_columns, opts)
    except InputError:
        # A title above the header often makes the rows look malformed: say so first.
        if kind in {"csv", "tsv"} and id_columns:
            _locate_header(path, kind, table, id_columns, opts, pd.DataFrame())
        raise
    except Exception as exc:  # every reader has its own exception types
        raise InputError(
            f"{table} table: could not read {path} as {kind}: {exc}. Check that the file "
            "is not damaged and that its extension matches its format."
        ) from None
    df.columns = [str(c).strip() for c in df.columns]
    header = [str(c).strip() for c in header]
    missing_ids = [c for c in id_columns if c not in df.columns]
    if missing_ids:
        _locate_header(path, kind, table, id_columns, opts, df)
    if df.empty:
        raise InputError(
            f"{table} table: {path} has no data rows, only a header "
            f"({', '.join(df.columns[:8])}). Point data.files.{table} at a file with one "
            "row per record below the header."
        )
    for col in id_columns:
        if col in df.columns:
            df[col] = df[col].map(id_text, na_action="ignore").astype("string")
    df.attrs["path"] = str(path)
    df.attrs["read"] = how
    df.attrs["duplicated"] = {
        name: [i + 1 for i, h in enumerate(header) if h == name]
        for name in sorted({h for h in header if h and header.count(h) > 1})
    }
    return df


def text_value(value: Any) -> str:
    """A cell as text, whole-number floats without ``.0``.

    SPSS, Stata and Excel store numeric ids and codes as floats; 12.0 must match "12"
    in a CSV.

    Examples
    --------
    >>> text_value(12.0), text_value("007")
    ('12', '007')
    """
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def id_text(value: Any) -> str:
    """An id as text: no surrounding spaces, and ``12.0`` (a number exported as a
    float) written ``12``, as in a table that stored it as a whole number.

    Examples
    --------
    >>> id_text(" Q7 "), id_text("12.0"), id_text(12.0), id_text("007")
    ('Q7', '12', '12', '007')
    """
    text = text_value(value).strip()
    match = re.fullmatch(r"([+-]?\d+)\.0+", text)
    return match.group(1) if match else text


def _read(
    path: Path, kind: str, table: str, id_columns: tuple[str, ...], opts: ReadOptions
) -> tuple[pd.DataFrame, list[Any], dict[str, Any]]:
    """The table, its raw header (duplicates not renamed) and how it was read."""
    dtype = dict.fromkeys(id_columns, str)
    skip = (opts.header_row or 1) - 1
    if kind in {"csv", "tsv"}:
        return _read_text(path, kind, table, dtype, opts)
    if kind == "excel":
        sheet = 0 if opts.sheet is None else opts.sheet
        sheets = pd.ExcelFile(path).sheet_names
        if (isinstance(sheet, str) and sheet not in sheets) or (
            isinstance(sheet, int) and not 0 <= sheet < len(sheets)
        ):
            raise InputError(
                f"{table} table: file {path} has no sheet {sheet!r}; its sheets are "
                f"{', '.join(map(repr, sheets))}. Set data.read.{table}.sheet (or "
                f"data.sheets.{table}) to one of them."
            )
        df = pd.read_excel(path, sheet_name=sheet, dtype=dtype, header=skip)
        raw = pd.read_excel(path, sheet_name=sheet, header=None, skiprows=skip, nrows=1)
        header = [] if raw.empty else [c for c in raw.iloc[0].tolist() if pd.notna(c)]
        name = sheet if isinstance(sheet, str) else sheets[sheet]
        return df, header, {"sheet": name, "header_row": skip + 1}
    if kind == "spss":
        import pyreadstat

        # Declared user-missing values (SPSS "missing values") become missing.
        df, meta = pyreadstat.read_sav(str(path), user_missing=False)
        how = {"user_missing": {k: v for k, v in meta.missing_ranges.items() if v}}
        return df, list(df.columns), how
    if kind == "stata":
        df = pd.read_stata(path, convert_categoricals=False)
        return df, list(df.columns), {}
    df = pd.read_parquet(path)
    return df, list(df.columns), {}


def decode_text(raw: bytes, path: Path, table: str, encoding: str | None) -> tuple[str, str]:
    """Decode a text file: the configured encoding, else by BOM, UTF-8, then cp1252.

    cp1252 (Windows Western European, a superset of Latin-1's printable characters) is
    the usual encoding of a CSV saved by Excel on Windows; a byte it does not define
    falls back to Latin-1, which decodes every byte.

    Returns
    -------
    (str, str)
        The text and the encoding used.

    Examples
    --------
    >>> decode_text("Jürgen".encode("cp1252"), Path("x.csv"), "sessions", None)
    ('Jürgen', 'cp1252')
    """
    if encoding:
        try:
            return raw.decode(encoding), encoding
        except LookupError:
            raise InputError(
                f"{table} table: data.read.{table}.encoding is {encoding!r}, which Python "
                "does not know. Use a name such as utf-8, cp1252, latin-1 or utf-16."
            ) from None
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            raise InputError(
                f"{table} table: {path} cannot be decoded as {encoding}: byte "
                f"0x{raw[exc.start]:02x} on line {line}. Set data.read.{table}.encoding to "
                "the file's encoding (utf-8; cp1252 for Excel on Windows in Western Europe), "
                "or remove the setting to detect it."
            ) from None
    for bom, name in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                      (codecs.BOM_UTF16_BE, "utf-16")):  # fmt: skip
        if raw.startswith(bom):
            return decode_text(raw, path, table, name)
    for name in ("utf-8", "cp1252", "latin-1"):
        try:
            return raw.decode(name), name
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes every byte")  # pragma: no cover


def sniff_format(lines: list[str], kind: str) -> tuple[str, str]:
    """Delimiter and decimal mark of a text table from its first lines.

    The delimiter is csv.Sniffer's choice among comma, semicolon, tab and pipe (the
    extension's usual one if it cannot tell); the decimal mark is a comma when the
    delimiter is not and numbers such as ``3,5`` occur without any ``3.5``.

    Examples
    --------
    >>> sniff_format(["id;score", "1;3,5", "2;4,0"], "csv")
    (';', ',')
    """
    sample = "\n".join(lines[:SNIFF_LINES])
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=TEXT_DELIMITERS).delimiter
    except csv.Error:
        delimiter = "\t" if kind == "tsv" else ","
    fields = [f.strip() for row in csv.reader(lines[1:SNIFF_LINES], delimiter=delimiter)
              for f in row]  # fmt: skip
    comma = sum(bool(re.fullmatch(r"[+-]?\d*,\d+", f)) for f in fields)
    point = sum(bool(re.fullmatch(r"[+-]?\d*\.\d+", f)) for f in fields)
    decimal = "," if delimiter != "," and comma and not point else "."
    return delimiter, decimal


def _read_text(
    path: Path, kind: str, table: str, dtype: dict[str, type], opts: ReadOptions
) -> tuple[pd.DataFrame, list[str], dict[str, Any]]:
    text, encoding = decode_text(path.read_bytes(), path, table, opts.encoding)
    skip = (opts.header_row or 1) - 1
    lines = text.splitlines()[skip:]
    if not any(line.strip() for line in lines):
        raise InputError(
            f"{table} table: {path} has no header and no rows"
            + (f" from row {skip + 1} (data.read.{table}.header_row)" if skip else "")
            + f". Export the table again, or point data.files.{table} at the right file."
        )
    delimiter, decimal = sniff_format([ln for ln in lines if ln.strip()], kind)
    delimiter = opts.delimiter or delimiter
    decimal = opts.decimal or decimal
    how = {"encoding": encoding, "delimiter": delimiter, "decimal": decimal,
           "header_row": skip + 1}  # fmt: skip
    header = next(csv.reader(lines[:1], delimiter=delimiter), [])
    try:
        df = pd.read_csv(io_text(text), sep=delimiter, decimal=decimal, dtype=dtype,
                         skiprows=skip, skip_blank_lines=True)  # fmt: skip
    except pd.errors.ParserError as exc:
        raise InputError(
            f"{table} table: {path} could not be split into columns: {exc} (row numbers "
            f"count from the header). It was read with the {NAMES[delimiter]} "
            f"({delimiter!r}) as delimiter and the {NAMES.get(decimal, decimal)} as decimal "
            f"mark. If the file uses another separator, set data.read.{table}.delimiter; "
            "if a text cell contains the separator, enclose it in double quotes."
        ) from None
    return df, header, how


def io_text(text: str) -> Any:
    """A file-like object over already decoded text, for pandas."""
    import io as stdio

    return stdio.StringIO(text)


def _locate_header(
    path: Path,
    kind: str,
    table: str,
    id_columns: tuple[str, ...],
    opts: ReadOptions,
    df: pd.DataFrame,
) -> None:
    """Raise a message that says where the id columns are, if they are somewhere else."""
    wanted = set(id_columns)
    if kind in {"csv", "tsv"}:
        text, _ = decode_text(path.read_bytes(), path, table, opts.encoding)
        lines = text.splitlines()[:HEADER_SEARCH_ROWS]
        delimiter = (
            opts.delimiter or sniff_format([ln for ln in lines[1:] if ln.strip()] or lines, kind)[0]
        )
        rows = list(csv.reader(lines, delimiter=delimiter))
        found = _row_with(rows, wanted)
        if found is not None and found + 1 != (opts.header_row or 1):
            raise InputError(_header_message(path, table, found, rows))
        for other in TEXT_DELIMITERS:
            if found is None and other != delimiter:
                if _row_with(list(csv.reader(lines, delimiter=other)), wanted) is not None:
                    raise InputError(
                        f"{table} table: {path} was read with the {NAMES[delimiter]} "
                        f"({delimiter!r}) as delimiter, but its columns are separated by the "
                        f"{NAMES[other]} ({other!r}). Set data.read.{table}.delimiter: "
                        f"{other!r}, or remove the setting to detect it."
                    )
        return
    if kind != "excel":
        return
    sheets = pd.ExcelFile(path).sheet_names
    current = 0 if opts.sheet is None else opts.sheet
    current_name = current if isinstance(current, str) else sheets[current]
    for name in [current_name, *[s for s in sheets if s != current_name]]:
        raw = pd.read_excel(path, sheet_name=name, header=None, nrows=HEADER_SEARCH_ROWS)
        rows = [[text_value(v) for v in r if pd.notna(v)] for r in raw.itertuples(index=False)]
        found = _row_with(rows, wanted)
        if found is None:
            continue
        if name != current_name:
            row_hint = f" and data.read.{table}.header_row: {found + 1}" if found else ""
            raise InputError(
                f"{table} table: {path}: sheet {current_name!r} has no column "
                f"{', '.join(repr(c) for c in id_columns if c not in df.columns)}, but sheet "
                f"{name!r} has the table (header on row {found + 1}). Set "
                f"data.read.{table}.sheet: {name!r}{row_hint} in the config."
            )
        if found + 1 != (opts.header_row or 1):
            raise InputError(_header_message(path, table, found, rows, sheet=name))
        return


def _row_with(rows: Sequence[Sequence[str]], wanted: set[str]) -> int | None:
    for i, row in enumerate(rows):
        if wanted <= {str(c).strip() for c in row}:
            return i
    return None


def _header_message(
    path: Path, table: str, found: int, rows: Sequence[Sequence[str]], sheet: str | None = None
) -> str:
    above = next((" ".join(map(str, r)).strip() for r in rows[:found] if any(r)), "")
    where = f"sheet {sheet!r} of {path}" if sheet else str(path)
    title = f" below {above[:60]!r}" if above else ""
    return (
        f"{table} table: the column names of {where} are on row {found + 1}{title}, not "
        f"on row 1. Set data.read.{table}.header_row: {found + 1} in the config (or "
        "delete the rows above the column names)."
    )
