"""Effect sizes of a fitted model: Rights & Sterba's variance decomposition (R²),
standardized within- and between-therapist effects, and the conditional ICC.

Rights and Sterba (2019) split the model-implied variance of the outcome into

- ``f1``: the within-therapist variance of the fixed part ``X beta``,
- ``f2``: its between-therapist variance (of the therapists' mean fitted values),
- ``v``: variation from random slopes, ``tr(T Sigma_w)`` with ``T`` the random-effect
  covariance and ``Sigma_w`` the covariance of the random-effect predictors,
- ``m``: variation from random-intercept (mean) differences, ``mu_w' T mu_w`` with
  ``mu_w`` the means of the random-effect predictors (``tau00`` when the random slope's
  predictor is cluster-mean-centred),
- ``sigma2``: the level-1 residual variance,

and each ``R²`` is a component over their sum, so the shares add to 1. With all
level-1 predictors centred within therapists these ``f1`` and ``f2`` are their
``gamma_w' Phi_w gamma_w`` and ``gamma_b' Phi_b gamma_b``; the aim 1 models also hold
the grand-mean-centred baseline, whose contribution is split the same way (its
within- and between-therapist parts), which keeps ``f1 + f2`` equal to the variance of
the fixed part. Variances use the ``n - 1`` denominator as R's ``var`` (r2mlm). The
level-specific measures are ``R²_w = f1 / (f1 + v + sigma2)`` and
``R²_b = f2 / (f2 + m)``.

The conditional ICC is the share of the variance not explained by the fixed effects
that lies between therapists, ``(v + m) / (v + m + sigma2)``: for a random-intercept
model ``tau00 / (tau00 + sigma2)``, the residual intraclass correlation of
Raudenbush and Bryk (2002) (called the adjusted ICC by Nakagawa et al., 2017,
*J. R. Soc. Interface* 14, 20170213).

Standardized effects are ``b * SD(x) / SD(y)``: a process component's coefficient per
SD of that component (the within part over patients, the between part over patients
too, so each therapist counts with its caseload) in SDs of the post-treatment outcome,
all over the model's patients; SEs and CIs are scaled by the same factor (the SDs are
taken as fixed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from process_outcome.mixed.results import INTERCEPT, MixedFit

__all__ = [
    "R2_COLUMNS",
    "STANDARDIZED_COLUMNS",
    "model_rows",
    "r2_decomposition",
    "standardized_effects",
]

COMPONENTS = ("f1", "f2", "v", "m", "sigma2")
R2_COLUMNS = [
    *COMPONENTS,
    "total",
    "r2_f1",
    "r2_f2",
    "r2_v",
    "r2_m",
    "r2_sigma2",
    "r2_fixed",
    "r2_conditional",
    "r2_within",
    "r2_between",
    "conditional_icc",
    "n_obs",
]
STANDARDIZED_COLUMNS = [
    "term",
    "estimate",
    "se",
    "ci_low",
    "ci_high",
    "sd_term",
    "sd_response",
    "std_estimate",
    "std_se",
    "std_ci_low",
    "std_ci_high",
]


def model_rows(data: pd.DataFrame, fit: MixedFit) -> pd.DataFrame:
    """The rows a fit used: response, group and every column of its terms present.

    Raises
    ------
    ValueError
        If their number differs from ``fit.n_obs`` (not the data the model was fitted to).
    """
    columns = {fit.response, fit.group}
    for term in fit.terms:
        if term != INTERCEPT:
            columns.update(term.split(":"))
    if fit.random_slope:
        columns.add(fit.random_slope)
    used = data.loc[data[sorted(columns)].notna().all(axis=1)]
    if len(used) != fit.n_obs:
        raise ValueError(
            f"{len(used)} complete rows for {fit.response} ~ {' + '.join(fit.terms)}, "
            f"but the model was fitted to {fit.n_obs}: not the same data"
        )
    return used


def _column(data: pd.DataFrame, term: str) -> np.ndarray:
    if term == INTERCEPT:
        return np.ones(len(data))
    out = np.ones(len(data))
    for part in term.split(":"):
        out = out * data[part].to_numpy(dtype=float)
    return out


def r2_decomposition(fit: MixedFit, data: pd.DataFrame) -> dict[str, Any]:
    """Rights & Sterba (2019) variance decomposition of a fitted two-level model.

    Parameters
    ----------
    fit : MixedFit
        A random-intercept or random-slope fit.
    data : pandas.DataFrame
        The data it was fitted to (rows with missing values are dropped as the fit did).

    Returns
    -------
    dict
        The :data:`R2_COLUMNS`: components ``f1, f2, v, m, sigma2`` and ``total``;
        shares ``r2_f1 … r2_sigma2`` (summing to 1); ``r2_fixed = (f1 + f2) / total``;
        ``r2_conditional = (f1 + f2 + v + m) / total``; ``r2_within = f1 / (f1 + v +
        sigma2)``; ``r2_between = f2 / (f2 + m)``; ``conditional_icc = (v + m) / (v + m
        + sigma2)``; ``n_obs``.

    Examples
    --------
    >>> from process_outcome.mixed.fit import fit_mixed
    >>> rng = np.random.default_rng(2)
    >>> g = np.repeat(np.arange(30), 6)
    >>> x = rng.normal(size=g.size)
    >>> y = 0.5 * x + rng.normal(0, 0.7, 30)[g] + rng.normal(size=g.size)
    >>> d = pd.DataFrame({"y": y, "x": x, "g": g})
    >>> r2 = r2_decomposition(fit_mixed(d, "y", ["x"], "g"), d)
    >>> round(sum(r2[k] for k in ("r2_f1", "r2_f2", "r2_v", "r2_m", "r2_sigma2")), 12)
    1.0
    """
    used = model_rows(data, fit)
    codes = pd.factorize(used[fit.group], sort=True)[0]
    fitted = np.zeros(len(used))
    for term, beta in zip(fit.terms, fit.fixed_effects, strict=True):
        if term != INTERCEPT:
            fitted += beta * _column(used, term)
    n = len(used)
    cluster_mean = (np.bincount(codes, fitted) / np.bincount(codes))[codes]
    f1 = float(np.sum((fitted - cluster_mean) ** 2) / (n - 1))
    f2 = float(np.sum((cluster_mean - fitted.mean()) ** 2) / (n - 1))
    vc = fit.variance_components
    g = fit.group
    if fit.random_slope is None:
        tau = np.array([[vc[f"{g}|{INTERCEPT}|"]]])
        w = np.ones((n, 1))
    else:
        s = fit.random_slope
        cov = vc[f"{g}|{INTERCEPT}|{s}"]
        tau = np.array([[vc[f"{g}|{INTERCEPT}|"], cov], [cov, vc[f"{g}|{s}|"]]])
        w = np.column_stack([np.ones(n), used[s].to_numpy(dtype=float)])
    sigma_w = np.atleast_2d(np.cov(w.T, ddof=1))
    mu_w = w.mean(axis=0)
    v = float(np.trace(tau @ sigma_w))
    m = float(mu_w @ tau @ mu_w)
    sigma2 = float(vc["Residual||"])
    parts = {"f1": f1, "f2": f2, "v": v, "m": m, "sigma2": sigma2}
    total = sum(parts.values())
    out: dict[str, Any] = dict(parts) | {"total": total}
    out |= {f"r2_{k}": val / total for k, val in parts.items()}
    out |= {
        "r2_fixed": (f1 + f2) / total,
        "r2_conditional": (f1 + f2 + v + m) / total,
        "r2_within": f1 / (f1 + v + sigma2),
        "r2_between": f2 / (f2 + m) if f2 + m > 0 else float("nan"),
        "conditional_icc": (v + m) / (v + m + sigma2),
        "n_obs": n,
    }
    return out


def standardized_effects(fit: MixedFit, data: pd.DataFrame, terms: Sequence[str]) -> pd.DataFrame:
    """Coefficients per SD of their term, in SDs of the response.

    Parameters
    ----------
    fit : MixedFit
        The fitted model.
    data : pandas.DataFrame
        The data it was fitted to.
    terms : sequence of str
        Terms to standardize (e.g. ``alliance_within``, ``alliance_between``).

    Returns
    -------
    pandas.DataFrame
        :data:`STANDARDIZED_COLUMNS`: the raw ``estimate, se, ci_low, ci_high`` (the
        fit's Satterthwaite CI), the SDs over the model's patients and the same four
        multiplied by ``sd_term / sd_response``.

    Examples
    --------
    >>> from process_outcome.mixed.fit import fit_mixed
    >>> rng = np.random.default_rng(3)
    >>> g = np.repeat(np.arange(30), 5)
    >>> d = pd.DataFrame({"g": g, "x": rng.normal(0, 2, g.size)})
    >>> d["y"] = 0.5 * d["x"] + rng.normal(size=g.size)
    >>> s = standardized_effects(fit_mixed(d, "y", ["x"], "g"), d, ["x"])
    >>> bool(0.6 < s["std_estimate"].iloc[0] < 0.8)
    True
    """
    used = model_rows(data, fit)
    sd_y = float(used[fit.response].std(ddof=1))
    coef = fit.coefficients.set_index("term")
    rows = []
    for term in terms:
        row: Mapping[str, Any] = coef.loc[term]
        sd_x = float(np.std(_column(used, term), ddof=1))
        scale = sd_x / sd_y
        rows.append(
            {
                "term": term,
                **{k: float(row[k]) for k in ("estimate", "se", "ci_low", "ci_high")},
                "sd_term": sd_x,
                "sd_response": sd_y,
                **{
                    f"std_{k}": float(row[k]) * scale
                    for k in ("estimate", "se", "ci_low", "ci_high")
                },
            }
        )
    return pd.DataFrame(rows, columns=STANDARDIZED_COLUMNS)
