"""Fixed-effect t tests of a fit by a chosen denominator-df method.

``ddf="Satterthwaite"`` is lmerTest's default (:mod:`~.satterthwaite`, with exact
derivatives, :mod:`~.varpar`); ``ddf="KR"`` is Kenward-Roger (:mod:`~.kenward_roger`):
its SE comes from the adjusted covariance, its df from pbkrtest's ``Lb_ddf``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from process_outcome.mixed.kenward_roger import kr_coefficient_table, kr_contrast
from process_outcome.mixed.satterthwaite import contrast

__all__ = ["DDF_METHODS", "fixed_contrast", "fixed_effects_table"]

DDF_METHODS = ("Satterthwaite", "KR")


def _check(ddf: str) -> str:
    aliases = {"kenward-roger": "KR", "kr": "KR", "satterthwaite": "Satterthwaite"}
    method = aliases.get(str(ddf).lower())
    if method is None:
        raise ValueError(f"ddf must be one of {DDF_METHODS}, not {ddf!r}")
    return method


def fixed_effects_table(fit, ddf: str = "Satterthwaite") -> pd.DataFrame:
    """t tests of every fixed effect of ``fit`` (lmerTest's ``summary(ddf = ...)``).

    Parameters
    ----------
    fit : MixedFit
        A REML fit.
    ddf : {"Satterthwaite", "KR"}
        Denominator df method (``"Kenward-Roger"`` is accepted for ``"KR"``).

    Returns
    -------
    pandas.DataFrame
        Columns ``term, estimate, se, df, t, p, ci_low, ci_high``.

    Examples
    --------
    >>> import pandas as pd
    >>> from process_outcome.mixed.fit import fit_mixed
    >>> d = pd.DataFrame({"g": list("aabbccdd"), "x": [0, 1] * 4,
    ...                   "y": [1.0, 2.1, 1.4, 2.0, 0.7, 1.9, 1.2, 2.6]})
    >>> fit = fit_mixed(d, "y", ["x"], "g")
    >>> round(float(fixed_effects_table(fit, ddf="KR").loc[1, "df"]), 3)
    3.0
    """
    if _check(ddf) == "KR":
        return kr_coefficient_table(fit)
    return fit.coefficients.copy()


def fixed_contrast(
    fit, L: Mapping[str, float] | Sequence[float] | np.ndarray, ddf: str = "Satterthwaite"
) -> pd.DataFrame:
    """t test of ``L beta`` (lmerTest's ``contest(ddf = ...)``), one row.

    Parameters
    ----------
    fit : MixedFit
        A REML fit.
    L : mapping or array-like
        Weights per term, or ``{term: weight}``.
    ddf : {"Satterthwaite", "KR"}
        Denominator df method.

    Returns
    -------
    pandas.DataFrame
        ``estimate, se, df, t, p, ci_low, ci_high``.
    """
    if _check(ddf) == "KR":
        return kr_contrast(fit, L)
    return contrast(fit, L)
