"""The APA 7 Word reference document pandoc lays the .docx out by.

Built from pandoc's own reference document, so every style pandoc uses exists: Times New
Roman 12 pt, double-spaced (``w:spacing w:line="480"``), no space between paragraphs,
first-line indent of 0.5 in for body text, APA heading levels, 1-in margins, and a header
with the running head left and the page number (a ``PAGE`` field) right. A journal's own
reference document replaces it (``manuscript: reference_docx``).
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

__all__ = ["apa_reference_docx"]


def _page_field(paragraph) -> None:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    for kind, text in (("begin", None), (None, " PAGE "), ("separate", None), (None, "1")):
        run = paragraph.add_run()
        if kind in ("begin", "separate"):
            el = OxmlElement("w:fldChar")
            el.set(qn("w:fldCharType"), kind)
            run._r.append(el)
        elif text == " PAGE ":
            el = OxmlElement("w:instrText")
            el.set(qn("xml:space"), "preserve")
            el.text = text
            run._r.append(el)
        else:
            run.text = text
    end = OxmlElement("w:fldChar")
    end.set(qn("w:fldCharType"), "end")
    paragraph.add_run()._r.append(end)


def apa_reference_docx(path: str | Path, running_head: str, base: bytes) -> None:
    """Write the APA 7 reference document.

    Parameters
    ----------
    path : str or Path
    running_head : str
        Printed in capitals top left of every page (omitted when empty).
    base : bytes
        Pandoc's own reference document (``pandoc --print-default-data-file
        reference.docx``), whose styles are restyled.

    Examples
    --------
    >>> import subprocess, tempfile, zipfile, pathlib
    >>> from process_outcome.document.pandoc import pandoc_path
    >>> base = subprocess.run([pandoc_path(), "--print-default-data-file", "reference.docx"],
    ...                       capture_output=True, check=True).stdout
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = pathlib.Path(d) / "ref.docx"
    ...     apa_reference_docx(p, "Bonds", base)
    ...     styles = zipfile.ZipFile(p).read("word/styles.xml").decode()
    >>> 'w:line="480"' in styles
    True
    """
    import docx
    from docx.enum.section import WD_SECTION
    from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING, WD_TAB_ALIGNMENT
    from docx.oxml.ns import qn
    from docx.shared import Inches, Pt, RGBColor

    doc = docx.Document(io.BytesIO(base))
    # Theme fonts (pandoc's headings use them) win over a named font: drop them.
    for fonts in doc.styles.element.iter(qn("w:rFonts")):
        for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
            fonts.attrib.pop(qn(attr), None)
    names = {s.name for s in doc.styles}
    for s in doc.styles:
        if s.type != 1:  # paragraph and character styles only
            continue
        s.font.name = "Times New Roman"
        s.font.size = Pt(12)
        s.font.color.rgb = RGBColor(0, 0, 0)
        pf = s.paragraph_format
        pf.line_spacing_rule = WD_LINE_SPACING.DOUBLE
        pf.space_before = Pt(0)
        pf.space_after = Pt(0)
    for name in ("Body Text", "First Paragraph"):
        if name in names:
            doc.styles[name].paragraph_format.first_line_indent = Inches(0.5)
    heading = {"Title": (True, False, True), "Heading 1": (True, False, True)}
    heading |= {"Heading 2": (True, False, False), "Heading 3": (True, True, False)}
    for name, (bold, italic, centred) in heading.items():
        if name in names:
            s = doc.styles[name]
            s.font.bold, s.font.italic = bold, italic
            s.font.size = Pt(12)
            s.paragraph_format.keep_with_next = True
            if centred:
                s.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    # The byline is plain text (pandoc's Author style is bold by default in some versions).
    if "Author" in names:
        doc.styles["Author"].font.bold = False
    # Tables, their captions and notes single-spaced inside the double-spaced text.
    for name in ("Compact", "Table Caption", "Image Caption", "Source Code"):
        if name in names:
            doc.styles[name].paragraph_format.line_spacing_rule = WD_LINE_SPACING.SINGLE
            doc.styles[name].font.size = Pt(10)
            # Table cells would inherit the body text's first-line indent.
            doc.styles[name].paragraph_format.first_line_indent = Inches(0)
    note = doc.styles.add_style("Table Note", 1)
    note.base_style = doc.styles["Normal"]
    note.font.size = Pt(10)
    note.paragraph_format.line_spacing_rule = WD_LINE_SPACING.SINGLE
    note.paragraph_format.space_before = Pt(3)
    for name in ("Bibliography",):
        if name in names:
            pf = doc.styles[name].paragraph_format
            pf.left_indent, pf.first_line_indent = Inches(0.5), Inches(-0.5)
    section = doc.sections[0]
    section.start_type = WD_SECTION.NEW_PAGE
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Inches(1))
    section.page_width, section.page_height = Inches(8.5), Inches(11)
    header = section.header
    header.is_linked_to_previous = False
    p = header.paragraphs[0]
    p.paragraph_format.first_line_indent = Inches(0)
    p.paragraph_format.tab_stops.add_tab_stop(Inches(6.5), WD_TAB_ALIGNMENT.RIGHT)
    if running_head:
        p.add_run(running_head.upper())
    p.add_run("\t")
    _page_field(p)
    buffer = io.BytesIO()
    doc.save(buffer)
    # Pandoc copies some parts with their ZIP dates: fixed ones keep the .docx's bytes
    # the same from run to run.
    with zipfile.ZipFile(buffer) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            dst.writestr(fixed, src.read(info.filename), zipfile.ZIP_DEFLATED)
