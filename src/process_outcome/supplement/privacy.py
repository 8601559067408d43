"""The privacy scan of the texts that are shared. Two guarantees (the third, ids that
cannot collide, is :mod:`process_outcome.data.pseudonyms`):

- **The privacy scan** looks for every id as a whole word in the files derived from the
  data. An id that is also a word of the workflow's own text (``max`` in its code, ``may``
  or ``will`` in its prose) cannot be told from that word in lower case, so it is looked
  for with its exact spelling (``May``); an id spelled exactly like a word of the
  workflow's text (``Max``, a column of Table 1), or a short id (``007``), only as a
  whole table cell, and the supplement's README counts them.
- **Messages never show an id**: they name its kind, table and row, so a shared log
  discloses nothing.
"""

from __future__ import annotations

import ast
import csv
import io
import re
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from process_outcome.data.pseudonyms import WORD, StudyId, id_tokens, study_ids
from process_outcome.errors import InputError

__all__ = [
    "IdScan",
    "config_id_hits",
    "default_vocabulary_paths",
    "file_text",
    "find_ids",
    "find_ids_in_file",
    "find_ids_in_text",
    "label_id_hits",
    "leak_message",
    "plan_scan",
    "privacy_precheck",
    "readable_text",
    "scan_text",
    "scannable_ids",
    "scanned_files",
    "workflow_vocabulary",
]

# A word spelled exactly (case-sensitive), for ids that are also words of the workflow.
EXACT_WORD = re.compile(r"[A-Za-z0-9]+")
# A number as tables print it: no leading zero, no trailing zero after the point.
PLAIN_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]*[1-9])?")
# Text files of the workflow whose words make up its vocabulary.
TEXT_SUFFIXES = {".py", ".smk", ".j2", ".yaml", ".yml", ".html", ".css"}
ID_KINDS = ("patient", "therapist")
PRINTABLE_BYTES = bytes([9, 10, 13, *range(32, 127)])


def scannable_ids(ids: Iterable[str]) -> tuple[list[str], int]:
    """The ids a text scan can look for, and how many it must skip.

    Short ids without a letter ("7", "0012") cannot be told apart from the numbers in
    tables, so only ids with a letter and at least 3 characters, or with at least 6
    characters and a letter or digit, are scanned for.

    Examples
    --------
    >>> scannable_ids(["7", "0012", "AB1", "123456"])
    (['AB1', '123456'], 2)
    """
    keep = []
    skipped = 0
    for value in ids:
        text = str(value).strip()
        letter = any(c.isalpha() for c in text)
        if (letter and len(text) >= 3) or (len(text) >= 6 and id_tokens(text)):
            keep.append(text)
        else:
            skipped += 1
    return keep, skipped


# --------------------------------------------------------------------------- vocabulary


def _literals(source: str) -> list[str]:
    # The string constants of a module (f-string parts included) but not its
    # docstrings: what the module can write into an output, not what it says about
    # itself.
    tree = ast.parse(source)
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docstrings.add(id(body[0].value))
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


def workflow_vocabulary(paths: Iterable[str | Path]) -> str:
    """The words the workflow writes whatever the data, as one text.

    The string constants of its Python modules (docstrings and comments left out, as
    they are never written into an output), its templates, schemas and rules, and the
    names of its files (listed in the supplement's README and RO-Crate). An id that is
    one of these words cannot be told from the workflow's word by a text scan.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = (Path(d) / "m.py").write_text("'''Doc Quux.'''\\nx = 'Mean'  # Quux\\n")
    ...     workflow_vocabulary([d]).split()
    ['m.py', 'Mean']
    """
    parts = []
    for top in paths:
        top = Path(top)
        files = [top] if top.is_file() else sorted(top.rglob("*")) if top.is_dir() else []
        for path in files:
            if not path.is_file() or "__pycache__" in path.parts:
                continue
            suffix = path.suffix.lower()
            if suffix not in TEXT_SUFFIXES and path.name != "Snakefile":
                continue
            parts.append(path.name)
            text = path.read_text(encoding="utf-8", errors="replace")
            parts.extend(_literals(text) if suffix == ".py" else [text])
    return "\n".join(parts)


def default_vocabulary_paths() -> list[Path]:
    """The analysis package and, beside it in a checkout, the workflow's rules and templates."""
    # This module lives in process_outcome/supplement/; the vocabulary is the whole package
    # (the manuscript's words included) and the checkout's rules and templates.
    package = Path(__file__).resolve().parents[1]
    root = package.parents[1]
    return [package, *(root / p for p in ("Snakefile", "workflow"))]


@dataclass(frozen=True)
class IdScan:
    """How the privacy scan looks for the study's ids.

    ``anycase`` are looked for as words in any case; ``exact`` (ids that are words of the
    workflow's text in another spelling, such as ``Max`` beside ``max``) with their
    exact spelling; ``words`` (spelled exactly like a word of the workflow's text) and
    ``short`` (short numbers) cannot be looked for.
    """

    anycase: list[str] = field(default_factory=list)
    exact: list[str] = field(default_factory=list)
    words: list[str] = field(default_factory=list)
    short: list[str] = field(default_factory=list)

    @property
    def cells(self) -> list[str]:
        """Ids looked for as whole table cells only: words, and short ids that are not
        numbers as a table prints them (``007``, ``A1``; not ``7``)."""
        return self.words + [v for v in self.short if not PLAIN_NUMBER.fullmatch(v)]

    @property
    def skipped(self) -> int:
        """How many ids cannot be looked for."""
        return len(self.words) + len(self.short)


def _occurs(text: str, words: set[str], value: str) -> bool:
    # ``value`` as a whole word of ``text`` (whose words are ``words``). Each word of a
    # value found so is a word of the text, which rules most values out without a
    # regex search.
    if EXACT_WORD.fullmatch(value):
        return value in words
    if not set(EXACT_WORD.findall(value)) <= words:
        return False
    pattern = rf"(?<![A-Za-z0-9]){re.escape(value)}(?![A-Za-z0-9])"
    return re.search(pattern, text) is not None


def plan_scan(ids: Iterable[str], vocabulary: str) -> IdScan:
    """Sort the ids by how the scan can look for them (see :class:`IdScan`).

    Examples
    --------
    >>> plan = plan_scan(["Max", "max", "T01", "007"], "x = max(a, b)")
    >>> plan.anycase, plan.exact, plan.words, plan.short
    (['T01'], ['Max'], ['max'], ['007'])
    """
    keep, _ = scannable_ids(ids)
    kept = set(keep)
    lower = vocabulary.lower()
    lower_words = set(WORD.findall(lower))
    exact_words = set(EXACT_WORD.findall(vocabulary))
    plan = IdScan()
    for value in ids:
        text = str(value).strip()
        if text not in kept:
            plan.short.append(text)
        elif not _occurs(lower, lower_words, text.lower()):
            plan.anycase.append(text)
        elif not _occurs(vocabulary, exact_words, text):
            plan.exact.append(text)
        else:
            plan.words.append(text)
    return plan


def find_ids_in_text(text: str, ids: Sequence[str], *, exact: bool = False) -> list[str]:
    """The ids that occur in ``text`` as whole words, sorted.

    A whole word is not preceded or followed by a letter or digit: an id ``X`` is found
    in ``X,`` and ``"X"`` but not in ``X2``. Case is ignored unless ``exact``.

    Examples
    --------
    >>> find_ids_in_text("max(Max, t01)", ["MAX", "T01", "T0"])
    ['MAX', 'T01']
    >>> find_ids_in_text("max(Max, t01)", ["max", "T01"], exact=True)
    ['max']
    """
    haystack = text if exact else text.lower()
    # Ids made of letters and digits only are looked up among the text's words (one
    # pass over the text); the rest are searched for one by one.
    words = set((EXACT_WORD if exact else WORD).findall(haystack))
    found = set()
    for value in ids:
        key = value if exact else value.lower()
        if _occurs(haystack, words, key):
            found.add(value)
    return sorted(found)


def scan_text(text: str, plan: IdScan) -> list[str]:
    """The ids of ``plan`` found in ``text`` (any case or exact spelling, as planned)."""
    anycase = find_ids_in_text(text, plan.anycase)
    return sorted({*anycase, *find_ids_in_text(text, plan.exact, exact=True)})


# --------------------------------------------------------------------------- the config


def _config_strings(obj: Any, path: str = "") -> Iterator[tuple[str, str]]:
    # (dotted key, text) for every key and string value of the config.
    if isinstance(obj, Mapping):
        for key, value in obj.items():
            here = f"{path}.{key}" if path else str(key)
            yield here, str(key)
            yield from _config_strings(value, here)
    elif isinstance(obj, (list, tuple)):
        for i, value in enumerate(obj):
            yield from _config_strings(value, f"{path}[{i}]")
    elif isinstance(obj, str):
        yield path, obj


def config_id_hits(config: Mapping[str, Any], plan: IdScan) -> dict[str, list[str]]:
    """Config key -> ids found in its name or value (the config is packaged as run).

    The salt is left out: it is never packaged.
    """
    hits: dict[str, list[str]] = {}
    for key, text in _config_strings(config):
        if key == "supplement.salt":
            continue
        found = scan_text(text, plan)
        if found:
            hits.setdefault(key, []).extend(found)
    return hits


def label_id_hits(
    config: Mapping[str, Any], tables: Mapping[str, pd.DataFrame], plan: IdScan
) -> dict[str, list[str]]:
    """``<table> column <name>`` -> ids found among the category labels the supplement
    keeps (``supplement.keep_labels`` and categorical covariates)."""
    kept = set(config.get("supplement", {}).get("keep_labels", []))
    covariates = config.get("measures", {}).get("covariates") or {}
    kept |= {c["column"] for c in covariates.values() if c.get("type") == "categorical"}
    ids = {config["data"]["columns"][k] for k in ID_KINDS}
    hits = {}
    for table, df in tables.items():
        for col in sorted(kept & set(df.columns) - ids):
            labels = "\n".join(df[col].dropna().astype(str).unique())
            found = scan_text(labels, plan) + sorted(set(plan.cells) & set(labels.split("\n")))
            if found:
                hits[f"{table} table, column {col}"] = sorted(set(found))
    return hits


def privacy_precheck(
    config: Mapping[str, Any],
    tables: Mapping[str, pd.DataFrame],
    vocabulary: str | None = None,
) -> list[str]:
    """Find before the analysis what would stop the supplement's privacy scan.

    Raises :class:`~process_outcome.errors.InputError` if the config (packaged with the
    supplement) holds a study id, and returns warnings on ids the scan can only look for
    by their exact spelling or not at all. Messages name each id's kind, table and row,
    never the id.

    Examples
    --------
    >>> cfg = {"data": {"columns": {"patient": "p", "therapist": "t"}}}
    >>> privacy_precheck(cfg, {"therapists": pd.DataFrame({"t": ["Zed9"]})}, "")
    []
    """
    ids = study_ids(tables, config["data"]["columns"])
    if vocabulary is None:
        vocabulary = workflow_vocabulary(default_vocabulary_paths())
    plan = plan_scan(list(ids), vocabulary)
    hits = config_id_hits(config, plan)
    hits |= label_id_hits(config, tables, plan)
    if hits:
        listed = "; ".join(
            f"{key}: {', '.join(ids[v].describe() for v in found[:3])}"
            for key, found in hits.items()
        )
        raise InputError(
            f"study ids would be packaged with the supplement ({listed}). Reword these "
            "config values (or the file and folder names they give) so that they do not "
            "contain a patient or therapist id; take a column whose labels contain ids "
            "out of supplement.keep_labels."
        )
    warnings = []
    for label, group in (
        ("also a word of the workflow's own text in another spelling (as 'Max' is beside "
         "'max'); the supplement's privacy scan looks for it only with its exact "
         "spelling", plan.exact),
        ("spelled exactly like a word of the workflow's own text (its code, report or "
         "README sentences); the supplement's privacy scan can look for it only as a "
         "whole table cell", plan.words),
    ):  # fmt: skip
        if group:
            where = ", ".join(ids[v].describe() for v in group[:5])
            more = f" and {len(group) - 5} more" if len(group) > 5 else ""
            warnings.append(
                f"{len(group)} {'id is' if len(group) == 1 else 'ids are'} {label} "
                f"({where}{more}). The analysis is not affected; ids that are not ordinary "
                "words (for example with a prefix, T-Max) can be looked for everywhere."
            )
    return warnings


# --------------------------------------------------------------------------- files


def _printable(data: bytes) -> bool:
    # Text, not a compressed or binary part (font program, image): random bytes would
    # spell short ids by chance.
    if not data:
        return False
    binary = len(data.translate(None, PRINTABLE_BYTES))
    return binary <= 0.05 * len(data)


def _png_text(data: bytes) -> list[str]:
    parts = []
    pos = 8
    while pos + 8 <= len(data):  # bounded: pos grows by at least 12 per chunk
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"tEXt":
            parts.append(body.decode("latin-1"))
        elif kind == b"zTXt":
            key, _, rest = body.partition(b"\x00")
            parts.append(key.decode("latin-1") + " " + zlib.decompress(rest[1:]).decode("latin-1"))
        elif kind == b"iTXt":
            key, _, rest = body.partition(b"\x00")
            flag, rest = rest[0], rest[2:]
            _, _, rest = rest.partition(b"\x00")
            _, _, text = rest.partition(b"\x00")
            parts.append(key.decode("latin-1"))
            parts.append((zlib.decompress(text) if flag else text).decode("utf-8", "replace"))
        pos += 12 + length
    return parts


PDF_STRING = re.compile(rb"\(((?:\\.|[^\\()])*)\)")
PDF_SHOW = re.compile(rb"\[((?:[^\]\\]|\\.)*)\]\s*TJ|(\((?:\\.|[^\\()])*\))\s*Tj")


def _pdf_shown_text(content: bytes) -> str:
    # The text a content stream shows: the strings of each TJ array (split by kerning,
    # "[ (Z) 0.3 (orro) ] TJ") or Tj operator joined, one line per operator.
    lines = []
    for m in PDF_SHOW.finditer(content):
        pieces = PDF_STRING.findall(m.group(1) or m.group(2))
        text = b"".join(pieces)
        lines.append(re.sub(rb"\\(.)", rb"\1", text).decode("latin-1"))
    return "\n".join(lines)


def _pdf_text(data: bytes) -> list[str]:
    streams = re.compile(rb"stream\r?\n(.*?)\r?\nendstream", re.DOTALL)
    parts = [streams.sub(b" ", data).decode("latin-1")]
    for m in streams.finditer(data):
        try:
            body = zlib.decompress(m.group(1))
        except zlib.error:
            body = m.group(1)
        if _printable(body):
            parts.append(body.decode("latin-1"))
            parts.append(_pdf_shown_text(body))
    return parts


# An embedded file (``data:`` URI) of a self-contained HTML report or its CSS.
DATA_URI = re.compile(
    r"data:(?P<type>[\w.+-]+/[\w.+-]+)?(?P<params>(?:;[\w.+-]+=[^;,\s\"')]*)*)"
    r";base64,(?P<data>[A-Za-z0-9+/=\s]+)"
)


def _embedded_text(match: re.Match[str]) -> str:
    # What a reader can read in an embedded file: the text chunks of a PNG, an SVG's or a
    # text file's text. Never the base64 letters: by chance they spell short ids
    # ("/T008/"), and more of them the larger the report. Other files (fonts, JPEG) have
    # no text a reader sees.
    import base64
    import binascii

    kind = (match.group("type") or "").lower()
    if kind != "image/png" and kind != "image/svg+xml" and not kind.startswith("text/"):
        return " "
    try:
        data = base64.b64decode("".join(match.group("data").split()), validate=False)
    except (binascii.Error, ValueError):
        return " "
    return "\n" + file_text("embedded", data) + "\n"


def readable_text(text: str) -> str:
    """``text`` with each embedded ``data:`` file replaced by the text a reader sees in it.

    Examples
    --------
    >>> readable_text('<img src="data:image/jpeg;base64,/9j/T008/4AAQ"> T008 <b>x</b>')
    '<img src=" "> T008 <b>x</b>'
    >>> readable_text("url(data:text/plain;base64,VDAwOQ==)").split()
    ['url(', 'T009', ')']
    """
    if "base64," not in text:
        return text
    return DATA_URI.sub(_embedded_text, text)


def file_text(path: str | Path, data: bytes | None = None) -> str:
    """All text a file carries, without its compressed or binary parts.

    Text files as a reader sees them (a self-contained HTML report's embedded images and
    fonts by their text chunks, never their base64 letters; see :func:`readable_text`);
    the members of zip-based files (DOCX), PDF objects,
    inflated text streams and the text they show (kerned strings joined), and PNG text
    chunks, so an id cannot hide in a compressed part of a report or figure (a PNG
    figure's pixels are not read: its PDF twin shows the same text). Binary parts
    (images, font programs, compressed bytes) are left out: by chance they spell short
    words.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = (Path(d) / "a.csv").write_text("code,x\\nT01,1\\n")
    ...     file_text(Path(d) / "a.csv").split()
    ['code,x', 'T01,1']
    """
    if data is None:
        data = Path(path).read_bytes()
    if data[:4] == b"PK\x03\x04":
        parts = []
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            for name in zf.namelist():
                parts.append(name)
                parts.append(file_text(name, zf.read(name)))
        return "\n".join(parts)
    if data[:5] == b"%PDF-":
        return "\n".join(_pdf_text(data))
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "\n".join(_png_text(data))
    text = data.decode("utf-8", errors="replace")
    if _printable(data) or "\ufffd" not in text:
        return readable_text(text)
    return ""


def _cells(text: str) -> set[str]:
    # Every cell of a CSV file, stripped.
    try:
        return {cell.strip() for row in csv.reader(io.StringIO(text)) for cell in row}
    except csv.Error:
        return set()


def find_ids_in_file(path: str | Path, plan: IdScan) -> list[str]:
    """The ids of ``plan`` in one file: as words (see :func:`scan_text`) and, for CSV
    files, as whole cells (so an id spelled like a word of the workflow's text is still
    found where a table lists it).
    """
    text = file_text(path)
    found = set(scan_text(text, plan))
    if Path(path).suffix.lower() == ".csv":
        found |= set(plan.cells) & _cells(text)
    return sorted(found)


# --------------------------------------------------------------------------- the package's files


def scanned_files(package_dir: str | Path, source: Iterable[str]) -> list[str]:
    """The package files the privacy scan reads: every file derived from the data.

    Left out: ``source``, the workflow's files copied unchanged from the workflow (code,
    templates, schemas: no data flows into them), except its config files, which hold
    the user's settings; and ``requirements.lock`` (the environment's package names).
    """
    package_dir = Path(package_dir)
    verbatim = {
        rel for rel in source if not (rel.startswith("config/") and rel.endswith((".yaml", ".yml")))
    }
    verbatim.add("requirements.lock")
    return [
        rel
        for rel in sorted(p.relative_to(package_dir).as_posix() for p in package_dir.rglob("*"))
        if (package_dir / rel).is_file() and rel not in verbatim
    ]


def find_ids(package_dir: str | Path, files: Iterable[str], plan: IdScan) -> dict[str, list[str]]:
    """Package path -> the study ids found in it (only files with a hit)."""
    package_dir = Path(package_dir)
    hits = {}
    for rel in files:
        found = find_ids_in_file(package_dir / rel, plan)
        if found:
            hits[rel] = found
    return hits


def leak_message(hits: Mapping[str, list[str]], where: Mapping[str, StudyId]) -> str:
    """A leak report that names each file and each id's kind and row, never the id."""
    lines = []
    for rel, found in hits.items():
        described = ", ".join(where[v].describe() for v in found[:3])
        more = f" and {len(found) - 3} more" if len(found) > 3 else ""
        lines.append(f"{rel}: {described}{more}")
    return "; ".join(lines)
