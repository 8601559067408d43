"""The document layer on small hand-made documents: interval bounds that never print a
nonzero value as zero, and the one renderer (pandoc): labels numbered in order of
appearance, numbers traced to their cells in the HTML, the APA 7 Word layout (double
spacing, 12 pt, running head, page numbers, repeated table headers, alt text)."""

from __future__ import annotations

import re
import struct
import zipfile
import zlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import process_outcome.document as rp
from process_outcome.document.pandoc import Style, render_documents, to_format
from process_outcome.errors import InputError
from tests.conftest import ROOT

ASSETS = ROOT / "workflow" / "templates" / "manuscript"

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

    short, long = _table("short", "1", 5), _table("long", "2", 80)
    body = rp.Paragraph(rp.rich("Text."))
    return rp.Manuscript(
        "Title",
        ("A. Author",),
        "",
        datetime(2024, 1, 1, tzinfo=UTC),
        (rp.Section("results", "Results", (body, short, long)),),
    )


def _png(path: Path) -> bytes:
    """A 1 x 1 white PNG at 300 dpi."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(b"\x00\xff")) + chunk(b"IEND", b"")
    path.write_bytes(png)
    return png


def _manuscript(png: bytes) -> rp.Manuscript:
    # The second table is cited first in the text, but numbered by where it stands.
    short, long = _table("short", "1", 5), _table("long", "2", 80)
    figure = rp.Figure("fig_a", "1", "Slopes of Each Therapist", rp.rich("A note."), png, 1.0)
    stat = rp.value("0.35", rp.ref("aim1_fixed_effects", "estimate", term="x"))
    body = rp.Paragraph(
        rp.rich("See @tbl:long, @fig:fig_a and @tbl:short; ", stat, " [@bates2015].")
    )
    return rp.Manuscript(
        "Title",
        ("A. Author",),
        "",
        datetime(2024, 1, 1, tzinfo=UTC),
        (
            rp.Section("results", "Results", (body, short, long, figure)),
            rp.Section("references", "References", ()),
        ),
    )


def _style(**kw) -> Style:
    return Style(
        ASSETS / "labels.lua",
        ASSETS / "apa.css",
        ASSETS / "apa.csl",
        (ASSETS / "references.bib",),
        running_head="Bonds and outcomes",
        **kw,
    )


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("render")
    md = rp.render_markdown(_manuscript(_png(tmp / "fig_a.png")), ".")
    out = {f: tmp / f"m.{f}" for f in ("html", "docx")}
    render_documents(md, tmp, out, _style(), epoch=1704067200)
    return out


def test_long_table_flag():
    assert not _table("t", "1", rp.LONG_TABLE_ROWS).long
    assert _table("t", "1", rp.LONG_TABLE_ROWS + 1).long


def test_labels_numbered_in_order_of_appearance_and_numbers_traced(rendered):
    html = rendered["html"].read_text(encoding="utf-8")
    text = re.sub(r"<[^>]+>", "", html)
    assert "See Table 2, Figure 1 and Table 1;" in " ".join(text.split())
    assert "<strong>Table 1</strong>" in html and "<strong>Table 2</strong>" in html
    stat = r'<span class="stat" [^>]*data-source="aim1_fixed_effects"[^>]*>0.35</span>'
    assert re.search(stat, html)
    assert '<section id="results"' in html
    # Citeproc: APA author-date citation and the entry in the reference list.
    assert "(Bates et al., 2015)" in " ".join(text.split())
    assert "https://doi.org/10.18637/jss.v067.i01" in html


def test_word_layout_is_apa7(rendered):
    docx = zipfile.ZipFile(rendered["docx"])
    body = docx.read("word/document.xml").decode("utf-8")
    styles = docx.read("word/styles.xml").decode("utf-8")
    # Double spacing and 12 pt (24 half-points) in the default paragraph style.
    assert 'w:line="480"' in styles and 'w:val="24"' in styles
    tables = re.findall(r"<w:tbl>.*?</w:tbl>", body, re.DOTALL)
    assert len(tables) == 2
    for t in tables:
        rows = re.findall(r"<w:tr[ >].*?</w:tr>", t, re.DOTALL)
        assert "w:tblHeader" in rows[0]
        assert not any("w:tblHeader" in r for r in rows[1:])
    headers = [n for n in docx.namelist() if re.fullmatch(r"word/header\d*\.xml", n)]
    xml = "".join(docx.read(n).decode("utf-8") for n in headers)
    assert re.search(r"<w:instrText[^>]*> PAGE </w:instrText>", xml)
    assert "BONDS AND OUTCOMES" in xml
    assert re.search(r'<wp:docPr [^>]*descr="Slopes of Each Therapist"', body)


def test_same_inputs_same_word_bytes(rendered, tmp_path):
    md = rp.render_markdown(_manuscript(_png(tmp_path / "fig_a.png")), ".")
    again = tmp_path / "m.docx"
    render_documents(md, tmp_path, {"docx": again}, _style(), epoch=1704067200)
    assert again.read_bytes() == rendered["docx"].read_bytes()


def test_unknown_label_or_citation_stops_with_its_name(tmp_path):
    with pytest.raises(InputError, match="tbl:nowhere"):
        to_format("See @tbl:nowhere.", "html", tmp_path, _style())
    with pytest.raises(InputError, match="smith1999"):
        to_format("As shown [@smith1999].", "html", tmp_path, _style())


def test_latex_table_from_the_same_markdown(tmp_path):
    tex = to_format(
        "\n".join(rp.markdown_table(_table("long", "2", 80))), "latex", tmp_path, _style()
    )
    assert b"\\begin{longtable}" in tex and b"\\endhead" in tex


def test_print_css_double_spaced_12pt():
    css = (ASSETS / "apa.css").read_text(encoding="utf-8")
    assert "font-size: 12pt" in css and "line-height: 2" in css
    assert "thead { display: table-header-group; }" in css
    assert "counter(page)" in css and "@top-right" in css
