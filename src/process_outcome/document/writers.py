"""Rendering the manuscript: APA number formatting, rich text, and four writers.

The content of the manuscript (which sentence, which table) is built once, as a small
document model (:class:`Manuscript` of :class:`Section` of blocks), by
:mod:`process_outcome.manuscript.build`. This module turns that model into HTML (through the
Jinja2 templates in ``workflow/templates``), Markdown, LaTeX tables and Word, so every
format carries the same words and numbers in the same order.

Text is :class:`Rich`: a sequence of :class:`Run` objects, each with a style (italic
statistic symbols, subscripts) and optionally a :class:`Ref` naming the results-table
cell a printed number came from. The HTML writer exposes refs as ``data-`` attributes,
which lets a test check every quoted statistic against the results tables.
"""

from __future__ import annotations

import base64
import io
import math
import re
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import jinja2
from markupsafe import Markup, escape

MINUS = "\u2212"
EN_DASH = "\u2013"
ALPHA = 0.05  # two-sided significance level of every test in the report


# ----------------------------------------------------------------------- numbers


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def apa_number(value: float | None, digits: int = 2, leading_zero: bool = True) -> str:
    """Format a number as APA style prints it: fixed digits and a true minus sign.

    Parameters
    ----------
    value : float
        The number; ``None`` or NaN prints as an en dash.
    digits : int
        Decimal places.
    leading_zero : bool
        ``False`` for statistics that cannot exceed 1 in absolute value (p, r), which
        APA prints without the leading zero.

    Examples
    --------
    >>> apa_number(-0.6004)
    '−0.60'
    >>> apa_number(0.25, leading_zero=False)
    '.25'
    """
    if _missing(value):
        return EN_DASH
    value = float(value)  # numpy scalars and ints alike
    text = f"{abs(value):.{digits}f}"
    if not leading_zero and text.startswith("0."):
        text = text[1:]
    negative = value < 0 and float(text) != 0
    return (MINUS if negative else "") + text


def apa_p(p: float | None) -> str:
    """A p value with its relation sign, as APA prints it.

    Three decimals without the leading zero; ``< .001`` below .001 and ``> .999``
    above .999 (where three decimals would print an impossible 0 or 1).

    Examples
    --------
    >>> apa_p(0.0342), apa_p(2e-9), apa_p(0.99995)
    ('= .034', '< .001', '> .999')
    """
    if _missing(p):
        return EN_DASH
    if p < 0.001:
        return "< .001"
    if p > 0.999:
        return "> .999"
    return "= " + apa_number(p, 3, leading_zero=False)


def apa_p_value(p: float | None) -> str:
    """A p value for a table cell: ``.034``, ``< .001`` or ``> .999`` (no ``=``)."""
    return apa_p(p).removeprefix("= ")


def apa_r(r: float | None, digits: int = 2) -> str:
    """A correlation (or ICC, or share): no leading zero, true minus sign."""
    return apa_number(r, digits, leading_zero=False)


def apa_df(df: float | None) -> str:
    """Degrees of freedom: whole numbers as integers, Satterthwaite df with one decimal."""
    if _missing(df):
        return EN_DASH
    if float(df).is_integer():
        return str(int(df))
    return apa_number(df, 1)


def digits_for(se: float | None, minimum: int = 2, maximum: int = 4) -> int:
    """Decimal places that show a standard error with at least two significant digits.

    APA asks for two decimals by default, but an SE of 0.03 printed as ``0.03`` hides
    most of its information; small effects then get three (or four) decimals.
    """
    if _missing(se) or se <= 0:
        return minimum
    return int(min(maximum, max(minimum, 1 - math.floor(math.log10(se)))))


def lower_first(label: str) -> str:
    """The label in running text: first letter lowered unless it starts an acronym.

    Examples
    --------
    >>> lower_first("Symptom severity"), lower_first("TOP depression")
    ('symptom severity', 'TOP depression')
    """
    if len(label) > 1 and label[0].isupper() and not label[1].isupper():
        return label[0].lower() + label[1:]
    return label


def count_word(n: int, capital: bool = False) -> str:
    """Small whole numbers in words (APA: numbers below 10 in words in running text)."""
    words = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    text = words[n] if 0 <= n < len(words) else str(n)
    return text.capitalize() if capital else text


def plural(n: int, singular: str, plural_form: str | None = None) -> str:
    """``singular`` for 1, else the plural form (``singular + 's'`` by default)."""
    return singular if n == 1 else (plural_form or singular + "s")


# --------------------------------------------------------------------- rich text


@dataclass(frozen=True)
class Ref:
    """The results-file cell a printed number was taken from.

    Attributes
    ----------
    source : str
        File stem under ``results/tables`` (``aim1_fixed_effects``), ``flow`` for
        ``results/data/flow.json``, or ``models/<aim>/<outcome>/<process>`` for a model
        summary.
    key : tuple of (str, str)
        Column-value pairs selecting the row (empty for a JSON model summary).
    column : str
        Column (or dotted JSON path) of the value.
    scale : float
        The printed number is the value times ``scale`` (100 for percentages).
    """

    source: str
    key: tuple[tuple[str, str], ...]
    column: str
    scale: float = 1.0

    def at(self, column: str, scale: float = 1.0) -> Ref:
        """The same row, another column."""
        return Ref(self.source, self.key, column, scale)

    def attributes(self) -> dict[str, str]:
        """HTML ``data-`` attributes describing the reference."""
        attrs = {
            "data-source": self.source,
            "data-key": ";".join(f"{k}={v}" for k, v in self.key),
            "data-column": self.column,
        }
        if self.scale != 1.0:
            attrs["data-scale"] = repr(float(self.scale))
        return attrs


def ref(source: str, column: str = "", **key: Any) -> Ref:
    """Build a :class:`Ref` from keyword row selectors."""
    return Ref(source, tuple((k, str(v)) for k, v in key.items()), column)


STYLES = ("", "i", "b", "bi", "sub", "sup", "code")


@dataclass(frozen=True)
class Run:
    """A piece of text in one style, optionally tied to a results-file cell."""

    text: str
    style: str = ""
    ref: Ref | None = None

    def __post_init__(self) -> None:
        if self.style not in STYLES:
            raise ValueError(f"unknown run style {self.style!r}; use one of {STYLES}")


class Rich(tuple):
    """Formatted text: an immutable sequence of :class:`Run` objects.

    ``+`` concatenates with other rich text or plain strings.
    """

    def __new__(cls, runs: Iterable[Run] = ()) -> Rich:
        return super().__new__(cls, (r for r in runs if r.text))

    def __add__(self, other: Any) -> Rich:  # type: ignore[override]
        return Rich((*self, *rich(other)))

    def __radd__(self, other: Any) -> Rich:
        return Rich((*rich(other), *self))

    @property
    def plain(self) -> str:
        """The text without styles."""
        return "".join(r.text for r in self)

    def __str__(self) -> str:
        return self.plain


def rich(*parts: str | Run | Rich | None) -> Rich:
    """Concatenate strings (plain runs), runs and rich text; ``None`` is skipped."""
    runs: list[Run] = []
    for part in parts:
        if part is None:
            continue
        if isinstance(part, Rich):
            runs.extend(part)
        elif isinstance(part, Run):
            runs.append(part)
        elif isinstance(part, str):
            runs.append(Run(part))
        else:
            raise TypeError(f"cannot make rich text of {type(part).__name__}")
    return Rich(runs)


def it(text: str) -> Rich:
    """Italic text (statistical symbols: *M*, *SD*, *t*, *p*)."""
    return Rich([Run(text, "i")])


def bold(text: str) -> Rich:
    """Bold text."""
    return Rich([Run(text, "b")])


def sub(text: str) -> Rich:
    """Subscript."""
    return Rich([Run(text, "sub")])


def sup(text: str) -> Rich:
    """Superscript."""
    return Rich([Run(text, "sup")])


def code(text: str) -> Rich:
    """Monospaced text (config keys, file names)."""
    return Rich([Run(text, "code")])


def value(text: str, source: Ref | None) -> Rich:
    """A printed number tied to the results-file cell it came from."""
    return Rich([Run(text, "", source)])


def join(parts: Sequence[Rich | str], sep: str = ", ", last: str | None = None) -> Rich:
    """Join rich texts; ``last`` separates the final pair (``", and "``)."""
    out = Rich()
    for i, part in enumerate(parts):
        if i:
            out += last if (last is not None and i == len(parts) - 1) else sep
        out += part
    return out


def series(parts: Sequence[Rich | str]) -> Rich:
    """An English list: ``a``, ``a and b``, ``a, b, and c``."""
    if len(parts) == 2:
        return join(parts, " and ")
    return join(parts, ", ", ", and ")


# ---------------------------------------------------------------------- statistics


def number(x: float, digits: int, source: Ref | None, leading_zero: bool = True) -> Rich:
    """A number in APA format tied to its source cell."""
    return value(apa_number(x, digits, leading_zero), source)


def p_text(p: float, source: Ref | None, symbol: str = "p") -> Rich:
    """``p = .034`` with an italic *p* (``p < .001`` below .001)."""
    return it(symbol) + " " + value(apa_p(p), source)


def ci_text(low: float, high: float, digits: int, src: Ref | None, lz: bool = True) -> Rich:
    """``95% CI [−0.79, −0.42]``."""
    lo = number(low, digits, src.at("ci_low") if src else None, lz)
    hi = number(high, digits, src.at("ci_high") if src else None, lz)
    return rich("95% CI [", lo, ", ", hi, "]")


def t_test_text(row: Mapping[str, Any], src: Ref | None, symbol: Rich | str = "γ") -> Rich:
    """A fixed effect as APA prints it.

    ``γ = −0.60, SE = 0.10, t(254.7) = −6.33, p < .001, 95% CI [−0.79, −0.42]``: the
    estimate and its interval get enough decimals to show the SE with two significant
    digits; df are Satterthwaite's; Greek symbols stay upright (APA 7, 6.46).

    Parameters
    ----------
    row : mapping
        ``estimate, se, df, t, p, ci_low, ci_high``.
    src : Ref or None
        The row's source (its column is replaced per statistic).
    symbol : str or Rich
        Symbol of the estimate.
    """
    d = digits_for(row["se"])
    at = (lambda c: src.at(c)) if src else (lambda c: None)
    return rich(
        symbol,
        " = ",
        number(row["estimate"], d, at("estimate")),
        ", ",
        it("SE"),
        " = ",
        number(row["se"], d, at("se")),
        ", ",
        it("t"),
        "(",
        value(apa_df(row["df"]), at("df")),
        ") = ",
        number(row["t"], 2, at("t")),
        ", ",
        p_text(row["p"], at("p")),
        ", ",
        ci_text(row["ci_low"], row["ci_high"], d, src),
    )


def r_text(row: Mapping[str, Any], src: Ref | None, symbol: Rich | str | None = None) -> Rich:
    """A correlation: ``r = −.22, 95% CI [−.49, .09], p = .162``."""
    at = (lambda c: src.at(c)) if src else (lambda c: None)
    return rich(
        symbol if symbol is not None else it("r"),
        " = ",
        value(apa_r(row["r"]), at("r")),
        ", ",
        ci_text(row["ci_low"], row["ci_high"], 2, src, lz=False),
        ", ",
        p_text(row["p"], at("p")),
    )


def significant(p: float | None) -> bool:
    """Whether a p value is below :data:`ALPHA` (missing p: not significant)."""
    return not _missing(p) and float(p) < ALPHA


# ------------------------------------------------------------------ document model


@dataclass(frozen=True)
class Heading:
    """A heading; ``level`` 1–3 follows APA 7 heading levels."""

    text: Rich
    level: int = 2
    kind: ClassVar[str] = "heading"


@dataclass(frozen=True)
class Paragraph:
    """A paragraph. ``style``: ``body`` (indented), ``equation`` (centred), ``plain``."""

    text: Rich
    style: str = "body"
    kind: ClassVar[str] = "paragraph"


@dataclass(frozen=True)
class Row:
    """A table row. ``panel``/``subpanel`` rows are one cell spanning the table."""

    cells: tuple[Rich, ...]
    kind: str = "data"
    indent: int = 0


@dataclass(frozen=True)
class Table:
    """An APA table.

    Attributes
    ----------
    key : str
        File-name stem of its LaTeX version (``table1_descriptives``).
    number : str or None
        ``"1"``…; ``None`` for unnumbered tables (provenance).
    title : str
        Title in title case (printed in italics under the number).
    columns : tuple of Rich
        Column headings.
    rows : tuple of Row
    note : Rich
        General note (printed after an italic *Note.*); empty for none.
    align : str
        One letter per column: ``l``, ``r`` or ``c``.
    """

    key: str
    number: str | None
    title: str
    columns: tuple[Rich, ...]
    rows: tuple[Row, ...]
    note: Rich = field(default_factory=Rich)
    align: str = ""
    kind: ClassVar[str] = "table"

    def __post_init__(self) -> None:
        if not self.align:
            object.__setattr__(self, "align", "l" + "r" * (len(self.columns) - 1))
        if len(self.align) != len(self.columns):
            raise ValueError(f"table {self.key}: {len(self.columns)} columns, align {self.align}")
        for r in self.rows:
            if r.kind == "data" and len(r.cells) != len(self.columns):
                raise ValueError(f"table {self.key}: row {r.cells[0].plain!r} has wrong width")

    @property
    def label(self) -> str:
        """``Table 1`` (or the title of an unnumbered table)."""
        return f"Table {self.number}" if self.number else self.title


@dataclass(frozen=True)
class Figure:
    """A numbered figure with its PNG image."""

    key: str
    number: str
    title: str
    note: Rich
    png: bytes = field(repr=False)
    width_inches: float = 6.5
    kind: ClassVar[str] = "figure"

    @property
    def data_uri(self) -> str:
        """The image as a ``data:`` URI, so the HTML needs no external file."""
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")

    @property
    def label(self) -> str:
        """``Figure 1``."""
        return f"Figure {self.number}"


@dataclass(frozen=True)
class Code:
    """A preformatted block (the config as run)."""

    text: str
    kind: ClassVar[str] = "code"


Block = Heading | Paragraph | Table | Figure | Code


@dataclass(frozen=True)
class Section:
    """A top-level part of the manuscript, rendered by the partial ``_<key>.html.j2``."""

    key: str
    title: str
    blocks: tuple[Block, ...]
    banner: Rich = field(default_factory=Rich)


@dataclass(frozen=True)
class Manuscript:
    """The whole manuscript in format-neutral form."""

    title: str
    authors: tuple[str, ...]
    description: str
    date: datetime
    sections: tuple[Section, ...]

    def blocks(self) -> Iterator[Block]:
        """Every block in document order."""
        for s in self.sections:
            yield from s.blocks

    def tables(self) -> list[Table]:
        """The numbered tables, in order."""
        return [b for b in self.blocks() if isinstance(b, Table) and b.number]


# ---------------------------------------------------------------------------- HTML

_HTML_TAGS = {"i": ("<em>", "</em>"), "b": ("<strong>", "</strong>")}
_HTML_TAGS |= {"bi": ("<strong><em>", "</em></strong>"), "sub": ("<sub>", "</sub>")}
_HTML_TAGS |= {"sup": ("<sup>", "</sup>"), "code": ("<code>", "</code>"), "": ("", "")}


def html_rich(text: Rich | str) -> Markup:
    """Rich text as escaped HTML; numbers with a source become ``span.stat``."""
    out = []
    for run in rich(text):
        open_, close = _HTML_TAGS[run.style]
        body = str(escape(run.text))
        if run.ref is not None:
            attrs = "".join(f' {k}="{escape(v)}"' for k, v in run.ref.attributes().items())
            body = f'<span class="stat"{attrs}>{body}</span>'
        out.append(open_ + body + close)
    return Markup("".join(out))


def environment(template_dir: str | Path) -> jinja2.Environment:
    """A Jinja2 environment over the workflow's templates with autoescaping on.

    Undefined variables raise, so a template cannot silently print an empty statistic.
    """
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir)),
        autoescape=jinja2.select_autoescape(["html", "j2", "xml"], default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["rich"] = html_rich
    env.filters["num"] = apa_number
    env.filters["p"] = apa_p
    env.filters["r"] = apa_r
    return env


def render(template_dir: str | Path, template: str, context: Mapping[str, Any]) -> str:
    """Render one template with the given context."""
    return environment(template_dir).get_template(template).render(**context)


def render_html(manuscript: Manuscript, template_dir: str | Path) -> str:
    """The manuscript as one self-contained HTML page (``manuscript.html.j2``)."""
    return render(template_dir, "manuscript.html.j2", {"manuscript": manuscript})


# ------------------------------------------------------------------------ Markdown

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~^])")
_MD_STYLE = {"i": ("*", "*"), "b": ("**", "**"), "bi": ("***", "***"), "sub": ("~", "~")}
_MD_STYLE |= {"sup": ("^", "^"), "code": ("`", "`"), "": ("", "")}


def markdown_rich(text: Rich | str) -> str:
    """Rich text as Pandoc Markdown (``~sub~``, ``^sup^``), special characters escaped."""
    out = []
    for run in rich(text):
        open_, close = _MD_STYLE[run.style]
        body = run.text if run.style == "code" else _MD_SPECIAL.sub(r"\\\1", run.text)
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


# -------------------------------------------------------------------------- LaTeX

_TEX_ESCAPE = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    MINUS: "$-$",
    EN_DASH: "--",
    "\u2014": "---",
    "\u00d7": r"$\times$",
    "\u00b1": r"$\pm$",
    "\u00b2": r"\textsuperscript{2}",
    "\u2020": r"\textdagger{}",
    "\u2021": r"\textdaggerdbl{}",
    "\u00a0": "~",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "\u2264": r"$\leq$",
    "\u2265": r"$\geq$",
    "\u2248": r"$\approx$",
    "\u03b3": r"$\gamma$",
    "\u03c4": r"$\tau$",
    "\u03c3": r"$\sigma$",
    "\u03c1": r"$\rho$",
    "\u03c7": r"$\chi$",
    "\u03b2": r"$\beta$",
    "\u2019": "'",
    "\u2018": "`",
    "\u201c": "``",
    "\u201d": "''",
}
_TEX_STYLE = {"i": (r"\textit{", "}"), "b": (r"\textbf{", "}"), "bi": (r"\textbf{\textit{", "}}")}
_TEX_STYLE |= {"sub": (r"\textsubscript{", "}"), "sup": (r"\textsuperscript{", "}")}
_TEX_STYLE |= {"code": (r"\texttt{", "}"), "": ("", "")}


def tex_escape(text: str) -> str:
    """Escape LaTeX specials and map the report's Unicode symbols to LaTeX commands."""
    return "".join(_TEX_ESCAPE.get(c, c) for c in text)


def latex_rich(text: Rich | str) -> str:
    """Rich text as LaTeX."""
    out = []
    for run in rich(text):
        open_, close = _TEX_STYLE[run.style]
        out.append(open_ + tex_escape(run.text) + close)
    return "".join(out)


def render_latex_table(t: Table) -> str:
    """A booktabs table (``\\usepackage{booktabs}``) in APA layout.

    The caption holds the title; the note follows the tabular. Unicode symbols are
    written as LaTeX commands, so the file compiles with pdfLaTeX as well.
    """
    n = len(t.columns)
    lines = [
        f"% {t.label}: {t.title}. Generated by the process-outcome workflow; do not edit.",
        "% Requires \\usepackage{booktabs}.",
        "\\begin{table}[htbp]",
        "\\centering",
        f"\\caption{{{tex_escape(t.title)}}}",
        f"\\label{{tab:{t.key}}}",
        "\\small",
        f"\\begin{{tabular}}{{@{{}}{t.align}@{{}}}}",
        "\\toprule",
        " & ".join(latex_rich(c) for c in t.columns) + " \\\\",
        "\\midrule",
    ]
    for r in t.rows:
        if r.kind == "data":
            cells = [latex_rich(c) for c in r.cells]
            if r.indent:
                cells[0] = f"\\hspace{{{r.indent}em}}" + cells[0]
            lines.append(" & ".join(cells) + " \\\\")
        else:
            body = latex_rich(r.cells[0])
            body = f"\\textit{{{body}}}" if r.kind == "panel" else body
            lines.append(f"\\multicolumn{{{n}}}{{@{{}}l}}{{{body}}} \\\\")
    lines.append("\\bottomrule")
    lines.append("\\end{tabular}")
    if t.note:
        lines += [
            "\\par\\smallskip",
            "\\begin{minipage}{\\linewidth}\\footnotesize",
            "\\textit{Note.} " + latex_rich(t.note),
            "\\end{minipage}",
        ]
    lines.append("\\end{table}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------- Word


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
    header.repeat = True
    for j, c in enumerate(t.columns):
        fill(header.cells[j], c, "c" if j else "l")
        _set_cell_border(header.cells[j], top="12", bottom="6")
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
    doc.add_paragraph(manuscript.title, style="Title")
    if manuscript.authors:
        p = doc.add_paragraph(", ".join(manuscript.authors))
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    for section in manuscript.sections:
        if section.key in ("simulation", "appendix"):
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
