"""Issue 12 on the rendered manuscript of the shared workflow run (HTML, Markdown, Word):
CI bounds never printed as zero (item 4), print layout checked on a PDF that headless
Chromium prints (item 6), figure captions (item 7), prose without workflow jargon and
with "post-treatment" defined (items 8 and 1), APA details of Tables 1–2 and the Aim 1
claims (item 9)."""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
import yaml

from process_outcome.analysis.figures import SINGULAR_NOTE, simple_slopes_plot
from tests.unit.manuscript.test_report import ManuscriptHTML, source_value

MINUS = "\u2212"
ZERO = re.compile(rf"^{MINUS}?0?\.0+$")
CHROMIUM = next(
    (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p),
    None,
)


class SectionText(HTMLParser):
    """The text of each ``section`` of the manuscript, and the ``code`` runs in it."""

    def __init__(self) -> None:
        super().__init__()
        self.section = "header"
        self.text: dict[str, list[str]] = {}
        self.code: dict[str, list[str]] = {}
        self._code = False

    def handle_starttag(self, tag, attrs):
        if tag == "section":
            self.section = dict(attrs).get("id") or ""
        self._code = self._code or tag == "code"

    def handle_endtag(self, tag):
        if tag == "code":
            self._code = False

    def handle_data(self, data):
        self.text.setdefault(self.section, []).append(data)
        if self._code:
            self.code.setdefault(self.section, []).append(data)

    def of(self, *sections: str) -> str:
        return "".join(t for s in sections for t in self.text.get(s, []))


@functools.cache
def _sections(html_path: Path) -> SectionText:
    parser = SectionText()
    parser.feed(html_path.read_text(encoding="utf-8"))
    return parser


def _html(workflow_run: Path) -> Path:
    return workflow_run / "results/report/manuscript.html"


def _stats(workflow_run: Path) -> ManuscriptHTML:
    parser = ManuscriptHTML()
    parser.feed(_html(workflow_run).read_text(encoding="utf-8"))
    return parser


# ------------------------------------------------------------------ item 4: CI bounds


@pytest.mark.e2e
def test_no_nonzero_ci_bound_prints_as_zero(workflow_run: Path):
    bounds = 0
    for section, attrs, printed in _stats(workflow_run).stats:
        if attrs["data-column"] not in ("ci_low", "ci_high", "alpha_ci_low", "alpha_ci_high"):
            continue
        bounds += 1
        if ZERO.match(printed.strip()):
            value = source_value(
                workflow_run, attrs["data-source"], attrs["data-key"], attrs["data-column"]
            )
            assert value == 0, f"{section} {attrs}: {printed} printed for {value}"
    assert bounds > 100
    # Word prints the same bounds as the HTML: as many zero-looking bounds as the HTML
    # has exact zeros (a profile CI's bound at the boundary, printed with its decimals).
    zeros = sum(
        1
        for _, attrs, printed in _stats(workflow_run).stats
        if "ci_" in attrs["data-column"] and ZERO.match(printed.strip())
    )
    docx = zipfile.ZipFile(workflow_run / "results/report/manuscript.docx")
    xml = re.sub(r"<[^>]+>", "", docx.read("word/document.xml").decode("utf-8"))
    intervals = re.findall(r"\[([^\[\],]+), ([^\[\],]+)\]", xml)
    assert len(intervals) > 50
    printed_zero = sum(bool(ZERO.match(x)) for pair in intervals for x in pair)
    assert printed_zero <= zeros


# ------------------------------------------------------------ item 6: print layout


class TableCaptions(HTMLParser):
    """For each table: its label (``Table 1``), title, header row and first body row's
    first cell, from pandoc's HTML (a Div of class ``apa-table`` per table)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[dict] = []
        self._field: str | None = None
        self._row: int | None = None  # rows seen in the current table; None outside
        self._div = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "div" and "apa-table" in (a.get("class") or "").split():
            self.tables.append({"number": "", "title": "", "head": [], "first": None})
            self._div, self._row = True, None
        elif not self._div:
            return
        elif tag == "strong" and not self.tables[-1]["number"] and self._row is None:
            self._field = "number"
        elif tag == "em" and not self.tables[-1]["title"] and self._row is None:
            self._field = "title"
        elif tag == "table":
            self._row = 0
        elif tag == "th":
            self._field = "th"
            self.tables[-1]["head"].append("")
        elif tag == "tr" and self._row is not None:
            self._row += 1
        elif tag == "td" and self._row == 2 and self.tables[-1]["first"] is None:
            self._field = "first"
            self.tables[-1]["first"] = ""

    def handle_endtag(self, tag):
        if tag in ("strong", "em", "th", "td"):
            self._field = None
        if tag == "table":
            self._div, self._row = False, None

    def handle_data(self, data):
        if self._field is None or not self._div:
            return
        t = self.tables[-1]
        if self._field == "th":
            t["head"][-1] += data
        else:
            t[self._field] += data


def _print_pdf(html: Path, out: Path) -> list[list[str]]:
    """Print ``html`` with headless Chromium as the README says; the lines of each page."""
    from pypdf import PdfReader

    pdf = out / "manuscript.pdf"
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",  # CI runs as root
        "--disable-gpu",
        "--no-pdf-header-footer",  # page numbers come from the page's own @page rules
        f"--user-data-dir={out / 'profile'}",
        f"--print-to-pdf={pdf}",
        html.resolve().as_uri(),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert pdf.exists(), proc.stderr[-3000:]
    return [
        [line.strip() for line in page.extract_text().splitlines()] for page in PdfReader(pdf).pages
    ]


@pytest.mark.e2e
@pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium is not installed (Debian package `chromium`): the printed PDF cannot be made",
)
def test_printed_manuscript_keeps_captions_with_their_tables(workflow_run: Path, tmp_path: Path):
    pages = _print_pdf(_html(workflow_run), tmp_path)
    parser = TableCaptions()
    parser.feed(_html(workflow_run).read_text(encoding="utf-8"))
    assert len(parser.tables) >= 5
    header_lines = 0
    for t in parser.tables:
        caption = (t["number"] or t["title"]).strip()
        head = " ".join(h.strip() for h in t["head"])
        # The page where this table's caption is printed: a line holding only the
        # caption, followed by the title (numbered tables) or the header row.
        follow = t["title"].split()[0] if t["number"] else head.split()[0]
        where = [
            (i, j)
            for i, lines in enumerate(pages)
            for j, line in enumerate(lines)
            if line == caption and any(x.startswith(follow) for x in lines[j + 1 : j + 4])
        ]
        assert where, f"caption {caption!r} not found in the PDF"
        i, j = where[0]
        rest = pages[i][j + 1 :]
        first = t["first"].strip()
        # Lines may wrap inside a cell (long file names): compare without white space.
        assert re.sub(r"\s", "", first) in re.sub(r"\s", "", "".join(rest)), (
            f"page {i + 1} ends with the caption of {caption!r} but not its first row "
            f"{first!r}: {rest[-5:]}"
        )
        # A table continued on later pages repeats its header row there.
        for later in pages[i + 1 :]:
            body = [x for x in later[1:] if x]
            if body and body[0] == head:
                header_lines += 1
    assert header_lines >= 1, "no long table continued with a repeated header"
    # Page numbers: each page carries its own number.
    for n, lines in enumerate(pages, start=1):
        assert str(n) in lines[:2] + lines[-2:], f"page {n} without its number: {lines[:3]}"


# ------------------------------------------------- items 7, 8, 1: captions and prose


@pytest.mark.e2e
def test_figure_captions_name_scales_and_singular_fits(workflow_run: Path):
    md = (workflow_run / "results/report/manuscript.md").read_text(encoding="utf-8")
    figure2 = md.split("{#fig:figure2_aim2_caterpillar")[1].split("\n:::\n")[0]
    figure3 = md.split("{#fig:figure3_aim3_simple_slopes")[1].split("\n:::\n")[0]
    assert "Each panel has its own vertical scale" in figure2
    assert "singular fit" in figure2 and "singular fit" in figure3


def test_figure3_flags_singular_fits():
    simple = pd.DataFrame(
        [
            {"outcome": "o", "process": "p", "moderator": m, "level": lv, "estimate": 0.1}
            | {"ci_low": 0.0, "ci_high": 0.2}
            for m in ("a", "b")
            for lv in ("-1 SD", "mean", "+1 SD")
        ]
    )
    moderation = pd.DataFrame(
        {"outcome": ["o", "o"], "process": ["p", "p"], "moderator": ["a", "b"]}
        | {"singular": [False, True]}
    )
    fig = simple_slopes_plot(simple, {"a": "A", "b": "B"}, moderation)
    ax = fig.axes[0]
    flags = [t for t in ax.texts if t.get_text() == SINGULAR_NOTE]
    # One flag, in the row of moderator b (plotted at y = -1), hollow markers there.
    assert [t.get_position()[1] for t in flags] == [-1]
    faces: dict[int, set[str]] = {}
    for line in ax.lines:
        if line.get_marker() in ("v", "o", "^"):  # the points, not the error-bar caps
            faces.setdefault(round(float(line.get_ydata()[0])), set()).add(
                str(line.get_markerfacecolor())
            )
    assert faces[-1] == {"white"} and "white" not in faces[0]
    assert not simple_slopes_plot(simple, {}, None).axes[0].texts


@pytest.mark.e2e
def test_prose_has_no_workflow_jargon(workflow_run: Path):
    text = _sections(_html(workflow_run))
    prose = ("method", "results", "references", "simulation")
    # No config keys, file names or code in the manuscript proper (the provenance
    # appendix lists the config as run).
    assert not any(text.code.get(s) for s in prose), {s: text.code.get(s) for s in prose}
    body = text.of(*prose)
    assert not re.search(r"\b[a-z_]+\.[a-z_]+\s*[:=]", body), "config key in the prose"
    assert "data.source" not in body and "simulate.seed" not in body
    # The exclusion log in words, not its raw reason strings.
    assert "patient excluded:" not in body and "non-missing symptoms" not in body
    assert "“" not in text.of("method").split("Measures")[0]
    md = (workflow_run / "results/report/manuscript.md").read_text(encoding="utf-8")
    main = md.split("::: {#appendix")[0]
    assert "`" not in main, re.findall(r"`[^`]*`", main)[:5]


@pytest.mark.e2e
def test_method_defines_post_treatment_with_counts(workflow_run: Path):
    # Every outcome's share of patients whose last assessment came early is printed in
    # the Method, traced to its row of descriptives.csv.
    desc = pd.read_csv(workflow_run / "results/tables/descriptives.csv")
    early = set(desc.loc[desc["variable"].str.startswith("post_early_"), "variable"])
    assert len(early) == 2
    parser = _stats(workflow_run)
    shown = {
        a["data-key"].removeprefix("variable=")
        for section, a, _ in parser.stats
        if section == "method" and a["data-key"].startswith("variable=post_early_")
    }
    assert shown == early


@pytest.mark.e2e
def test_moderators_are_counted_not_listed_twice(workflow_run: Path):
    # A family of tests whose models are all singular says so with a count ("All six
    # models were singular"), rather than naming every characteristic a second time.
    config = yaml.safe_load((workflow_run / "config.yaml").read_text(encoding="utf-8"))
    labels = [m["label"].lower() for m in config["measures"]["moderators"].values()]
    for paragraph in _stats(workflow_run).paragraphs:
        text = paragraph.lower()
        twice = [label for label in labels if text.count(label) >= 2]
        assert len(twice) < len(labels), paragraph[:300]


# ------------------------------------------------------------- item 9: APA details


@pytest.mark.e2e
def test_fdr_adjusted_p_is_labelled_so(workflow_run: Path):
    html = _html(workflow_run).read_text(encoding="utf-8")
    results = html[html.index('<section id="results"') : html.index('<section id="discussion"')]
    prose = re.sub(r'<div id="tbl:.*?</table>', "", results, flags=re.S)
    spans = [m.start() for m in re.finditer(r'<span class="stat"[^>]*data-column="p_fdr"', prose)]
    assert spans
    for at in spans:
        assert "<sub>FDR</sub>" in prose[max(0, at - 60) : at], prose[at - 80 : at + 80]


def docx_table(path: Path, label: str) -> list[list[str]]:
    """The rows (cell texts) of the Word table after the paragraph ``label``."""
    import docx
    from docx.table import Table

    seen = False
    for block in docx.Document(str(path)).iter_inner_content():
        if not isinstance(block, Table):
            seen = seen or block.text.strip() == label
        elif seen:
            return [[c.text.strip() for c in row.cells] for row in block.rows]
    raise AssertionError(f"no {label} in {path}")


@pytest.mark.e2e
def test_table1_counts_as_integers_and_binary_as_n_percent(workflow_run: Path):
    table = docx_table(workflow_run / "results/report/manuscript.docx", "Table 1")
    rows = {r[0]: r for r in table[1:]}
    caseload = rows["Patients per therapist"]
    assert re.fullmatch(r"\d+", caseload[4]) and re.fullmatch(r"\d+", caseload[5]), caseload
    binary = rows["Cognitive-behavioral orientation"]
    assert re.fullmatch(r"\d+ \(\d+%\)", binary[2]) and binary[3] == "\u2013", binary
    # Means, SDs and ICCs: one number of decimals per column.
    for j in (2, 3, 6):
        decimals = {len(r[j].split(".")[1]) for r in rows.values() if "." in r[j]}
        assert len(decimals) == 1, (j, decimals)
