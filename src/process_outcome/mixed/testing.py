"""Tests across models: the mixture likelihood-ratio test of a random slope and the
Benjamini-Hochberg false discovery rate."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import special, stats

__all__ = ["fdr_bh", "mixture_lr_test"]


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

    Examples
    --------
    >>> lr, p = mixture_lr_test(-10.0, -12.5)
    >>> lr, round(p, 4)
    (5.0, 0.0537)
    """
    lr = max(0.0, 2.0 * (float(loglik_slope) - float(loglik_intercept)))
    p = 0.5 * special.chdtrc(1, lr) + 0.5 * special.chdtrc(2, lr)
    return lr, float(p)


def fdr_bh(pvalues: Sequence[float] | np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p values (SciPy's ``false_discovery_control``).

    Missing p values stay missing and do not count towards the family size. SciPy rather
    than pingouin's ``multicomp`` (same values, tested): pingouin's import costs each
    model job about a second, SciPy is loaded already.

    Examples
    --------
    >>> fdr_bh([0.01, 0.04, float("nan")])
    array([0.02, 0.04,  nan])
    """
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        out[ok] = stats.false_discovery_control(p[ok], method="bh")
    return out
