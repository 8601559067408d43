"""Inference for mixed-model fixed effects: Satterthwaite t tests as lmerTest computes them.

lmerTest (3.1) treats ``varpar = (theta, sigma)`` as the variance parameters, takes their
asymptotic covariance as ``A = 2 H^+`` with ``H`` the numerical Hessian of the REML
deviance, and for a contrast ``L`` uses

    df = 2 (L C L')^2 / (g' A g),   g_k = L (dC / d varpar_k) L',

with ``C`` the fixed-effect covariance. lmerTest takes ``H`` and ``dC / d varpar`` from
R's ``numDeriv``; the engine computes both exactly (:mod:`process_outcome.mixed.varpar`),
which agrees with lmerTest to about 1e-8 on well-scaled fits and, unlike numerical steps,
does not depend on the units of the predictors. Kenward-Roger is
:mod:`process_outcome.mixed.kenward_roger`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Protocol

import numpy as np
import pandas as pd
from scipy import special

__all__ = [
    "COEFFICIENT_COLUMNS",
    "CONTRAST_COLUMNS",
    "FixedEffectsFit",
    "coefficient_table",
    "contrast",
    "contrast_vector",
    "satterthwaite",
    "t_test_row",
]


CONTRAST_COLUMNS = ["estimate", "se", "df", "t", "p", "ci_low", "ci_high"]
COEFFICIENT_COLUMNS = ["term", *CONTRAST_COLUMNS]


class FixedEffectsFit(Protocol):
    """What a contrast needs of a fit (:class:`process_outcome.mixed.results.MixedFit` has it).

    A structural type rather than an import of ``MixedFit``, which itself builds its
    coefficient table here: the engine's modules stay free of import cycles.
    """

    terms: tuple[str, ...]
    fixed_effects: np.ndarray
    vcov: np.ndarray
    vcov_jacobian: np.ndarray
    varpar_vcov: np.ndarray


def satterthwaite(
    L: np.ndarray, vcov: np.ndarray, vcov_jacobian: np.ndarray, varpar_vcov: np.ndarray
) -> tuple[float, float]:
    """Variance and Satterthwaite df of the contrast ``L beta`` (lmerTest ``contest1D``).

    Parameters
    ----------
    L : numpy.ndarray
        Contrast weights, one per fixed effect.
    vcov : numpy.ndarray
        Fixed-effect covariance ``C``.
    vcov_jacobian : numpy.ndarray
        ``dC / d varpar_k`` stacked along axis 0.
    varpar_vcov : numpy.ndarray
        Asymptotic covariance ``A`` of the variance parameters.

    Returns
    -------
    tuple of float
        ``(L C L', df)``; df is NaN when the denominator is not positive.
    """
    L = np.asarray(L, dtype=float)
    var = float(L @ vcov @ L)
    grad = np.einsum("a,kab,b->k", L, vcov_jacobian, L)
    denom = float(grad @ varpar_vcov @ grad)
    df = 2.0 * var**2 / denom if denom > 0 else math.nan
    return var, df


def t_test_row(estimate: float, var: float, df: float) -> dict[str, float]:
    """t statistic, two-sided p and 95% CI from t(df) for an estimate with variance.

    Examples
    --------
    >>> row = t_test_row(1.0, 0.25, 20.0)
    >>> row["se"], row["t"], round(row["p"], 4)
    (0.5, 2.0, 0.0593)
    """
    se = math.sqrt(var) if var >= 0 else math.nan
    t = estimate / se if se > 0 else math.nan
    p = float(2.0 * special.stdtr(df, -abs(t))) if np.isfinite(df) else math.nan
    half = float(special.stdtrit(df, 0.975)) * se if np.isfinite(df) else math.nan
    return {
        "estimate": float(estimate),
        "se": se,
        "df": float(df),
        "t": t,
        "p": p,
        "ci_low": estimate - half,
        "ci_high": estimate + half,
    }


def coefficient_table(
    terms: Sequence[str],
    beta: np.ndarray,
    vcov: np.ndarray,
    vcov_jacobian: np.ndarray,
    varpar_vcov: np.ndarray,
) -> pd.DataFrame:
    """Satterthwaite t tests of every fixed effect (lmerTest's ``summary`` table).

    Returns
    -------
    pandas.DataFrame
        Columns ``term, estimate, se, df, t, p, ci_low, ci_high``.
    """
    rows = []
    for i, term in enumerate(terms):
        L = np.zeros(len(terms))
        L[i] = 1.0
        var, df = satterthwaite(L, vcov, vcov_jacobian, varpar_vcov)
        rows.append({"term": term, **t_test_row(float(beta[i]), var, df)})
    return pd.DataFrame(rows, columns=COEFFICIENT_COLUMNS)


def contrast_vector(
    fit: FixedEffectsFit, L: Mapping[str, float] | Sequence[float] | np.ndarray
) -> np.ndarray:
    """Weights over ``fit.terms`` from an array or a ``{term: weight}`` mapping."""
    if isinstance(L, Mapping):
        unknown = set(L) - set(fit.terms)
        if unknown:
            raise KeyError(f"terms not in the model: {sorted(unknown)}")
        return np.array([float(L.get(t, 0.0)) for t in fit.terms])
    vec = np.asarray(L, dtype=float).ravel()
    if vec.size != len(fit.terms):
        raise ValueError(f"contrast has {vec.size} weights; the model has {len(fit.terms)} terms")
    return vec


def contrast(
    fit: FixedEffectsFit, L: Mapping[str, float] | Sequence[float] | np.ndarray
) -> pd.DataFrame:
    """Satterthwaite t test of one linear combination of fixed effects.

    Parameters
    ----------
    fit : MixedFit
        A fitted model.
    L : mapping or array-like
        Weights, either one per term of ``fit.terms`` or ``{term: weight}`` (missing
        terms weigh 0). E.g. the simple slope of ``x`` at ``m = 1`` is
        ``{"x": 1, "x:m": 1}``.

    Returns
    -------
    pandas.DataFrame
        One row: ``estimate, se, df, t, p, ci_low, ci_high`` (95% CI from t(df)).
    """
    vec = contrast_vector(fit, L)
    estimate = float(vec @ fit.fixed_effects)
    var, df = satterthwaite(vec, fit.vcov, fit.vcov_jacobian, fit.varpar_vcov)
    return pd.DataFrame([t_test_row(estimate, var, df)], columns=CONTRAST_COLUMNS)
