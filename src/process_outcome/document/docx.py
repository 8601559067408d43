"""The Word writer (python-docx), with fixed ZIP entry dates so the bytes are stable."""

from __future__ import annotations

import io
import zipfile
from datetime import datetime
from typing import Any

from process_outcome.document.model import Code, Figure, Heading, Manuscript, Paragraph, Table
from process_outcome.document.rich import Rich, bold, it, rich

__all__ = ["column_widths", "render_docx"]


def _set_cell_border(cell: Any, **edges: str) -> None:
    """Set borders of one table cell (python-docx has no API for borders)."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    tc_pr = cell._tc.get_or_add_tcPr()
    borders = tc_pr.find(qn("w:tcBorders"))
    if borders is None:
        borders = OxmlElement("w:tcBorders")
        tc_pr.append(borders)
    for edge, size in edges.items():
        el = OxmlElement(f"w:{edge}")
        el.set(qn("w:val"), "single" if size else "nil")
        if size:
            el.set(qn("w:sz"), size)
            el.set(qn("w:space"), "0")
            el.set(qn("w:color"), "000000")
        borders.append(el)


def _row_properties(row: Any, header: bool) -> None:
    """Mark a table row as a repeated header row (``w:tblHeader``: Word's "Repeat as
    header row at the top of each page") and as one that may not break across pages
    (``w:cantSplit``); python-docx has no API for either."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    tr_pr = row._tr.get_or_add_trPr()
    for tag, wanted in (("w:cantSplit", True), ("w:tblHeader", header)):
        if wanted and tr_pr.find(qn(tag)) is None:
            tr_pr.append(OxmlElement(tag))


def _page_number_header(section: Any) -> None:
    """A right-aligned page number (a ``PAGE`` field) in the section's header, where
    APA 7 puts it; Word and LibreOffice fill in the number of each page."""
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    p = section.header.paragraphs[0]
    p.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    p.paragraph_format.first_line_indent = None
    for kind, text in (("begin", None), (None, "PAGE"), ("separate", None), (None, "1")):
        run = p.add_run()
        if kind is not None:
            fld = OxmlElement("w:fldChar")
            fld.set(qn("w:fldCharType"), kind)
            run._r.append(fld)
        elif text == "PAGE":
            instr = OxmlElement("w:instrText")
            instr.set(qn("xml:space"), "preserve")
            instr.text = " PAGE "
            run._r.append(instr)
        else:
            run.text = text  # shown until the field is updated
    end = OxmlElement("w:fldChar")
    end.set(qn("w:fldCharType"), "end")
    p.add_run()._r.append(end)


def _docx_runs(paragraph: Any, text: Rich | str) -> None:
    for run in rich(text):
        r = paragraph.add_run(run.text)
        r.italic = run.style in ("i", "bi") or None
        r.bold = run.style in ("b", "bi") or None
        if run.style == "sub":
            r.font.subscript = True
        elif run.style == "sup":
            r.font.superscript = True
        elif run.style == "code":
            r.font.name = "Courier New"


def _docx_styles(doc: Any) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml.ns import qn
    from docx.shared import Inches, Pt

    normal = doc.styles["Normal"]
    normal.font.name = "Times New Roman"
    normal.font.size = Pt(12)
    # East Asian font slot too, or Word substitutes its default for some glyphs.
    normal.element.rPr.rFonts.set(qn("w:eastAsia"), "Times New Roman")
    normal.paragraph_format.line_spacing = 2.0
    normal.paragraph_format.space_after = Pt(0)
    # APA 7 headings: level 1 centred bold, level 2 flush-left bold, level 3 bold italic.
    _heading_style(doc.styles["Heading 1"], WD_ALIGN_PARAGRAPH.CENTER, italic=False)
    _heading_style(doc.styles["Heading 2"], WD_ALIGN_PARAGRAPH.LEFT, italic=False)
    _heading_style(doc.styles["Heading 3"], WD_ALIGN_PARAGRAPH.LEFT, italic=True)
    _heading_style(doc.styles["Title"], WD_ALIGN_PARAGRAPH.CENTER, italic=False, size=14)
    # The default template underlines the title with a coloured rule; APA has none.
    title_pr = doc.styles["Title"].element.pPr
    if title_pr is not None:
        for border in title_pr.findall(qn("w:pBdr")):
            title_pr.remove(border)
    for section in doc.sections:
        for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
            setattr(section, side, Inches(1))


def _heading_style(style: Any, align: Any, italic: bool, size: int = 12) -> None:
    from docx.oxml.ns import qn
    from docx.shared import Pt, RGBColor

    style.font.name = "Times New Roman"
    style.font.size = Pt(size)
    style.font.bold = True
    style.font.italic = italic
    style.font.color.rgb = RGBColor(0, 0, 0)
    # Theme fonts (Calibri Light) would override the font name in Word.
    fonts = style.element.get_or_add_rPr().find(qn("w:rFonts"))
    if fonts is not None:
        for attr in list(fonts.attrib):
            if attr.endswith("Theme"):
                del fonts.attrib[attr]
    style.paragraph_format.alignment = align
    style.paragraph_format.space_before = Pt(12)
    style.paragraph_format.space_after = Pt(0)
    style.paragraph_format.line_spacing = 2.0


def column_widths(t: Table, total: float = 6.5, inch_per_char: float = 0.075) -> list[float]:
    """Column widths in inches for a table set in 10-pt type on a ``total``-inch line.

    Each column gets the width of its longest entry; when they do not fit, the first
    (label) column wraps first, down to a third of the line, then all shrink alike.
    """
    longest = [len(c.plain) for c in t.columns]
    for r in t.rows:
        if r.kind == "data":
            for j, c in enumerate(r.cells):
                longest[j] = max(longest[j], len(c.plain) + 2 * r.indent)
    need = [(n + 2) * inch_per_char for n in longest]
    rest = sum(need[1:])
    if need[0] + rest > total:
        need[0] = max(total - rest, min(need[0], total / 3))
    scale = min(1.0, total / sum(need))
    return [w * scale for w in need]


def _docx_table(doc: Any, t: Table) -> None:
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Inches, Pt

    if t.number:
        p = doc.add_paragraph()
        p.paragraph_format.keep_with_next = True
        _docx_runs(p, bold(t.label))
        p = doc.add_paragraph()
        p.paragraph_format.keep_with_next = True
        _docx_runs(p, it(t.title))
    else:
        p = doc.add_paragraph()
        _docx_runs(p, it(t.title))
    n = len(t.columns)
    table = doc.add_table(rows=1 + len(t.rows), cols=n)
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    # Equal columns squeeze the labels into a narrow first column; size each column to
    # its longest entry instead (Word reads cell widths, LibreOffice the grid).
    table.autofit = False
    widths = column_widths(t)
    for j, w in enumerate(widths):
        table.columns[j].width = Inches(w)
        for cell in table.columns[j].cells:
            cell.width = Inches(w)
    aligns = {"l": WD_ALIGN_PARAGRAPH.LEFT, "r": WD_ALIGN_PARAGRAPH.RIGHT}
    aligns["c"] = WD_ALIGN_PARAGRAPH.CENTER

    def fill(cell: Any, text: Rich, align: str, indent: int = 0) -> None:
        para = cell.paragraphs[0]
        para.paragraph_format.line_spacing = 1.0
        para.paragraph_format.first_line_indent = None
        para.alignment = aligns[align]
        if indent:
            para.paragraph_format.left_indent = Pt(10 * indent)
        _docx_runs(para, text)
        for run in para.runs:
            run.font.size = Pt(10)

    header = table.rows[0]
    for j, c in enumerate(t.columns):
        fill(header.cells[j], c, "c" if j else "l")
        _set_cell_border(header.cells[j], top="12", bottom="6")
    # Every page a table runs onto repeats its header row; no row breaks across pages.
    # The header and the first rows keep with what follows (so the title above never
    # ends a page alone), and a short table keeps every row with the next: whole on
    # one page.
    keep = len(table.rows) - 1 if not t.long else min(3, len(table.rows) - 1)
    for i, row in enumerate(table.rows):
        _row_properties(row, header=i == 0)
        if i < keep:
            for cell in row.cells:
                for para in cell.paragraphs:
                    para.paragraph_format.keep_with_next = True
    for i, r in enumerate(t.rows, start=1):
        cells = table.rows[i].cells
        if r.kind == "data":
            for j, c in enumerate(r.cells):
                fill(cells[j], c, t.align[j], r.indent if j == 0 else 0)
        else:
            merged = cells[0].merge(cells[-1]) if n > 1 else cells[0]
            text = it(r.cells[0].plain) if r.kind == "panel" else r.cells[0]
            fill(merged, text, "l")
    for cell in table.rows[-1].cells:
        _set_cell_border(cell, bottom="12")
    if t.note:
        p = doc.add_paragraph()
        p.paragraph_format.line_spacing = 1.0
        p.paragraph_format.space_before = Pt(4)
        _docx_runs(p, it("Note.") + " " + t.note)
        for run in p.runs:
            run.font.size = Pt(10)
    doc.add_paragraph()


def _docx_figure(doc: Any, f: Figure) -> None:
    from docx.shared import Inches, Pt

    for text in (bold(f.label), it(f.title)):
        p = doc.add_paragraph()
        p.paragraph_format.keep_with_next = True
        _docx_runs(p, text)
    p = doc.add_paragraph()
    p.paragraph_format.keep_with_next = True
    p.paragraph_format.line_spacing = 1.0
    p.add_run().add_picture(io.BytesIO(f.png), width=Inches(min(f.width_inches, 6.5)))
    if f.note:
        p = doc.add_paragraph()
        p.paragraph_format.line_spacing = 1.0
        _docx_runs(p, it("Note.") + " " + f.note)
        for run in p.runs:
            run.font.size = Pt(10)
    doc.add_paragraph()


def render_docx(manuscript: Manuscript) -> bytes:
    """The manuscript as a Word document: APA 7 tables as real Word tables.

    Text is Times New Roman 12 pt, double-spaced, with APA heading levels; tables are
    single-spaced with rules only above and below the header and below the last row.
    Core properties (creation and modification dates) are set to the manuscript's
    date, and the ZIP entries carry that date too, so equal inputs give equal bytes.
    """
    import docx
    from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
    from docx.shared import Inches, Pt

    doc = docx.Document()
    _docx_styles(doc)
    _page_number_header(doc.sections[0])
    doc.add_paragraph(manuscript.title, style="Title")
    if manuscript.authors:
        p = doc.add_paragraph(", ".join(manuscript.authors))
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    for section in manuscript.sections:
        if section.key in ("references", "simulation", "appendix"):
            doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
        if section.title:
            doc.add_heading(section.title, level=1)
        if section.banner:
            p = doc.add_paragraph()
            _docx_runs(p, section.banner)
            for run in p.runs:
                run.bold = True
        for b in section.blocks:
            if isinstance(b, Heading):
                h = doc.add_heading(level=min(b.level, 3))
                _docx_runs(h, b.text)
            elif isinstance(b, Paragraph):
                p = doc.add_paragraph()
                if b.style == "body":
                    p.paragraph_format.first_line_indent = Inches(0.5)
                elif b.style == "equation":
                    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
                elif b.style == "reference":
                    # APA 7 reference list: hanging indent of 0.5 in.
                    p.paragraph_format.left_indent = Inches(0.5)
                    p.paragraph_format.first_line_indent = Inches(-0.5)
                _docx_runs(p, b.text)
            elif isinstance(b, Table):
                _docx_table(doc, b)
            elif isinstance(b, Figure):
                _docx_figure(doc, b)
            elif isinstance(b, Code):
                for line in b.text.rstrip("\n").split("\n"):
                    p = doc.add_paragraph()
                    p.paragraph_format.line_spacing = 1.0
                    run = p.add_run(line)
                    run.font.name = "Courier New"
                    run.font.size = Pt(8)
    props = doc.core_properties
    props.title = manuscript.title
    props.author = "; ".join(manuscript.authors)
    props.last_modified_by = ""
    props.comments = ""
    props.revision = 1
    props.created = props.modified = props.last_printed = manuscript.date.replace(tzinfo=None)
    buffer = io.BytesIO()
    doc.save(buffer)
    return _stable_zip(buffer.getvalue(), manuscript.date)


def _stable_zip(data: bytes, date: datetime) -> bytes:
    """Rewrite a ZIP with fixed entry dates (python-docx stamps them with the clock)."""
    stamp = (max(date.year, 1980), date.month, date.day, date.hour, date.minute, date.second)
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as src,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for info in src.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=stamp)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o600 << 16
            dst.writestr(entry, src.read(info.filename))
    return out.getvalue()
