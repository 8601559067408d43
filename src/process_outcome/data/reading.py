"""Reading the user's tables: formats by extension, delimiter, decimal mark, encoding and
header row detected or configured, ids read as text."""

from __future__ import annotations

import codecs
import csv
import io
import re
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from process_outcome.errors import InputError
from process_outcome.runstate import data_file_problem

__all__ = [
    "HEADER_SEARCH_ROWS",
    "NAMES",
    "READERS",
    "SNIFF_LINES",
    "TEXT_DELIMITERS",
    "ReadOptions",
    "decode_text",
    "excel_notes",
    "file_format",
    "head_lines",
    "id_text",
    "id_texts",
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
    hidden_rows : {"read", "skip"}
        Rows hidden in an Excel sheet: read them (the table's ``attrs["warnings"]``
        names them) or leave them out.
    """

    sheet: str | int | None = None
    header_row: int | None = None
    delimiter: str | None = None
    decimal: str | None = None
    encoding: str | None = None
    hidden_rows: str = "read"

    @classmethod
    def from_config(cls, data: Mapping[str, Any], table: str) -> ReadOptions:
        """The options of ``table`` from the config's ``data`` section.

        Examples
        --------
        >>> ReadOptions.from_config({"read": {"sessions": {"delimiter": ";"}}}, "sessions")
        ReadOptions(sheet=None, header_row=None, delimiter=';', decimal=None, encoding=None, \
hidden_rows='read')
        """
        given = dict((data.get("read") or {}).get(table) or {})
        if given.get("sheet") is None:
            given["sheet"] = (data.get("sheets") or {}).get(table)
        given["hidden_rows"] = given.get("hidden_rows") or "read"
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
    _check_path(path, table)
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
    _check_format(path, kind, table)
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
            df[col] = id_texts(df[col])
    df.attrs["path"] = str(path)
    df.attrs["read"] = how
    df.attrs["duplicated"] = {
        name: [i + 1 for i, h in enumerate(header) if h == name]
        for name in sorted({h for h in header if h and header.count(h) > 1})
    }
    return df


def _check_path(path: Path, table: str) -> None:
    """Stop on a folder, or a file that is not there (naming the files that are)."""
    problem = data_file_problem(path, table)
    if problem:
        raise InputError(f"{table} table: {problem}")


# The first bytes of the binary formats the workflow reads (their "magic numbers").
MAGIC = (
    (b"PK\x03\x04", "zip"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "excel"),  # .xls (OLE2 compound file)
    (b"$FL2", "spss"),
    (b"$FL3", "spss"),
    (b"PAR1", "parquet"),
    (b"<stata_dta>", "stata"),
)
EXTENSION = {"excel": ".xlsx", "spss": ".sav", "parquet": ".parquet", "stata": ".dta"}


def file_format(head: bytes) -> str:
    """What a file holds, from its first bytes: a binary format's name, or ``text``.

    Parameters
    ----------
    head : bytes
        The file's first bytes (a few kB), or its whole contents.

    Returns
    -------
    str
        ``excel`` (.xlsx or .xls), ``spss``, ``parquet``, ``stata``, ``zip`` (an
        archive that is no workbook), ``binary`` (other bytes that are not text) or
        ``text``.

    Examples
    --------
    >>> file_format(b"PK\\x03\\x04" + bytes(30) + b"[Content_Types].xml xl/workbook.xml")
    'excel'
    >>> file_format("patient;score\\n".encode("utf-16"))
    'text'
    """
    for magic, name in MAGIC:
        if head.startswith(magic):
            if name == "zip":
                # An .xlsx is a zip archive whose members sit under xl/.
                return "excel" if b"xl/" in head or b"[Content_Types]" in head else "zip"
            return name
    if head[:1] in {b"\x71", b"\x72", b"\x73"} and head[1:2] in {b"\x01", b"\x02"}:
        return "stata"  # Stata 8 to 12 (.dta): release byte, then byte order
    sample = head[:4096]
    if (
        b"\x00" in sample
        and not _utf16_order(sample)
        and not sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    ):
        return "binary"
    return "text"


def _check_format(path: Path, kind: str, table: str) -> None:
    """Stop when the file's contents are not what its extension says."""
    with path.open("rb") as handle:
        head = handle.read(65536)
    actual = file_format(head)
    if actual == "zip" or (actual == "excel" and head.startswith(b"PK")):
        # The zip directory (member names) is at the end of a large workbook.
        actual = "excel" if _is_workbook(path) else "zip"
    if kind in {"csv", "tsv"}:
        if actual == "text":
            return
    elif actual == kind or (actual == "binary" and kind != "excel"):
        return
    what = {
        "excel": "an Excel workbook",
        "spss": "an SPSS data file",
        "parquet": "a Parquet file",
        "stata": "a Stata data file",
        "zip": "a zip archive",
        "binary": "a binary file (not text)",
        "text": "a text file (such as CSV)",
    }[actual]
    if actual in EXTENSION:
        fix = (
            f"Rename it to {path.with_suffix(EXTENSION[actual]).name} and set "
            f"data.files.{table} to that name, or save it from its program as CSV."
        )
    elif actual == "text":
        fix = (
            f"Rename it to {path.with_suffix('.csv').name} and set data.files.{table} to "
            "that name, or save it from Excel as a workbook (.xlsx)."
        )
    else:
        fix = f"Export the table as CSV or Excel and point data.files.{table} at that file."
    raise InputError(
        f"{table} table: {path} is named {path.suffix} but is {what}, by its contents. " + fix
    )


def _is_workbook(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            return any(n.startswith("xl/") for n in archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def _utf16_order(raw: bytes) -> str | None:
    """``utf-16-le`` or ``utf-16-be`` for UTF-16 text without a BOM, else None.

    Text in a Latin script written as UTF-16 has a zero byte in every other position
    (the high byte of each character); no 8-bit text file has that pattern.
    """
    sample = raw[:4096]
    half = len(sample) // 2
    if half < 4:
        return None
    odd, even = sample[1::2].count(0), sample[0::2].count(0)
    if odd >= 0.7 * half and even <= 0.1 * half:
        return "utf-16-le"
    if even >= 0.7 * half and odd <= 0.1 * half:
        return "utf-16-be"
    return None


def _apply_excel_notes(
    df: pd.DataFrame,
    path: Path,
    sheet: str,
    header_row: int,
    table: str,
    opts: ReadOptions,
    how: dict[str, Any],
) -> pd.DataFrame:
    hidden, uncached = excel_notes(path, sheet, header_row, len(df), table)
    if uncached:
        raise InputError(uncached)
    if not hidden:
        return df
    rows = ", ".join(str(r) for r in list(hidden.values())[:10])
    more = f" and {len(hidden) - 10} more" if len(hidden) > 10 else ""
    if opts.hidden_rows == "skip":
        how["hidden_rows_skipped"] = len(hidden)
        return df.drop(index=df.index[list(hidden)])
    df.attrs["warnings"] = [
        f"{table} table: sheet {sheet!r} of {path} has {len(hidden)} hidden row(s) (sheet "
        f"row(s) {rows}{more}); they are read like the others. If they hold records not "
        f"to analyse (a test patient), set data.read.{table}.hidden_rows: skip, or "
        "delete them."
    ]
    return df


def excel_notes(
    path: Path, sheet: str, header_row: int, n_rows: int, table: str
) -> tuple[dict[int, int], str | None]:
    """Hidden rows and formulas without a stored result in an .xlsx sheet's data rows.

    pandas reads a workbook's cells as Excel last saved them: a hidden row is read like
    any other, and a formula cell of a workbook that no spreadsheet program has
    calculated (written by a script) has no stored result and reads as empty.

    Parameters
    ----------
    path : Path
        The .xlsx file.
    sheet : str
        The sheet read.
    header_row : int
        The sheet row of the column names (1-based).
    n_rows : int
        How many data rows were read.
    table : str
        The table's name, for the message.

    Returns
    -------
    hidden : dict of int to int
        For each data row hidden in the sheet: its 0-based position among the rows
        pandas reads -> its sheet row number.
    uncached : str or None
        A message about formula cells without a stored result, or None.
    """
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=False, data_only=False)
        values = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception:  # pandas has read it; the notes are extra
        return {}, None
    ws, cached = book[sheet], values[sheet]
    # pandas skips blank sheet rows: the data rows are the sheet's non-blank rows below
    # the header, in order.
    data_rows = [
        row[0].row
        for row in ws.iter_rows(min_row=header_row + 1)
        if row and any(c.value is not None for c in row)
    ][:n_rows]
    position = {r: i for i, r in enumerate(data_rows)}
    hidden_rows = {r for r, dim in ws.row_dimensions.items() if dim.hidden}
    hidden = {position[r]: r for r in data_rows if r in hidden_rows}
    formulas = [
        (cell.coordinate, cell.value)
        for row in ws.iter_rows(min_row=header_row + 1)
        for cell in row
        if cell.data_type == "f"
    ]
    uncached = None
    if formulas:
        result = {c.coordinate: c.value for row in cached.iter_rows(min_row=header_row + 1)
                  for c in row if hasattr(c, "coordinate")}  # fmt: skip
        empty = [(c, f) for c, f in formulas if result.get(c) is None]
        if empty:
            examples = ", ".join(f"{c} ({str(f)[:30]})" for c, f in empty[:3])
            uncached = (
                f"{table} table: sheet {sheet!r} of {path} has {len(empty)} formula cell(s) "
                f"without a stored result, such as {examples}: the file was written by a "
                "program that does not calculate formulas, so they would read as empty. "
                "Open the file in Excel or LibreOffice and save it (that stores the "
                "results), or replace the formulas by their values."
            )
    values.close()
    return hidden, uncached


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


def id_texts(ids: pd.Series) -> pd.Series:
    """:func:`id_text` of a whole column, vectorised (a million ids in a second).

    Examples
    --------
    >>> id_texts(pd.Series([" Q7 ", "12.0", 12.0, "007"])).tolist()
    ['Q7', '12', '12', '007']
    """
    if pd.api.types.is_float_dtype(ids):
        return ids.map(id_text, na_action="ignore").astype("string")
    if not (pd.api.types.is_string_dtype(ids) or pd.api.types.is_object_dtype(ids)):
        return ids.astype("string").str.strip()
    if isinstance(ids.dtype, pd.StringDtype):
        return ids.str.strip().str.replace(r"^([+-]?\d+)\.0+$", r"\1", regex=True)
    # Numbers among text (Excel, SPSS) are written as id_text writes them.
    numbers = ids.map(lambda v: isinstance(v, float), na_action="ignore").fillna(False)
    text = ids.astype("string").str.strip()
    text = text.str.replace(r"^([+-]?\d+)\.0+$", r"\1", regex=True)
    if numbers.any():
        text[numbers.astype(bool)] = ids[numbers.astype(bool)].map(id_text)
    return text


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
        how: dict[str, Any] = {"sheet": name, "header_row": skip + 1}
        if path.suffix.lower() == ".xlsx":
            df = _apply_excel_notes(df, path, name, skip + 1, table, opts, how)
        return df, header, how
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
    order = _utf16_order(raw)
    if order:
        # Without a BOM, UTF-16 would decode as cp1252 with a NUL between the letters.
        return decode_text(raw, path, table, order)
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
    raw = path.read_bytes()
    text, encoding = decode_text(raw, path, table, opts.encoding)
    skip = (opts.header_row or 1) - 1
    # Only the first lines are needed to sniff the format: splitting a million-row
    # file into a list of lines would cost more memory than the table itself.
    lines, rest = head_lines(text, skip + 2 * SNIFF_LINES + 1)
    lines = lines[skip:]
    if not any(line.strip() for line in lines) and not rest.strip():
        raise InputError(
            f"{table} table: {path} has no header and no rows"
            + (f" from row {skip + 1} (data.read.{table}.header_row)" if skip else "")
            + f". Export the table again, or point data.files.{table} at the right file."
        )
    del text, rest
    delimiter, decimal = sniff_format([ln for ln in lines if ln.strip()], kind)
    delimiter = opts.delimiter or delimiter
    decimal = opts.decimal or decimal
    how = {"encoding": encoding, "delimiter": delimiter, "decimal": decimal,
           "header_row": skip + 1}  # fmt: skip
    header = next(csv.reader(lines[:1], delimiter=delimiter), [])
    try:
        # From the bytes: pandas decodes them as it parses (decode_text has checked
        # that they decode), instead of a second, wide copy of the text in memory.
        df = pd.read_csv(io.BytesIO(raw), encoding=encoding, sep=delimiter, decimal=decimal,
                         dtype=dtype, skiprows=skip, skip_blank_lines=True)  # fmt: skip
    except pd.errors.ParserError as exc:
        raise InputError(
            f"{table} table: {path} could not be split into columns: {exc} (row numbers "
            f"count from the header). It was read with the {NAMES[delimiter]} "
            f"({delimiter!r}) as delimiter and the {NAMES.get(decimal, decimal)} as decimal "
            f"mark. If the file uses another separator, set data.read.{table}.delimiter; "
            "if a text cell contains the separator, enclose it in double quotes."
        ) from None
    return df, header, how


def head_lines(text: str, n: int) -> tuple[list[str], str]:
    """The first ``n`` lines of a text and the text after them.

    Examples
    --------
    >>> head_lines("a\\r\\nb\\nc\\n", 2)
    (['a', 'b'], 'c\\n')
    """
    end = 0
    for _ in range(n):
        found = text.find("\n", end)
        if found < 0:
            return text.splitlines(), ""
        end = found + 1
    return text[:end].splitlines(), text[end:]


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
