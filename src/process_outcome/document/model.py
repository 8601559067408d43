"""The format-neutral document model: a :class:`Manuscript` of :class:`Section` of blocks.

The content of the manuscript (which sentence, which table) is built once in this model by
:mod:`process_outcome.manuscript.build`; the writers (:mod:`~process_outcome.document.html`,
:mod:`~process_outcome.document.markdown`, :mod:`~process_outcome.document.latex`,
:mod:`~process_outcome.document.docx`) turn it into each format, so every format carries the
same words and numbers in the same order.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar

from process_outcome.document.rich import Rich

__all__ = [
    "LONG_TABLE_ROWS",
    "Block",
    "Code",
    "Figure",
    "Heading",
    "Manuscript",
    "Paragraph",
    "Row",
    "Section",
    "Table",
]


# A table with more rows than this may break across pages (with its header repeated);
# shorter ones are kept on one page. About 25 single-spaced rows fill half a page, so a
# shorter table moved whole to the next page leaves at most half a page empty.
LONG_TABLE_ROWS = 25


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

    @property
    def long(self) -> bool:
        """Whether the table may break across pages (more than :data:`LONG_TABLE_ROWS`
        rows); every writer then repeats its header on each page."""
        return len(self.rows) > LONG_TABLE_ROWS


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
