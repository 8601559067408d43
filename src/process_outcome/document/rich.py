"""Rich text and the statistics sentences built from it.

Text is :class:`Rich`: a sequence of :class:`Run` objects, each with a style (italic
statistic symbols, subscripts) and optionally a :class:`Ref` naming the results-table
cell a printed number came from. The HTML writer exposes refs as ``data-`` attributes,
which lets a test check every quoted statistic against the results tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from process_outcome.document.apa import (
    ALPHA,
    apa_interval,
    apa_number,
    is_missing,
)

__all__ = [
    "STYLES",
    "Ref",
    "Rich",
    "Run",
    "bold",
    "ci_text",
    "code",
    "interval",
    "it",
    "join",
    "number",
    "ref",
    "rich",
    "series",
    "significant",
    "sub",
    "sup",
    "url",
    "value",
]


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


STYLES = ("", "i", "b", "bi", "sub", "sup", "code", "url")


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


def url(text: str) -> Rich:
    """A web address (a reference's DOI): plain text in HTML, Markdown and Word (the
    report links to nothing outside itself), ``\\url`` in LaTeX.

    Examples
    --------
    >>> url("https://doi.org/10.2307/3002019")[0].style
    'url'
    """
    return Rich([Run(text, "url")])


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


def number(x: float, digits: int, source: Ref | None, leading_zero: bool = True) -> Rich:
    """A number in APA format tied to its source cell."""
    return value(apa_number(x, digits, leading_zero), source)


def interval(
    low: float,
    high: float,
    digits: int,
    src: Ref | None,
    lz: bool = True,
    columns: tuple[str, str] = ("ci_low", "ci_high"),
) -> Rich:
    """``[−0.79, −0.42]``: an interval's bounds, tied to their cells (``columns`` of
    ``src``'s row), with more decimals where a nonzero bound would print as zero
    (:func:`~process_outcome.document.apa.apa_interval`).

    Examples
    --------
    >>> interval(-0.42, -0.0035, 2, None).plain
    '[\u22120.420, \u22120.004]'
    """
    lo, hi = apa_interval(low, high, digits, lz)
    return rich(
        "[",
        value(lo, src.at(columns[0]) if src else None),
        ", ",
        value(hi, src.at(columns[1]) if src else None),
        "]",
    )


def ci_text(low: float, high: float, digits: int, src: Ref | None, lz: bool = True) -> Rich:
    """``95% CI [−0.79, −0.42]`` (see :func:`interval`)."""
    return rich("95% CI ", interval(low, high, digits, src, lz))


def significant(p: float | None) -> bool:
    """Whether a p value is below :data:`ALPHA` (missing p: not significant).

    Examples
    --------
    >>> significant(0.03), significant(None)
    (True, False)
    """
    return not is_missing(p) and float(p) < ALPHA
