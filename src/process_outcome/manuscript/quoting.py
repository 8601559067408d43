"""Quoting results in prose: picking one row with its source reference, counts and
percentages, variance components, and the words for directions and singular fits.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from process_outcome.config import Measure
from process_outcome.document import (
    ALPHA,
    Ref,
    Rich,
    it,
    ref,
    rich,
    sup,
    value,
)
from process_outcome.manuscript.inputs import GROUP, Results

__all__ = [
    "SINGULAR_FOOTNOTE",
    "STARS_NOTE",
    "beneficial",
    "beneficial_sign",
    "count_value",
    "percent_value",
    "select_row",
    "select_table",
    "slope_correlation",
    "stars",
    "truthy",
    "variance_component",
]


# The table notes' legend of :func:`stars`.
STARS_NOTE = rich("*", it("p"), " < .05. **", it("p"), " < .01. ***", it("p"), " < .001.")

# A table note's footnote for rows from singular fits (marked with a superscript a).
SINGULAR_FOOTNOTE = rich(
    sup("a"),
    "Singular fit: a random-effect variance at zero or an intercept–slope correlation at ±1.",
)


def stars(p: float) -> str:
    """Significance stars of a table cell (legend: :data:`STARS_NOTE`).

    Examples
    --------
    >>> stars(0.004), stars(0.2)
    ('**', '')
    """
    return "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < ALPHA else ""


def select_row(df: pd.DataFrame, source: str, **key: Any) -> tuple[dict[str, Any], Ref]:
    """The one row of ``df`` matching ``key`` and its :class:`Ref`."""
    sel = df
    for k, v in key.items():
        sel = sel[sel[k].astype(str) == str(v)]
    if len(sel) != 1:
        raise ValueError(f"{source}: {len(sel)} rows match {key}, expected one")
    return sel.iloc[0].to_dict(), ref(source, **key)


def select_table(results: Results, name: str, **key: Any) -> tuple[dict[str, Any], Ref]:
    """:func:`select_row` on the registered results table ``name``."""
    return select_row(results.table(name), name, **key)


def truthy(v: Any) -> bool:
    # CSV booleans come back as bool, or as the strings "True"/"False" in object columns.
    """Whether a CSV boolean cell is true (bool, or the strings ``True``/``1``)."""
    return str(v).strip().lower() in ("true", "1", "1.0")


def count_value(n: int, source: Ref | None = None) -> Rich:
    """A count with APA's thousands separator."""
    return value(f"{int(n):,}", source)


def percent_value(share: float, source: Ref) -> Rich:
    """A share as a whole-number percentage tied to its source (scaled by 100)."""
    return value(f"{100 * share:.0f}", Ref(source.source, source.key, source.column, 100.0))


def variance_component(model: Mapping[str, Any], name: str) -> float:
    """A model's variance component by lme4 name (0 when absent)."""
    return float(model["fit"]["variance_components"].get(name) or 0.0)


def slope_correlation(model: Mapping[str, Any], slope: str) -> float | None:
    """The therapist intercept–slope correlation of a model (``None`` at a zero variance)."""
    v0 = variance_component(model, f"{GROUP}|(Intercept)|")
    v1 = variance_component(model, f"{GROUP}|{slope}|")
    if v0 <= 0 or v1 <= 0:
        return None
    return variance_component(model, f"{GROUP}|(Intercept)|{slope}") / math.sqrt(v0 * v1)


def beneficial(outcome: Measure, slope: float) -> bool:
    """Whether a slope on this outcome points the beneficial way."""
    return (slope < 0) == (outcome.higher_is == "worse")


def beneficial_sign(outcome: Measure) -> str:
    """``negative`` or ``positive``: the sign of a beneficial slope on this outcome."""
    return "negative" if outcome.higher_is == "worse" else "positive"
