"""The Markdown writer: the document model as one Pandoc Markdown document.

Pandoc (:mod:`process_outcome.document.pandoc`) makes every other format from it. A number
tied to a results cell becomes a span ``[0.35]{.stat data-source=… data-key=…
data-column=…}`` (HTML keeps the attributes, so a test traces each number to its cell);
a top-level section is a Div of class ``section`` (an HTML ``<section>``); a table or
figure is a Div labelled ``tbl:<name>`` or ``fig:<name>`` that the Lua filter
``labels.lua`` numbers in order of appearance, resolving ``@tbl:<name>`` in the text.
"""

from __future__ import annotations

import re

import yaml

from process_outcome.document.model import (
    Code,
    Figure,
    Heading,
    Manuscript,
    Paragraph,
    Section,
    Table,
)
from process_outcome.document.rich import Rich, rich

__all__ = ["markdown_rich", "markdown_section", "markdown_table", "render_markdown"]


_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~^<>$#])")
_MD_STYLE = {"i": ("*", "*"), "b": ("**", "**"), "bi": ("***", "***"), "sub": ("~", "~")}
_MD_STYLE |= {"sup": ("^", "^"), "code": ("`", "`"), "": ("", ""), "url": ("", "")}
# Citations (``[@bates2015; @self1987]``, ``@vallat2018``) and labels (``@tbl:name``)
# pass through unescaped: pandoc resolves them.
_VERBATIM = re.compile(r"\[@[^\]]+\]|@(?:tbl|fig):\w+|@[a-z]+\d{4}[a-z]?\b")


def _escape(text: str) -> str:
    out, last = [], 0
    for m in _VERBATIM.finditer(text):
        out += [_MD_SPECIAL.sub(r"\\\1", text[last : m.start()]), m.group(0)]
        last = m.end()
    return "".join([*out, _MD_SPECIAL.sub(r"\\\1", text[last:])])


def _attr(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def markdown_rich(text: Rich | str, traced: bool = True) -> str:
    """Rich text as Pandoc Markdown (``~sub~``, ``^sup^``, numbers as ``.stat`` spans).

    Examples
    --------
    >>> from process_outcome.document.rich import it, ref, value
    >>> markdown_rich(it("p"))
    '*p*'
    >>> markdown_rich(value("0.35", ref("aim1_fixed_effects", "estimate", term="x")))
    '[0.35]{.stat data-source="aim1_fixed_effects" data-key="term=x" data-column="estimate"}'
    """
    out = []
    for run in rich(text):
        open_, close = _MD_STYLE[run.style]
        body = run.text if run.style == "code" else _escape(run.text)
        if run.style in ("sub", "sup"):
            body = body.replace(" ", "\\ ")
        if run.ref is not None and traced:
            attrs = " ".join(f'{k}="{_attr(v)}"' for k, v in run.ref.attributes().items())
            body = f"[{body}]{{.stat {attrs}}}"
        # Emphasis markers must touch the text (``*Note.* ``, not ``*Note. *``).
        stripped = body.strip()
        if open_ and stripped:
            lead = body[: len(body) - len(body.lstrip())]
            trail = body[len(body.rstrip()) :]
            out.append(lead + open_ + stripped + close + trail)
        else:
            out.append(body)
    return "".join(out)


def _cell(text: Rich | str, traced: bool = True) -> str:
    return markdown_rich(text, traced).replace("|", "\\|") or " "


def markdown_table(t: Table, supplement: bool = False, traced: bool = True) -> list[str]:
    """One table as a labelled Div: italic title, pipe table, note (a supplementary
    table is numbered S1, S2, …); ``traced=False`` leaves out the numbers' sources."""
    label = f"tbl:{t.key}" if t.number else ""
    classes = ".apa-table" + (" .long" if t.long else "") + (" .supplement" if supplement else "")
    lines = [f"::: {{{'#' + label + ' ' if label else ''}{classes}}}", ""]
    lines += [f"*{markdown_rich(t.title)}*", ""]
    lines.append("| " + " | ".join(_cell(c, traced) for c in t.columns) + " |")
    # Column widths (relative, as pandoc reads them from the dashes) follow the longest
    # text of each column, the first column's capped so numbers keep their room.
    texts = [t.columns, *(r.cells for r in t.rows if r.kind == "data")]
    widths = [max(len(row[j].plain) for row in texts) for j in range(len(t.columns))]
    widths = [max(8, min(w, 26 if j == 0 else 16)) for j, w in enumerate(widths)]
    marks = []
    for a, w in zip(t.align, widths, strict=True):
        dashes = "-" * w
        marks.append({"l": ":" + dashes, "r": dashes + ":", "c": ":" + dashes + ":"}[a])
    lines.append("|" + "|".join(marks) + "|")
    for r in t.rows:
        if r.kind == "data":
            row = [_cell(c, traced) for c in r.cells]
            row[0] = "\u00a0\u00a0\u00a0" * r.indent + row[0]
        else:
            first = markdown_rich(r.cells[0], traced)
            row = [f"*{first}*" if r.kind == "panel" and first else first or " "]
            row += [" "] * (len(t.columns) - 1)
        lines.append("| " + " | ".join(row) + " |")
    if t.note:
        note = "*Note.* " + markdown_rich(t.note, traced)
        lines += ["", '::: {.note custom-style="Table Note"}', note, ":::"]
    return [*lines, "", ":::", ""]


def _figure(b: Figure, image_dir: str, supplement: bool = False) -> list[str]:
    alt = _attr(b.title.replace("\n", " "))
    classes = ".apa-figure" + (" .supplement" if supplement else "")
    lines = [f"::: {{#fig:{b.key} {classes}}}", "", f"*{markdown_rich(b.title)}*", ""]
    # Printed at the size it was drawn (its fonts' sizes hold), at most the text width.
    size = f'width={min(b.width_inches, 6.5):.2f}in fig-alt="{alt}"'
    lines += [f"![{_escape(b.title)}]({image_dir}/{b.key}.png){{{size}}}"]
    if b.note:
        note = "*Note.* " + markdown_rich(b.note)
        lines += ["", '::: {.note custom-style="Table Note"}', note, ":::"]
    return [*lines, "", ":::", ""]


def _blocks(section, image_dir: str, supplement: bool = False) -> list[str]:
    lines: list[str] = []
    for b in section.blocks:
        if isinstance(b, Heading):
            lines += ["#" * b.level + " " + markdown_rich(b.text), ""]
        elif isinstance(b, Paragraph):
            text = markdown_rich(b.text)
            if b.style == "body":
                lines += [text, ""]
            else:
                lines += [f'::: {{.{b.style} custom-style="{b.style.title()}"}}', text, ":::", ""]
        elif isinstance(b, Table):
            lines += markdown_table(b, supplement)
        elif isinstance(b, Figure):
            lines += _figure(b, image_dir, supplement)
        elif isinstance(b, Code):
            lines += ["```yaml", b.text.rstrip("\n"), "```", ""]
    return lines


def markdown_section(section: Section, image_dir: str, supplement: bool = False) -> str:
    """One section's blocks (its title as a level-1 heading, when it has one)."""
    lines = [f"# {markdown_rich(section.title)}", ""] if section.title else []
    if section.banner:
        lines += ["::: banner", markdown_rich(section.banner), ":::", ""]
    return "\n".join(lines + _blocks(section, image_dir, supplement)).strip("\n") + "\n"


def render_markdown(
    manuscript: Manuscript, image_dir: str = "../figures", metadata: dict | None = None
) -> str:
    """The manuscript as one Pandoc Markdown document (YAML metadata block first);
    figures link to PNGs in ``image_dir``."""
    meta = {"title": manuscript.title, **(metadata or {})}
    lines = ["---", yaml.safe_dump(meta, allow_unicode=True, sort_keys=False).rstrip(), "---", ""]
    for section in manuscript.sections:
        lines += [f"::: {{#{section.key} .section .{section.key}}}", ""]
        if section.title:
            lines += [f"# {markdown_rich(section.title)} {{#h-{section.key}}}", ""]
        if section.banner:
            lines += ["::: banner", markdown_rich(section.banner), ":::", ""]
        lines += _blocks(section, image_dir)
        if section.key == "references":
            # Citeproc writes the reference list of the works cited into this Div.
            lines += ["::: {#refs}", ":::", ""]
        lines += [":::", ""]
    return "\n".join(lines).rstrip("\n") + "\n"
