"""The package's files and archive: result and workflow files copied in, SHA256SUMS and
the reproducible zip.

The archive is byte-reproducible: members sorted, fixed time stamps and permissions,
fixed compression; zip-based documents among the results get the same treatment.
"""

from __future__ import annotations

import io
import logging
import os
import re
import shutil
import zipfile
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from process_outcome.data import reading
from process_outcome.files import sha256_file
from process_outcome.provenance import WORKFLOW_PATHS

log = logging.getLogger("process_outcome")

__all__ = [
    "CONTAINER_SUFFIXES",
    "CORE_DATES",
    "PRIVATE_RESULTS",
    "SKIPPED_PARTS",
    "SKIPPED_SUFFIXES",
    "ZIP_ROOT",
    "ZIP_TIME",
    "copy_file",
    "copy_result",
    "mtime_iso",
    "normalized_container",
    "now_iso",
    "result_path_in_package",
    "sha256sums",
    "workflow_files",
    "write_zip",
]

ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip archive can hold


ZIP_ROOT = "supplement"


# Never copied with the workflow: build litter, and data tables, which have no place in
# a workflow's source and might be a user's real data kept next to the config.
SKIPPED_PARTS = {"__pycache__", ".snakemake", ".ipynb_checkpoints", ".pytest_cache"}


SKIPPED_SUFFIXES = {".pyc", ".pyo", *reading.READERS}


# Result folders that hold ids or records; nothing below them is ever packaged.
PRIVATE_RESULTS = ("results/data", "results/private", "results/logs")


def result_path_in_package(path: str | Path) -> str:
    """Where a result file goes in the package: its path below ``results/``.

    Parameters
    ----------
    path : str or Path
        A workflow output, relative to the working directory (``results/tables/x.csv``).

    Returns
    -------
    str
        The package path (``tables/x.csv``).

    Raises
    ------
    ValueError
        For a file outside ``results/`` or inside a folder that holds ids or records
        (``results/data``, ``results/private``, ``results/logs``).
    """
    posix = PurePosixPath(Path(path).as_posix())
    for private in PRIVATE_RESULTS:
        if posix.is_relative_to(private):
            raise ValueError(f"{path} holds ids or records and is never packaged")
    if not posix.is_relative_to("results") or posix == PurePosixPath("results"):
        raise ValueError(f"{path} is not a result file below results/")
    return str(posix.relative_to("results"))


def workflow_files(basedir: str | Path, exclude: Iterable[str | Path] = ()) -> list[str]:
    """The workflow's files below ``basedir``, relative and sorted.

    Build litter (``__pycache__``, ``*.egg-info``, hidden files) and data tables (any
    extension the workflow reads) are left out, and so is every path in ``exclude``.
    """
    basedir = Path(basedir).resolve()
    excluded = {Path(p).resolve() for p in exclude}
    found = []
    for top in WORKFLOW_PATHS:
        root = basedir / top
        candidates = [root] if root.is_file() else sorted(root.rglob("*")) if root.is_dir() else []
        for path in candidates:
            if not path.is_file() or path.resolve() in excluded:
                continue
            rel = path.relative_to(basedir)
            if any(
                part in SKIPPED_PARTS or part.startswith(".") or part.endswith(".egg-info")
                for part in rel.parts
            ):
                continue
            if path.suffix.lower() in SKIPPED_SUFFIXES:
                log.info("not packaged (data table in the workflow's folders): %s", rel)
                continue
            found.append(rel.as_posix())
    return sorted(found)


def sha256sums(package_dir: str | Path, paths: Iterable[str]) -> str:
    """``SHA256SUMS`` text in ``sha256sum -c`` format, sorted by path."""
    package_dir = Path(package_dir)
    return "".join(f"{sha256_file(package_dir / p)}  {p}\n" for p in sorted(paths))


def write_zip(package_dir: str | Path, zip_path: str | Path, root: str = ZIP_ROOT) -> None:
    """Zip a folder reproducibly: sorted members below ``root/``, fixed time and modes.

    Directory entries are omitted; every file is stored with time 1980-01-01 00:00,
    permissions 0644, Unix as the creating system and deflate level 9, so the same
    files always give the same archive bytes.
    """
    package_dir = Path(package_dir)
    zip_path = Path(zip_path)
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = zip_path.with_name(f".{zip_path.name}.tmp")
    files = sorted(
        p.relative_to(package_dir).as_posix() for p in package_dir.rglob("*") if p.is_file()
    )
    with zipfile.ZipFile(tmp, "w") as zf:
        for rel in files:
            info = zipfile.ZipInfo(f"{root}/{rel}", date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = (0o100644 & 0xFFFF) << 16
            zf.writestr(info, (package_dir / rel).read_bytes(), compresslevel=9)
    os.replace(tmp, zip_path)


CONTAINER_SUFFIXES = {".docx", ".xlsx", ".pptx", ".odt", ".ods"}


CORE_DATES = re.compile(
    rb"(<(dcterms:created|dcterms:modified|cp:lastPrinted)\b[^>]*>)[^<]*(</\2>)"
)


def normalized_container(data: bytes, date: str) -> bytes:
    """A zip-based document (DOCX, XLSX, ...) with its time stamps fixed.

    Office writers stamp the time of writing into every zip member and into
    ``docProps/core.xml``; here the members keep their order and content, get the
    zip's fixed time, and the document's created/modified/printed dates become
    ``date`` (midnight UTC), so the same report gives the same bytes.
    """
    stamp = f"{date}T00:00:00Z".encode()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dest:
        for info in src.infolist():
            content = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = CORE_DATES.sub(lambda m: m.group(1) + stamp + m.group(3), content)
            fixed = zipfile.ZipInfo(info.filename, date_time=ZIP_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.create_system = 3
            fixed.external_attr = (0o100644 & 0xFFFF) << 16
            dest.writestr(fixed, content, compresslevel=9)
    return out.getvalue()


def copy_result(src: str | Path, dest: str | Path, date: str) -> None:
    """Copy a result file into the package; zip-based documents are normalised."""
    dest = Path(dest)
    if dest.suffix.lower() in CONTAINER_SUFFIXES and zipfile.is_zipfile(src):
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(normalized_container(Path(src).read_bytes(), date))
    else:
        copy_file(src, dest)


def copy_file(src: str | Path, dest: str | Path) -> None:
    """Copy bytes only (no times or modes: they must not vary between runs)."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)


def now_iso() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def mtime_iso(paths: Iterable[str | Path]) -> str | None:
    """The earliest modification time of ``paths`` as ISO 8601 UTC."""
    times = [Path(p).stat().st_mtime for p in paths if Path(p).exists()]
    if not times:
        return None
    return datetime.fromtimestamp(min(times), UTC).replace(microsecond=0).isoformat()
