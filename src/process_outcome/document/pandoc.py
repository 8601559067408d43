"""The one renderer: the manuscript's Pandoc Markdown to HTML, Word, PDF and LaTeX tables.

Pandoc comes with the ``pypandoc-binary`` wheel, so installing the package installs it.
Every format gets the same Lua filter (``labels.lua``: tables and figures numbered by
label) and the same citation processing (``--citeproc`` with the style's ``.bib`` files
and CSL). Word is laid out by a reference document (:mod:`~process_outcome.document.
reference_docx` builds the APA 7 default), HTML by a print style sheet, PDF by Typst
(the ``typst`` wheel), when it is installed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from process_outcome.document.reference_docx import apa_reference_docx
from process_outcome.errors import InputError


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write through a hidden partial file, so a failed run leaves no half file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(data)
    os.replace(partial, path)


__all__ = ["Style", "from_ast", "pandoc_path", "render_documents", "to_ast", "to_format"]


@dataclass(frozen=True)
class Style:
    """The journal style: everything pandoc reads besides the Markdown.

    Attributes
    ----------
    lua_filter : Path
        ``labels.lua``.
    css : Path
        The HTML's style sheet (embedded).
    csl : Path
        Citation style (APA 7 by default).
    bibliography : tuple of Path
        ``.bib`` files: the package's references and the lab's own.
    reference_docx : Path or None
        A Word reference document; ``None`` builds the APA 7 one.
    running_head : str
        Printed top left of every Word page beside the page number.
    """

    lua_filter: Path
    css: Path
    csl: Path
    bibliography: tuple[Path, ...] = ()
    reference_docx: Path | None = None
    running_head: str = ""
    extra: tuple[str, ...] = field(default_factory=tuple)


def pandoc_path() -> str:
    """The pandoc executable (the wheel's, else one on the PATH)."""
    try:
        import pypandoc

        return pypandoc.get_pandoc_path()
    except (ImportError, OSError):
        found = shutil.which("pandoc")
        if not found:
            raise InputError(
                "pandoc was not found: install the package's dependencies "
                "(pip install pypandoc-binary)"
            ) from None
        return found


def _common(style: Style) -> list[str]:
    args = ["--from=markdown-implicit_figures", f"--lua-filter={style.lua_filter}"]
    args += ["--citeproc", f"--csl={style.csl}"]
    args += [f"--bibliography={b}" for b in style.bibliography]
    # The manuscript links nowhere: citations and DOIs stay text.
    args += ["--metadata=link-citations:false", "--metadata=link-bibliography:false"]
    return [*args, *style.extra]


def _pandoc(args: Sequence[str], text: str, cwd: Path, epoch: int | None) -> bytes:
    env = dict(os.environ)
    if epoch is not None:
        # Dates inside the .docx come from SOURCE_DATE_EPOCH: same inputs, same bytes.
        env["SOURCE_DATE_EPOCH"] = str(epoch)
    proc = subprocess.run(
        [pandoc_path(), *args],
        input=text.encode("utf-8"),
        capture_output=True,
        cwd=cwd,
        env=env,
        timeout=300,
        check=False,
    )
    if proc.returncode != 0:
        raise InputError(f"pandoc failed ({' '.join(args[:2])}): {proc.stderr.decode()[-2000:]}")
    problems = [
        line
        for line in proc.stderr.decode().splitlines()
        if "unknown table or figure label" in line or "citation" in line.lower()
    ]
    if problems:
        raise InputError(
            "the manuscript cites what it does not have: "
            + "; ".join(sorted(set(problems)))
            + " (add the entry to a .bib file named in manuscript: bibliography, or fix the "
            "label in the template)"
        )
    return proc.stdout


_STAT = re.compile(r'\{\.stat ((?:data-[a-z]+="(?:[^"\\]|\\.)*"\s*)+)\}')
_ATTR = re.compile(r'(data-[a-z]+)="((?:[^"\\]|\\.)*)"')


def _compact_stats(markdown: str) -> tuple[str, list[dict[str, str]]]:
    # Pandoc reads long span attributes slowly (six times the whole parse): each number's
    # source goes to the Lua filter as a table and the span keeps only its index.
    sources: list[dict[str, str]] = []

    def short(m: re.Match) -> str:
        sources.append({k: re.sub(r"\\(.)", r"\1", v) for k, v in _ATTR.findall(m.group(1))})
        return f"{{.stat ref={len(sources) - 1}}}"

    return _STAT.sub(short, markdown), sources


def to_ast(markdown: str, cwd: Path, style: Style) -> bytes:
    """Parse the Markdown once, number the labels and process the citations: pandoc's
    JSON document, which every format is written from (parsing is the slow part)."""
    text, sources = _compact_stats(markdown)
    with tempfile.TemporaryDirectory() as tmp:
        table = Path(tmp) / "sources.json"
        table.write_text(json.dumps(sources), encoding="utf-8")
        args = [*_common(style), f"--metadata=stat-sources:{table}", "--to=json", "--output=-"]
        return _pandoc(args, text, cwd, None)


def from_ast(ast: bytes, fmt: str, cwd: Path, style: Style, epoch: int | None = None) -> bytes:
    """Write pandoc's JSON document in one format (``html``, ``docx``, ``typst``)."""
    args = ["--from=json", f"--resource-path={cwd}"]
    if fmt == "html":
        args += ["--to=html5", "--standalone", "--embed-resources", f"--css={style.css}"]
        args += ["--metadata=lang:en", "--wrap=none"]
    elif fmt == "docx":
        args += ["--to=docx", f"--reference-doc={style.reference_docx}"]
    elif fmt == "typst":
        # Citeproc again: otherwise pandoc writes Typst's own citations for Typst to resolve.
        args += ["--to=typst", "--standalone", "--citeproc", f"--csl={style.csl}"]
        # APA 7 page: US Letter, 1-in margins, 12 pt, double-spaced, numbered pages.
        args += ["-V", "papersize=us-letter", "-V", "fontsize=12pt", "-V", "linestretch=2"]
        args += ["-V", "margin.x=1in", "-V", "margin.y=1in", "-V", "page-numbering=1"]
        args += [f"--bibliography={b}" for b in style.bibliography]
    else:
        raise ValueError(f"unknown format {fmt!r}")
    return _pandoc([*args, "--output=-"], ast.decode("utf-8"), cwd, epoch)


def to_format(markdown: str, fmt: str, cwd: Path, style: Style, epoch: int | None = None) -> bytes:
    """Convert Markdown with pandoc to one format (``html``, ``docx``, ``typst``,
    ``latex``); output bytes."""
    if fmt == "latex":
        return _pandoc(["--from=markdown", "--to=latex", "--output=-"], markdown, cwd, epoch)
    return from_ast(to_ast(markdown, cwd, style), fmt, cwd, style, epoch)


def _typst_pdf(source: bytes, cwd: Path, epoch: int | None) -> bytes | None:
    # Compiled beside the Markdown, so the figures' relative paths resolve; the PDF's
    # date is the report's (same inputs, same bytes).
    try:
        import typst
    except ImportError:
        return None
    src = cwd / ".manuscript.typ.partial"
    src.write_bytes(source)
    try:
        return typst.compile(str(src), root=cwd.resolve().anchor, timestamp=epoch or 0)
    except Exception as e:  # Typst reports its own error type
        raise InputError(f"Typst could not make the PDF: {e}") from None
    finally:
        src.unlink(missing_ok=True)


def render_documents(
    markdown: str, md_dir: Path, out: Mapping[str, Path], style: Style, epoch: int | None = None
) -> None:
    """Write each requested format of the manuscript.

    Parameters
    ----------
    markdown : str
        The whole manuscript (:func:`~process_outcome.document.markdown.render_markdown`).
    md_dir : Path
        The folder the Markdown lives in (image paths are relative to it).
    out : mapping
        Path per format: ``html``, ``docx``, ``pdf`` (any subset).
    style : Style
    epoch : int, optional
        The report's date as seconds since 1970 (reproducible Word dates).
    """
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(3) as pool:
        # The reference document is built while pandoc parses; the formats are then
        # written side by side (each is its own pandoc or Typst process).
        ref = style.reference_docx
        if "docx" in out and ref is None:
            ref = Path(tmp) / "reference.docx"
            built = pool.submit(_build_reference, ref, style.running_head)
        ast = _without_style_paths(to_ast(markdown, md_dir, style))
        jobs = {}
        if "html" in out:
            jobs["html"] = pool.submit(from_ast, ast, "html", md_dir, style, epoch)
        if "docx" in out:
            if style.reference_docx is None:
                built.result()
            word = Style(**{**style.__dict__, "reference_docx": ref})
            jobs["docx"] = pool.submit(from_ast, ast, "docx", md_dir, word, epoch)
        if "pdf" in out:
            jobs["pdf"] = pool.submit(
                lambda: _typst_pdf(from_ast(ast, "typst", md_dir, style, epoch), md_dir, epoch)
            )
        for fmt, job in jobs.items():
            data = job.result()
            if data is not None:
                atomic_write_bytes(out[fmt], data)


def _without_style_paths(ast: bytes) -> bytes:
    # Word keeps metadata as document properties: the style files' paths (machine paths)
    # and the citation settings must not travel into the shared files.
    doc = json.loads(ast)
    for key in ("bibliography", "csl", "link-citations", "link-bibliography", "stat-sources"):
        doc["meta"].pop(key, None)
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _build_reference(path: Path, running_head: str) -> None:
    base = subprocess.run(
        [pandoc_path(), "--print-default-data-file", "reference.docx"],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    apa_reference_docx(path, running_head, base)
