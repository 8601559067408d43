"""Parametric-bootstrap likelihood-ratio test of a random slope.

The mixture LR test (:func:`process_outcome.mixed.testing.mixture_lr_test`) relies on the
asymptotic 50:50 chi-square(1):chi-square(2) law of the REML LR statistic on the boundary
(Self & Liang, 1987; Stram & Lee, 1994); with few groups that law can be off. The
parametric bootstrap replaces it by simulation: datasets are drawn from the fitted
random-intercept (null) model, both models are refitted by REML to each (the slope model
from the refitted null, with its log-likelihood as the floor, as the workflow fits them),
and ``p = (1 + #{LR* >= LR}) / (1 + B)`` over the ``B`` refits (Davison & Hinkley, 1997;
as ``pbkrtest::PBmodcomp``, which however compares ML fits). Seeded; same inputs, same
bytes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from process_outcome.mixed.fit import fit_mixed
from process_outcome.mixed.reml import used_columns
from process_outcome.mixed.results import INTERCEPT, MixedFit
from process_outcome.mixed.testing import mixture_lr_test

__all__ = ["BootstrapLR", "bootstrap_slope_test", "simulate_null"]


@dataclass(frozen=True)
class BootstrapLR:
    """A parametric-bootstrap LR test.

    Attributes
    ----------
    lr : float
        Observed ``max(0, 2 (l_slope - l_intercept))`` (REML).
    p : float
        ``(1 + #{LR* >= lr}) / (1 + n_sim)`` over the refits that succeeded.
    mc_se : float
        Monte Carlo SE of ``p``: ``sqrt(p (1 - p) / n_sim)``.
    n_sim : int
        Simulated datasets whose two refits both succeeded.
    n_failed : int
        Datasets where a refit raised an error (left out of ``p``).
    seed : int
        Seed of :func:`numpy.random.default_rng`.
    statistics : numpy.ndarray
        The ``LR*`` of each successful refit, in simulation order.
    """

    lr: float
    p: float
    mc_se: float
    n_sim: int
    n_failed: int
    seed: int
    statistics: np.ndarray = field(repr=False)


def _rows(data: pd.DataFrame, fit: MixedFit) -> pd.DataFrame:
    terms = [t for t in fit.terms if t != INTERCEPT]
    columns = used_columns(fit.response, terms, fit.group, fit.random_slope)
    keep = data[fit.group].notna().to_numpy().copy()
    for name in columns:
        if name != fit.group:
            keep &= ~np.isnan(data[name].to_numpy(dtype=float, na_value=np.nan))
    rows = data.loc[keep]
    if len(rows) != fit.n_obs:
        raise ValueError(f"the data have {len(rows)} usable rows, the slope model {fit.n_obs}")
    return rows


def simulate_null(
    rows: pd.DataFrame, nested: MixedFit, rng: np.random.Generator, n_sim: int
) -> np.ndarray:
    """Responses drawn from a fitted random-intercept model, shape ``(n_sim, len(rows))``.

    ``y* = X beta + b_group + e`` with ``b ~ N(0, sigma^2 theta^2)`` per group and
    ``e ~ N(0, sigma^2)``, at the fit's REML estimates.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from process_outcome.mixed.fit import fit_mixed
    >>> d = pd.DataFrame({"g": list("aabbccdd"), "y": [1.0, 2.1, 1.4, 2.0, 0.7, 1.9, 1.2, 2.6]})
    >>> simulate_null(d, fit_mixed(d, "y", [], "g"), np.random.default_rng(1), 3).shape
    (3, 8)
    """
    if nested.random_slope is not None:
        raise ValueError("simulate from the random-intercept (null) model")
    x = np.ones((len(rows), len(nested.terms)))
    for j, term in enumerate(nested.terms[1:], start=1):
        for part in term.split(":"):
            x[:, j] *= rows[part].to_numpy(dtype=float)
    mean = x @ nested.fixed_effects
    _, codes = np.unique(rows[nested.group].to_numpy(), return_inverse=True)
    n_groups = int(codes.max()) + 1
    tau = nested.sigma * float(nested.theta[0])
    out = np.empty((n_sim, len(rows)))
    for k in range(n_sim):
        b = rng.normal(0.0, tau, n_groups)
        out[k] = mean + b[codes] + rng.normal(0.0, nested.sigma, len(rows))
    return out


def bootstrap_slope_test(
    data: pd.DataFrame,
    fit: MixedFit,
    nested: MixedFit,
    n_sim: int = 1000,
    seed: int = 20261206,
    terms: Sequence[str] | None = None,
) -> BootstrapLR:
    """Parametric-bootstrap REML LR test of the random slope of ``fit`` against ``nested``.

    Parameters
    ----------
    data : pandas.DataFrame
        The rows the models were fitted to (rows missing a used column are dropped).
    fit : MixedFit
        The random-slope model.
    nested : MixedFit
        The random-intercept model with the same fixed effects, on the same rows.
    n_sim : int
        Simulated datasets.
    seed : int
        Seed (explicit: same inputs, same result).
    terms : sequence of str, optional
        Fixed terms for the refits (default ``fit.terms``).

    Returns
    -------
    BootstrapLR

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from process_outcome.mixed.fit import fit_mixed
    >>> rng = np.random.default_rng(3)
    >>> g = np.repeat(np.arange(12), 6)
    >>> x = rng.normal(size=g.size)
    >>> y = rng.normal(size=12)[g] + x + rng.normal(size=g.size)
    >>> d = pd.DataFrame({"g": g, "x": x, "y": y})
    >>> h0 = fit_mixed(d, "y", ["x"], "g")
    >>> h1 = fit_mixed(d, "y", ["x"], "g", "x", start=h0, min_loglik=h0.loglik)
    >>> res = bootstrap_slope_test(d, h1, h0, n_sim=19, seed=1)
    >>> res.n_sim, 0 < res.p <= 1
    (19, True)
    """
    if fit.random_slope is None:
        raise ValueError("the first model has no random slope to test")
    if nested.n_obs != fit.n_obs:
        raise ValueError(
            f"the models use {fit.n_obs} and {nested.n_obs} rows: fit both to the same"
        )
    fixed = [t for t in (terms if terms is not None else fit.terms) if t != INTERCEPT]
    rows = _rows(data, fit).copy()
    lr, _ = mixture_lr_test(fit.loglik, nested.loglik)
    rng = np.random.default_rng(seed)
    draws = simulate_null(rows, nested, rng, n_sim)
    stats = []
    failed = 0
    for y in draws:
        rows[fit.response] = y
        try:
            h0 = fit_mixed(rows, fit.response, fixed, fit.group)
            h1 = fit_mixed(
                rows,
                fit.response,
                fixed,
                fit.group,
                fit.random_slope,
                start=h0,
                min_loglik=h0.loglik,
            )
        except (ValueError, np.linalg.LinAlgError, ArithmeticError):
            failed += 1
            continue
        stats.append(mixture_lr_test(h1.loglik, h0.loglik)[0])
    values = np.asarray(stats, dtype=float)
    b = values.size
    p = (1.0 + float(np.sum(values >= lr))) / (1.0 + b) if b else math.nan
    mc_se = math.sqrt(p * (1.0 - p) / b) if b else math.nan
    return BootstrapLR(
        lr=float(lr), p=p, mc_se=mc_se, n_sim=b, n_failed=failed, seed=seed, statistics=values
    )
