"""Rendering the results report with Jinja2, and APA number formatting."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2

MINUS = "\u2212"


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
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "\u2013"
    text = f"{abs(value):.{digits}f}"
    if not leading_zero and text.startswith("0."):
        text = text[1:]
    negative = value < 0 and float(text) != 0
    return (MINUS if negative else "") + text


def apa_p(p: float | None) -> str:
    """A p value in APA style: three decimals, no leading zero, ``< .001`` below .001."""
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "\u2013"
    if p < 0.001:
        return "< .001"
    return "= " + apa_number(p, 3, leading_zero=False)


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
    env.filters["num"] = apa_number
    env.filters["p"] = apa_p
    env.filters["r"] = lambda v, d=2: apa_number(v, d, leading_zero=False)
    return env


def render(template_dir: str | Path, template: str, context: Mapping[str, Any]) -> str:
    """Render one template with the given context."""
    return environment(template_dir).get_template(template).render(**context)
