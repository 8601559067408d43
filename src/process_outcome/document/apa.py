"""APA number formatting: fixed digits, true minus signs, p values, counts in words.

>>> apa_number(-0.5)
'\u22120.50'
"""

from __future__ import annotations

import math
from typing import Any

__all__ = [
    "ALPHA",
    "EN_DASH",
    "MINUS",
    "apa_df",
    "apa_interval",
    "apa_number",
    "apa_p",
    "apa_p_value",
    "apa_r",
    "count_word",
    "digits_for",
    "interval_digits",
    "is_missing",
    "lower_first",
    "plural",
    "prints_as_zero",
]


MINUS = "\u2212"
EN_DASH = "\u2013"
ALPHA = 0.05  # two-sided significance level of every test in the report


def is_missing(value: Any) -> bool:
    """Whether a value is absent: ``None`` or a float NaN.

    >>> is_missing(float("nan")), is_missing(0.0)
    (True, False)
    """
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
    if is_missing(value):
        return EN_DASH
    value = float(value)  # numpy scalars and ints alike
    text = f"{abs(value):.{digits}f}"
    if not leading_zero and text.startswith("0."):
        text = text[1:]
    negative = value < 0 and float(text) != 0
    return (MINUS if negative else "") + text


def prints_as_zero(value: float | None, digits: int, leading_zero: bool = True) -> bool:
    """Whether a nonzero number would print as zero (``0.00``) at ``digits`` decimals.

    Examples
    --------
    >>> prints_as_zero(-0.0035, 2), prints_as_zero(-0.0035, 3), prints_as_zero(0.0, 2)
    (True, False, False)
    """
    if is_missing(value) or float(value) == 0:
        return False
    return float(apa_number(value, digits, leading_zero).replace(MINUS, "-")) == 0


def interval_digits(
    values: tuple[float | None, ...] | list[float | None],
    digits: int,
    leading_zero: bool = True,
    maximum: int = 12,
) -> int:
    """Decimals for the bounds of an interval: ``digits``, or more where a nonzero bound
    would otherwise print as zero.

    ``95% CI [-0.42, 0.00]`` beside ``p = .046`` reads as a contradiction; the upper
    bound is really -0.004, so both bounds get three decimals: ``[-0.420, -0.004]``.
    Both bounds of one interval share their decimals. Only an exact zero prints as 0.

    Parameters
    ----------
    values : sequence of float
        The bounds (missing ones are ignored).
    digits : int
        The decimals the interval would get otherwise (those of its estimate).
    leading_zero : bool
        As in :func:`apa_number`.
    maximum : int
        Upper limit of the decimals (a bound below ``10**-maximum`` prints as zero).

    Examples
    --------
    >>> interval_digits([-0.4201, -0.0035], 2), interval_digits([-0.42, -0.08], 2)
    (3, 2)
    """
    need = digits
    for v in values:
        while need < maximum and prints_as_zero(v, need, leading_zero):
            need += 1
    return need


def apa_interval(
    low: float | None, high: float | None, digits: int, leading_zero: bool = True
) -> tuple[str, str]:
    """The two bounds of an interval, no nonzero bound printed as zero.

    Examples
    --------
    >>> apa_interval(-0.4201, -0.0035, 2)
    ('\u22120.420', '\u22120.004')
    >>> apa_interval(-0.2, 0.004, 2, leading_zero=False)
    ('\u2212.200', '.004')
    """
    d = interval_digits([low, high], digits, leading_zero)
    return apa_number(low, d, leading_zero), apa_number(high, d, leading_zero)


def apa_p(p: float | None) -> str:
    """A p value with its relation sign, as APA prints it.

    Three decimals without the leading zero; ``< .001`` below .001 and ``> .999``
    above .999 (where three decimals would print an impossible 0 or 1).

    Examples
    --------
    >>> apa_p(0.0342), apa_p(2e-9), apa_p(0.99995)
    ('= .034', '< .001', '> .999')
    """
    if is_missing(p):
        return EN_DASH
    if p < 0.001:
        return "< .001"
    if p > 0.999:
        return "> .999"
    return "= " + apa_number(p, 3, leading_zero=False)


def apa_p_value(p: float | None) -> str:
    """A p value for a table cell: ``.034``, ``< .001`` or ``> .999`` (no ``=``).

    Examples
    --------
    >>> apa_p_value(0.0342)
    '.034'
    """
    return apa_p(p).removeprefix("= ")


def apa_r(r: float | None, digits: int = 2) -> str:
    """A correlation (or ICC, or share): no leading zero, true minus sign.

    Examples
    --------
    >>> apa_r(-0.219)
    '−.22'
    """
    return apa_number(r, digits, leading_zero=False)


def apa_df(df: float | None) -> str:
    """Degrees of freedom: whole numbers as integers, Satterthwaite df with one decimal.

    Examples
    --------
    >>> apa_df(254.73)
    '254.7'
    """
    if is_missing(df):
        return EN_DASH
    if float(df).is_integer():
        return str(int(df))
    return apa_number(df, 1)


def digits_for(se: float | None, minimum: int = 2, maximum: int = 4) -> int:
    """Decimal places that show a standard error with at least two significant digits.

    APA asks for two decimals by default, but an SE of 0.03 printed as ``0.03`` hides
    most of its information; small effects then get three (or four) decimals.

    Examples
    --------
    >>> digits_for(0.053)
    3
    """
    if is_missing(se) or se <= 0:
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
    """Small whole numbers in words (APA: numbers below 10 in words in running text).

    Examples
    --------
    >>> count_word(3), count_word(12)
    ('three', '12')
    """
    words = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    text = words[n] if 0 <= n < len(words) else str(n)
    return text.capitalize() if capital else text


def plural(n: int, singular: str, plural_form: str | None = None) -> str:
    """``singular`` for 1, else the plural form (``singular + 's'`` by default).

    Examples
    --------
    >>> plural(2, "therapist")
    'therapists'
    """
    return singular if n == 1 else (plural_form or singular + "s")
