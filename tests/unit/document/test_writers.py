"""The document layer on small hand-made documents: interval bounds that never print a
nonzero value as zero (issue 12, item 4) and the print layout of each writer (item 6):
Word tables with repeated header rows and page numbers, LaTeX longtable for long tables,
HTML print rules."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import process_outcome.document as rp
from tests.conftest import ROOT

MINUS = "\u2212"


def _zero(text: str) -> bool:
    """Whether a printed number is zero (``0.00``, ``−.000``)."""
    return float(text.replace(MINUS, "-").replace("-.", "-0.").lstrip(".") or 0) == 0


def test_the_reported_case_gets_a_third_decimal():
    # "p = .046, 95% CI [−0.42, 0.00]": the upper bound was −0.0035.
    text = rp.ci_text(-0.4201, -0.0035, 2, None).plain
    assert text == f"95% CI [{MINUS}0.420, {MINUS}0.004]"
    # An interval away from zero keeps the estimate's decimals, an exact zero prints 0.
    assert rp.ci_text(-0.4201, -0.0835, 2, None).plain == f"95% CI [{MINUS}0.42, {MINUS}0.08]"
    assert rp.apa_interval(0.0, 0.5, 2) == ("0.00", "0.50")
    # Correlations (no leading zero) too.
    assert rp.apa_interval(-0.31, 0.002, 2, leading_zero=False) == (f"{MINUS}.310", ".002")


bounds = st.floats(min_value=-5, max_value=5, allow_nan=False).filter(lambda x: abs(x) > 1e-9)


@given(low=bounds, high=bounds, digits=st.integers(min_value=1, max_value=4))
def test_no_nonzero_bound_prints_as_zero(low, high, digits):
    for lz in (True, False):
        lo, hi = rp.apa_interval(low, high, digits, leading_zero=lz)
        assert not _zero(lo) and not _zero(hi), (low, high, lo, hi)
        # Both bounds share their decimals, at least the requested ones.
        decimals = {len(x.split(".")[1]) for x in (lo, hi)}
        assert len(decimals) == 1 and decimals.pop() >= digits


def _table(key: str, number: str, rows: int) -> rp.Table:
    return rp.Table(
        key,
        number,
        f"Table With {rows} Rows",
        (rp.rich("Parameter"), rp.it("M"), rp.rich("95% CI")),
        tuple(
            rp.Row((rp.rich(f"Row {i}"), rp.rich(f"{i}.00"), rp.rich("[0.10, 0.20]")))
            for i in range(1, rows + 1)
        ),
        rp.rich("A note, with ", rp.it("p"), " values."),
    )


def _manuscript() -> rp.Manuscript:
    short, long = _table("short", "1", 5), _table("long", "2", 80)
    body = rp.Paragraph(rp.rich("Text."))
    return rp.Manuscript(
        "Title",
        ("A. Author",),
        "",
        datetime(2024, 1, 1, tzinfo=UTC),
        (rp.Section("results", "Results", (body, short, long)),),
    )


def test_long_table_flag():
    assert not _table("t", "1", rp.LONG_TABLE_ROWS).long
    assert _table("t", "1", rp.LONG_TABLE_ROWS + 1).long


def test_word_tables_repeat_their_header_and_pages_are_numbered():
    docx = zipfile.ZipFile(io.BytesIO(rp.render_docx(_manuscript())))
    body = docx.read("word/document.xml").decode("utf-8")
    tables = re.findall(r"<w:tbl>.*?</w:tbl>", body, re.DOTALL)
    assert len(tables) == 2
    for t in tables:
        rows = re.findall(r"<w:tr[ >].*?</w:tr>", t, re.DOTALL)
        # The first row is the header, repeated on each page; no other row is.
        assert "<w:tblHeader/>" in rows[0]
        assert not any("<w:tblHeader/>" in r for r in rows[1:])
        assert all("<w:cantSplit/>" in r for r in rows)
    # The caption paragraphs keep with the table that follows.
    caption = body[: body.index("<w:tbl>")].rsplit("<w:p>", 2)[-2:]
    assert all("<w:keepNext/>" in p for p in caption)
    # A page number field in the header, right-aligned (APA 7: top right).
    headers = [n for n in docx.namelist() if re.fullmatch(r"word/header\d*\.xml", n)]
    xml = "".join(docx.read(n).decode("utf-8") for n in headers)
    assert re.search(r"<w:instrText[^>]*> PAGE </w:instrText>", xml)
    assert '<w:jc w:val="right"/>' in xml
    assert "headerReference" in body


def test_latex_long_tables_break_across_pages():
    short, long = _table("short", "1", 5), _table("long", "2", 80)
    tex = rp.render_latex_table(long)
    assert "\\begin{longtable}" in tex and "\\begin{table}" not in tex
    # Header on the first page, header with "(continued)" on the following ones.
    assert tex.index("\\endfirsthead") < tex.index("(continued)") < tex.index("\\endhead")
    assert tex.count("Parameter & \\textit{M} & 95\\% CI") == 2
    assert "\\textit{Note.}" in tex
    assert "\\begin{table}[htbp]" in rp.render_latex_table(short)


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
def test_latex_tables_compile(tmp_path: Path):
    for t in (_table("short", "1", 5), _table("long", "2", 80)):
        (tmp_path / f"{t.key}.tex").write_text(rp.render_latex_table(t), encoding="utf-8")
    (tmp_path / "doc.tex").write_text(
        "\\documentclass{article}\\usepackage[T1]{fontenc}\\usepackage{booktabs,longtable}"
        "\\begin{document}\\input{short}\\input{long}\\end{document}\n",
        encoding="utf-8",
    )
    proc = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert (tmp_path / "doc.pdf").exists()


def test_html_print_rules():
    html = rp.render_html(_manuscript(), ROOT / "workflow" / "templates")
    css = html[html.index("<style>") : html.index("</style>")]
    # Repeated header rows, caption kept with the header, page numbers in print.
    assert re.search(r"thead \{ display: table-header-group;", css)
    assert re.search(r"caption \{ break-after: avoid; \}", css)
    assert "counter(page)" in css and "@top-right" in css
    # A short table is kept whole; a long one may break.
    assert '<div class="table-wrap short">' in html
    assert html.count('<div class="table-wrap">') == 1
