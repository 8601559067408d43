"""The Markdown writer."""

from __future__ import annotations

import re

from process_outcome.document.model import Code, Figure, Heading, Manuscript, Paragraph, Table
from process_outcome.document.rich import Rich, rich

__all__ = ["markdown_rich", "render_markdown"]


_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~^])")
_MD_STYLE = {"i": ("*", "*"), "b": ("**", "**"), "bi": ("***", "***"), "sub": ("~", "~")}
_MD_STYLE |= {"sup": ("^", "^"), "code": ("`", "`"), "": ("", ""), "url": ("<", ">")}


def markdown_rich(text: Rich | str) -> str:
    """Rich text as Pandoc Markdown (``~sub~``, ``^sup^``), special characters escaped.

    Examples
    --------
    >>> from process_outcome.document.rich import it
    >>> markdown_rich(it("p"))
    '*p*'
    """
    out = []
    for run in rich(text):
        open_, close = _MD_STYLE[run.style]
        verbatim = run.style in ("code", "url")
        body = run.text if verbatim else _MD_SPECIAL.sub(r"\\\1", run.text)
        if run.style in ("sub", "sup"):
            body = body.replace(" ", "\\ ")
        # Emphasis markers must touch the text (``*Note.* ``, not ``*Note. *``).
        stripped = body.strip()
        if open_ and stripped:
            lead = body[: len(body) - len(body.lstrip())]
            trail = body[len(body.rstrip()) :]
            out.append(lead + open_ + stripped + close + trail)
        else:
            out.append(body)
    return "".join(out)


def _md_table(t: Table) -> list[str]:
    lines = [f"**{t.label}**", ""] if t.number else []
    lines += ["*" + markdown_rich(t.title) + "*", ""]
    cells = [markdown_rich(c) for c in t.columns]
    lines.append("| " + " | ".join(cells) + " |")
    marks = {"l": ":---", "r": "---:", "c": ":---:"}
    lines.append("|" + "|".join(marks[a] for a in t.align) + "|")
    for r in t.rows:
        if r.kind == "data":
            row = [markdown_rich(c) for c in r.cells]
            row[0] = "\u00a0\u00a0" * r.indent + row[0]
        else:
            style = "*" if r.kind == "panel" else ""
            row = [f"{style}{markdown_rich(r.cells[0])}{style}"] + [""] * (len(t.columns) - 1)
        lines.append("| " + " | ".join(row) + " |")
    if t.note:
        lines += ["", "*Note.* " + markdown_rich(t.note)]
    return [*lines, ""]


def render_markdown(manuscript: Manuscript, image_dir: str = "../figures") -> str:
    """The manuscript as Pandoc Markdown; figures link to PNGs in ``image_dir``."""
    lines = [f"# {manuscript.title}", ""]
    if manuscript.authors:
        lines += [", ".join(manuscript.authors), ""]
    for section in manuscript.sections:
        if section.title:
            lines += [f"# {section.title}", ""]
        if section.banner:
            lines += ["> " + markdown_rich(section.banner), ""]
        for b in section.blocks:
            if isinstance(b, Heading):
                lines += ["#" * b.level + " " + markdown_rich(b.text), ""]
            elif isinstance(b, Paragraph):
                lines += [markdown_rich(b.text), ""]
            elif isinstance(b, Table):
                lines += _md_table(b)
            elif isinstance(b, Figure):
                lines += [f"**{b.label}**", "", f"*{b.title}*", ""]
                lines += [f"![{b.label}]({image_dir}/{b.key}.png)", ""]
                if b.note:
                    lines += ["*Note.* " + markdown_rich(b.note), ""]
            elif isinstance(b, Code):
                lines += ["```yaml", b.text.rstrip("\n"), "```", ""]
    return "\n".join(lines).rstrip("\n") + "\n"
