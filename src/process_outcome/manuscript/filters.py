"""The APA filters of the manuscript templates: a results cell in, pandoc Markdown out.

Every number a template prints goes through one of these filters; each keeps the cell it
came from (a ``.stat`` span naming file, row and column), so a test traces every printed
number back to its results file. The names follow the statistic, as ``apa_print`` does:

==============  ================================================  ========================
filter          prints                                            applied to
==============  ================================================  ========================
``num(d)``      ``−0.56`` (``d`` decimals, true minus)            a cell
``int``         ``1,376``                                         a cell
``pct``         ``53%`` (a share 0–1)                             a cell
``r``           ``−.33`` (no leading zero)                        a cell
``p``           ``p = .034``, ``p < .001``                        a cell
``p_fdr``       ``pFDR = .076`` (FDR-adjusted, labelled so)       a cell
``ci(d)``       ``95% CI [−0.77, −0.35]`` (bounds never print 0)  a row (``ci_low``, …)
``fixed``       ``γ = −0.56, SE = 0.11, t(165.2) = −5.22, p …``   a fixed-effect row
``corr``        ``r = −.33, 95% CI [−.45, −.20], p < .001``       a correlation row
``est_ci``      ``−0.56, 95% CI [−0.77, −0.35]``                  a row, same decimals
``series``      ``a, b, and c``                                   a list of strings
``lcfirst``     ``working alliance``                              a label
==============  ================================================  ========================

``count_word`` (``six``; ``capital=True``: ``Six``), and the tests ``significant``
(``row is significant``: *p* below .05; a row's ``p``, or a cell) and ``significant_fdr``
(its ``p_fdr``). A singular fit's tests are reported, never read as findings: the templates say so.

>>> from process_outcome.manuscript.context import Row
>>> row = Row({"estimate": -0.5604, "se": 0.1068, "df": 165.18, "t": -5.22, "p": 5e-7,
...            "ci_low": -0.7686, "ci_high": -0.3468}, "aim1_fixed_effects", {"term": "x"})
>>> print(fixed(row))  # doctest: +ELLIPSIS
γ = [−0.56]{.stat data-source="aim1_fixed_effects" data-key="term=x" data-column="estimate"}...
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from process_outcome.document import (
    apa_df,
    apa_interval,
    apa_number,
    apa_p,
    apa_r,
    count_word,
    digits_for,
    is_missing,
    lower_first,
    markdown_rich,
    value,
)
from process_outcome.document.apa import ALPHA
from process_outcome.manuscript.context import Cell, Row

__all__ = ["FILTERS", "TESTS"]


def _span(text: str, cell: Cell) -> str:
    return markdown_rich(value(text, cell.ref))


def _cell(x: Any) -> Cell:
    if isinstance(x, Cell):
        return x
    raise TypeError(f"a filter got {type(x).__name__} {x!r}, not a results cell")


def num(x: Cell, digits: int = 2) -> str:
    """A number with ``digits`` decimals."""
    c = _cell(x)
    return _span(apa_number(c.value, digits), c)


def integer(x: Cell) -> str:
    """A count, with a thousands separator."""
    c = _cell(x)
    return _span(f"{round(float(c.value)):,}", c)


def pct(x: Cell, digits: int = 0) -> str:
    """A share (0–1) as a percentage; ``> 99%`` rather than a rounded 100%."""
    c = _cell(x)
    share = float(c.value) * 100
    ref = c.ref.at(c.ref.column, 100.0) if c.ref else None
    if 99 < share < 100 and round(share, digits) >= 100:
        return "> " + markdown_rich(value("99", ref)) + "%"
    return markdown_rich(value(apa_number(share, digits), ref)) + "%"


def r(x: Cell, digits: int = 2) -> str:
    """A correlation (or ICC): no leading zero."""
    c = _cell(x)
    return _span(apa_r(c.value, digits), c)


def p(x: Cell | Row) -> str:
    """``*p* = .034`` (``< .001`` below .001)."""
    c = x.p if isinstance(x, Row) else _cell(x)
    return f"*p* {_span(apa_p(c.value), c)}"


def p_fdr(x: Cell | Row) -> str:
    """An FDR-adjusted *p*, labelled *p*~FDR~."""
    c = x.p_fdr if isinstance(x, Row) else _cell(x)
    return f"*p*~FDR~ {_span(apa_p(c.value), c)}"


def _bounds(row: Row, digits: int, lz: bool, low: str, high: str) -> tuple[str, str, int]:
    lo, hi = apa_interval(row[low].value, row[high].value, digits, lz)
    shown = len(lo.split(".")[1]) if "." in lo else digits
    return lo, hi, max(shown, digits)


def ci(
    row: Row,
    digits: int | None = None,
    low: str = "ci_low",
    high: str = "ci_high",
    lz: bool = True,
    label: str = "95% CI",
) -> str:
    """``95% CI [lo, hi]``; a bound that would print as zero gets more decimals, a bound
    at the boundary (an SD's 0) prints with the same decimals as the other."""
    d = digits if digits is not None else digits_for(row.se.value)
    lo, hi, _ = _bounds(row, d, lz, low, high)
    return f"{label} [{_span(lo, row[low])}, {_span(hi, row[high])}]"


def est_ci(row: Row, column: str = "estimate", digits: int | None = None, **kw: Any) -> str:
    """An estimate and its CI with the same decimals: ``−0.56, 95% CI [−0.77, −0.35]``."""
    d = digits if digits is not None else digits_for(row.se.value)
    _, _, d = _bounds(
        row, d, kw.get("lz", True), kw.get("low", "ci_low"), kw.get("high", "ci_high")
    )
    return f"{num(row[column], d)}, {ci(row, d, **kw)}"


def fixed(row: Row, symbol: str = "γ") -> str:
    """A fixed effect: estimate, *SE*, Satterthwaite *t*(df), *p*, CI; the estimate, SE
    and CI share their decimals (two significant digits of the SE, more where a bound
    would otherwise print as zero)."""
    _, _, d = _bounds(row, digits_for(row.se.value), True, "ci_low", "ci_high")
    df = row.get("df")
    # Without finite df (a large-sample Wald test, as in the latent-mean models): z.
    finite = not is_missing(df) and math.isfinite(float(df))
    stat = f"*t*({_span(apa_df(row.df.value), row.df)})" if finite else "*z*"
    return (
        f"{symbol} = {num(row.estimate, d)}, *SE* = {num(row.se, d)}, "
        f"{stat} = {num(row.t if 't' in row else row.z, 2)}, {p(row)}, {ci(row, d)}"
    )


def corr(row: Row, symbol: str = "*r*") -> str:
    """A correlation with its CI and *p*."""
    return f"{symbol} = {r(row.r)}, {ci(row, 2, lz=False)}, {p(row)}"


def series(items: Sequence[Any], last: str = "and") -> str:
    """An English list: ``a``, ``a and b``, ``a, b, and c``."""
    items = [str(i) for i in items]
    if len(items) <= 2:
        return f" {last} ".join(items)
    return ", ".join(items[:-1]) + f", {last} " + items[-1]


def significant(x: Cell | Row | None) -> bool:
    """Whether *p* is below .05 (a missing *p* is not significant)."""
    if isinstance(x, Row):
        x = x.p
    v = x.value if isinstance(x, Cell) else x
    return not is_missing(v) and float(v) < ALPHA


def count(x: Cell | int, capital: bool = False) -> str:
    """A count in running text: below 10 in words (APA), from 10 on as digits traced to
    the rows it counts."""
    n = int(x.value) if isinstance(x, Cell) else int(x)
    if n < 10 or not isinstance(x, Cell):
        return count_word(n, capital)
    return _span(str(n), x)


def significant_fdr(x: Row) -> bool:
    """Whether the FDR-adjusted *p* of a row is below .05."""
    return significant(x.p_fdr)


FILTERS = {
    "num": num,
    "int": integer,
    "pct": pct,
    "r": r,
    "p": p,
    "p_fdr": p_fdr,
    "ci": ci,
    "est_ci": est_ci,
    "fixed": fixed,
    "corr": corr,
    "series": series,
    "lcfirst": lower_first,
    "count_word": count,
}
TESTS = {"significant": significant, "significant_fdr": significant_fdr}
