"""Inference for mixed-model fixed effects: Satterthwaite t tests as lmerTest computes them.

lmerTest (3.1) treats ``varpar = (theta, sigma)`` as the variance parameters, takes their
asymptotic covariance as ``A = 2 H^+`` with ``H`` the numerical Hessian of the REML
deviance, and for a contrast ``L`` uses

    df = 2 (L C L')^2 / (g' A g),   g_k = L (dC / d varpar_k) L',

with ``C`` the fixed-effect covariance. Its derivatives come from R's ``numDeriv``
(Richardson extrapolation); :func:`richardson_hessian` and :func:`richardson_jacobian`
follow that algorithm with the same default settings so the df agree closely.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

# scipy.special rather than scipy.stats: the same distribution functions without
# scipy.stats' second of import time in every model job.
from scipy import special

if TYPE_CHECKING:
    from process_outcome.mixed.fit import MixedFit

CONTRAST_COLUMNS = ["estimate", "se", "df", "t", "p", "ci_low", "ci_high"]
COEFFICIENT_COLUMNS = ["term", *CONTRAST_COLUMNS]

# numDeriv's Richardson defaults: eps, zero.tol, r (extrapolation levels), v (step ratio)
_EPS = 1e-4
_ZERO_TOL = math.sqrt(np.finfo(float).eps / 7e-7)
_R = 4
_V = 2.0


def _initial_steps(x: np.ndarray, d: float) -> np.ndarray:
    return np.abs(d * x) + _EPS * (np.abs(x) < _ZERO_TOL)


def _extrapolate(a: np.ndarray) -> np.ndarray:
    """Richardson-extrapolate along axis 0 (successively halved steps) as numDeriv."""
    for m in range(1, _R):
        a = (a[1:] * 4.0**m - a[:-1]) / (4.0**m - 1.0)
    return a[0]


def richardson_jacobian(
    func: Callable[[np.ndarray], np.ndarray], x: np.ndarray, d: float = 1e-4
) -> np.ndarray:
    """Jacobian of a vector function as ``numDeriv::jacobian(method = "Richardson")``.

    Parameters
    ----------
    func : callable
        Maps a parameter vector to a 1-D array.
    x : numpy.ndarray
        Point of differentiation.
    d : float
        Relative initial step (numDeriv's default for ``jacobian`` is 1e-4).

    Returns
    -------
    numpy.ndarray
        Shape ``(len(func(x)), len(x))``.
    """
    x = np.asarray(x, dtype=float)
    h0 = _initial_steps(x, d)
    cols = []
    for i in range(x.size):
        levels = []
        h = h0[i]
        for _ in range(_R):
            e = np.zeros_like(x)
            e[i] = h
            levels.append((np.asarray(func(x + e)) - np.asarray(func(x - e))) / (2.0 * h))
            h /= _V
        cols.append(_extrapolate(np.array(levels)))
    return np.column_stack(cols)


def richardson_hessian(
    func: Callable[[np.ndarray], float], x: np.ndarray, d: float = 0.1
) -> np.ndarray:
    """Hessian of a scalar function as ``numDeriv::hessian`` (``genD``, Richardson).

    Parameters
    ----------
    func : callable
        Scalar function of a parameter vector.
    x : numpy.ndarray
        Point of differentiation.
    d : float
        Relative initial step (numDeriv's default for ``hessian`` is 0.1).

    Returns
    -------
    numpy.ndarray
        Symmetric ``(len(x), len(x))`` matrix.
    """
    x = np.asarray(x, dtype=float)
    n = x.size
    f0 = func(x)
    h0 = _initial_steps(x, d)
    unit = np.eye(n)
    diag = np.empty(n)
    for i in range(n):
        levels = []
        h = h0.copy()
        for _ in range(_R):
            f1 = func(x + unit[i] * h)
            f2 = func(x - unit[i] * h)
            levels.append((f1 - 2.0 * f0 + f2) / h[i] ** 2)
            h = h / _V
        diag[i] = _extrapolate(np.array(levels))
    hess = np.diag(diag)
    for i in range(n):
        for j in range(i):
            levels = []
            h = h0.copy()
            for _ in range(_R):
                step = unit[i] * h + unit[j] * h
                f1 = func(x + step)
                f2 = func(x - step)
                levels.append(
                    (f1 - 2.0 * f0 + f2 - diag[i] * h[i] ** 2 - diag[j] * h[j] ** 2)
                    / (2.0 * h[i] * h[j])
                )
                h = h / _V
            hess[i, j] = hess[j, i] = _extrapolate(np.array(levels))
    return hess


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
    """t statistic, two-sided p and 95% CI from t(df) for an estimate with variance."""
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
    fit: MixedFit, L: Mapping[str, float] | Sequence[float] | np.ndarray
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


def contrast(fit: MixedFit, L: Mapping[str, float] | Sequence[float] | np.ndarray) -> pd.DataFrame:
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


def mixture_lr_test(loglik_slope: float, loglik_intercept: float) -> tuple[float, float]:
    """Likelihood-ratio test of a random slope against a 50:50 chi-square(1, 2) mixture.

    Parameters
    ----------
    loglik_slope, loglik_intercept : float
        REML log-likelihoods of the random-slope model and the random-intercept model
        it nests (same fixed effects and rows).

    Returns
    -------
    tuple of float
        ``LR = max(0, 2 (l_slope - l_intercept))`` and
        ``p = 0.5 P(chi2_1 > LR) + 0.5 P(chi2_2 > LR)``.
    """
    lr = max(0.0, 2.0 * (float(loglik_slope) - float(loglik_intercept)))
    p = 0.5 * special.chdtrc(1, lr) + 0.5 * special.chdtrc(2, lr)
    return lr, float(p)


def fdr_bh(pvalues: Sequence[float] | np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p values (pingouin ``multicomp``, ``fdr_bh``).

    Missing p values stay missing and do not count towards the family size.
    """
    import pingouin as pg

    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        _, adjusted = pg.multicomp(p[ok], method="fdr_bh")
        out[ok] = adjusted
    return out
