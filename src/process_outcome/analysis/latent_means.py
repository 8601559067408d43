"""Between-therapist effects corrected for the unreliability of therapists' observed means.

The aim 1 model enters each process as ``p_within = x_ij - xbar_j`` and
``p_between = xbar_j - xbar``, the *observed* mean of therapist j's patients. With
few patients per therapist, ``xbar_j`` holds the therapist's true (latent) mean plus
the sampling error of its patients, so the between coefficient estimates
``lambda * beta_B + (1 - lambda) * beta_W`` rather than ``beta_B`` (lambda = ICC(2),
the reliability of the observed mean): it is pulled towards the within coefficient
(Lüdtke et al., 2008, Equation 8).

This module fits the **multilevel latent covariate model** of Lüdtke et al. (2008)
by maximum likelihood: the therapist mean of each process is a latent variable
(its random intercept), and the outcome is regressed on the latent within and
between components. For processes ``x`` (p of them), outcome ``y`` and patient-level
covariates ``z`` (the baseline, configured covariates; k of them)::

    x_ij = mu_x + D z_ij + u_j + r_ij                  u_j ~ N(0, T_x), r_ij ~ N(0, S_x)
    xB_j = mu_x + D zbar_j + u_j                       (latent therapist mean)
    xW_ij = x_ij - xB_j = D (z_ij - zbar_j) + r_ij     (latent within part)
    y_ij = a + g'z_ij + beta_W' xW_ij + beta_B' xB_j + v_j + e_ij

with ``v_j ~ N(0, tau_y)`` and ``e_ij ~ N(0, sigma2)``. It is the manifest aim 1 model
with the latent therapist mean in place of the observed one: the covariates keep one
coefficient ``g`` for both levels, as in aim 1, and the observed mean is
``xbar_j = xB_j + rbar_j``. Conditional on the covariates, ``(x, y)`` is a
multivariate random-intercept model whose within-therapist covariance
``Sigma_W = [[S_x, S_x beta_W], [., beta_W' S_x beta_W + sigma2]]`` and
between-therapist covariance ``Sigma_B`` (the same with ``T_x, beta_B, tau_y``) are
structured by the coefficients; its exact likelihood splits into the pooled
within-therapist cross-products (``N - J`` degrees of freedom, covariance ``Sigma_W``)
and the therapist means (covariance ``Sigma_B + Sigma_W / n_j``), so unequal caseloads
and therapists with one patient are handled exactly. The likelihood is maximised
with BFGS on standardized data; standard errors come from the observed information
(the inverse of the numerical Hessian of the log-likelihood, Richardson
extrapolation); tests are Wald z tests. The contextual effect is
``beta_B - beta_W`` with its SE from the same covariance. Without covariates this is
exactly the model ``y ~ x`` at both levels of a two-level SEM (Mplus ``TWOLEVEL``,
lavaan ``level:``); ``tests/r/make_latent_reference.R`` checks it against lavaan.

Normality of the latent and residual terms is assumed. ``benchmarks/bench_latent_means.py``
(300 simulated studies per design, caseloads 1-9, ICC(1) .08, true within -0.45 and
between 0.15) measured: with 150 therapists the latent between estimate averaged 0.146
(Monte Carlo SE 0.013; observed means: -0.264) and its 95% CI covered the truth in
93.3%; with 42 therapists it averaged 0.239 (MC SE 0.032; observed means -0.263), a
small-sample bias far below the observed-mean one, with 94.7% coverage.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, special

from process_outcome.files import json_float, json_records
from process_outcome.mixed.derivatives import richardson_hessian

__all__ = [
    "LATENT_COLUMNS",
    "LatentCovariateFit",
    "attenuated_between",
    "fit_latent_covariate",
    "simulate_latent_study",
]

LATENT_COLUMNS = ["process", "part", "estimate", "se", "z", "p", "ci_low", "ci_high"]
PARTS = ("within", "between", "contextual")
# A latent between-therapist SD below this share of the within SD (standardized data)
# means the therapist means carry no information: the between effect is not identified.
BOUNDARY_TOL = 1e-3
DECREMENT_TOL = 1e-6  # log-likelihood a quadratic model may still promise at an optimum
NEWTON_STEPS = 8
MAX_ITER = 2000


@dataclass(frozen=True, eq=False)
class LatentCovariateFit:
    """A maximum-likelihood fit of the multilevel latent covariate model.

    Attributes
    ----------
    response : str
        Outcome column.
    processes, covariates : tuple of str
        Process columns (raw patient means, not split) and covariate columns.
    effects : pandas.DataFrame
        ``process, part, estimate, se, z, p, ci_low, ci_high`` for parts ``within``,
        ``between`` (latent therapist mean) and ``contextual`` (between - within);
        Wald z tests, 95% CIs from the normal distribution.
    tau_x, sigma2_x : dict of str to float
        Between-therapist (latent mean) and within-therapist variance of each process,
        adjusted for the covariates.
    loglik : float
        Maximised log-likelihood of the outcome and processes given the covariates.
    converged : bool
        A maximum was confirmed: the Newton decrement (log-likelihood a quadratic model
        still promises) is below ``DECREMENT_TOL`` and the Hessian is positive definite.
    boundary : bool
        A latent between-therapist variance of a process was estimated at (near) zero:
        the between effect is then not identified.
    n_obs, n_groups : int
        Patients and therapists used.
    vcov : numpy.ndarray
        Covariance of ``(beta_W, beta_B)`` on the original scale (``2p x 2p``).
    sigma_within, sigma_between : numpy.ndarray
        Implied within- and between-therapist covariance of ``(x_1 … x_p, y)`` given the
        covariates, original scale.
    mean_intercept, mean_within, mean_between : numpy.ndarray
        Implied mean of ``(x, y)``: ``mean_intercept + mean_within @ (z_ij - zbar_j) +
        mean_between @ zbar_j`` (shapes ``q``, ``q x k``, ``q x k``).
    problems : tuple of str
        What went wrong, in words (empty when nothing did).
    """

    response: str
    processes: tuple[str, ...]
    covariates: tuple[str, ...]
    effects: pd.DataFrame
    tau_x: dict[str, float]
    sigma2_x: dict[str, float]
    loglik: float
    converged: bool
    boundary: bool
    n_obs: int
    n_groups: int
    vcov: np.ndarray = field(repr=False, default_factory=lambda: np.empty((0, 0)))
    sigma_within: np.ndarray = field(repr=False, default_factory=lambda: np.empty((0, 0)))
    sigma_between: np.ndarray = field(repr=False, default_factory=lambda: np.empty((0, 0)))
    mean_intercept: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0))
    mean_within: np.ndarray = field(repr=False, default_factory=lambda: np.empty((0, 0)))
    mean_between: np.ndarray = field(repr=False, default_factory=lambda: np.empty((0, 0)))
    problems: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable summary."""
        return {
            "method": "multilevel latent covariate model (Lüdtke et al., 2008), ML",
            "response": self.response,
            "processes": list(self.processes),
            "covariates": list(self.covariates),
            "effects": json_records(self.effects),
            "tau_x": {k: json_float(v) for k, v in self.tau_x.items()},
            "sigma2_x": {k: json_float(v) for k, v in self.sigma2_x.items()},
            "loglik": json_float(self.loglik),
            "converged": bool(self.converged),
            "boundary": bool(self.boundary),
            "n_obs": int(self.n_obs),
            "n_groups": int(self.n_groups),
            "problems": list(self.problems),
        }


def attenuated_between(beta_within: float, beta_between: float, reliability: float) -> float:
    """The value an observed-mean between coefficient estimates (Lüdtke et al., 2008).

    ``reliability * beta_between + (1 - reliability) * beta_within``, with
    ``reliability`` the ICC(2) of the therapist means (balanced caseloads).

    Examples
    --------
    >>> round(attenuated_between(-0.45, 0.20, 0.28), 3)
    -0.268
    """
    return reliability * beta_between + (1.0 - reliability) * beta_within


def simulate_latent_study(
    rng: np.random.Generator,
    n_therapists: int = 42,
    max_caseload: int = 9,
    icc1: float = 0.08,
    beta_within: float = -0.45,
    beta_between: float = 0.15,
    baseline_slope: float = 0.5,
    process_on_baseline: float = -0.3,
) -> pd.DataFrame:
    """A study drawn from the latent covariate model, for checks of the correction.

    Caseloads are uniform on ``1 … max_caseload``; the process ``x`` has unit total
    variance given the baseline, ``icc1`` of it between therapists; the baseline ``z``
    is standard normal; ``y = baseline_slope z + beta_within xW + beta_between xB +
    v_j + e`` with ``v_j ~ N(0, 0.1)`` and ``e ~ N(0, 0.6)`` (the model of this
    module). The observed split is added as aim 1 makes it.

    Returns
    -------
    pandas.DataFrame
        ``therapist, x, x_within, x_between, z, y`` (``z`` grand-mean centred).

    Examples
    --------
    >>> d = simulate_latent_study(np.random.default_rng(0), n_therapists=5)
    >>> list(d.columns)
    ['therapist', 'x', 'x_within', 'x_between', 'z', 'y']
    """
    caseload = rng.integers(1, max_caseload + 1, n_therapists)
    g = np.repeat(np.arange(n_therapists), caseload)
    z = rng.normal(0.0, 1.0, g.size)
    z = z - z.mean()
    zbar = (np.bincount(g, z) / caseload)[g]
    latent_mean = 3.0 + process_on_baseline * zbar + rng.normal(0, np.sqrt(icc1), n_therapists)[g]
    within = process_on_baseline * (z - zbar) + rng.normal(0, np.sqrt(1 - icc1), g.size)
    x = latent_mean + within
    y = (
        baseline_slope * z
        + beta_within * within
        + beta_between * latent_mean
        + rng.normal(0, np.sqrt(0.1), n_therapists)[g]
        + rng.normal(0, np.sqrt(0.6), g.size)
    )
    xbar = (np.bincount(g, x) / caseload)[g]
    return pd.DataFrame(
        {"therapist": g, "x": x, "x_within": x - xbar, "x_between": xbar - x.mean(), "z": z, "y": y}
    )


@dataclass(frozen=True)
class _Data:
    """Sufficient statistics of standardized data (pooled within SSCP, cluster means)."""

    n: np.ndarray  # caseload per cluster (J)
    vbar: np.ndarray  # J x q cluster means of (x, y)
    zbar: np.ndarray  # J x k cluster means of z
    wvv: np.ndarray  # q x q pooled within cross-products of (x, y)
    wvz: np.ndarray  # q x k
    wzz: np.ndarray  # k x k
    p: int
    k: int
    # weight of the boundary-avoiding log-prior on the latent between SDs (0: ML)
    prior: float = 0.0


def _sufficient(v: np.ndarray, z: np.ndarray, codes: np.ndarray) -> _Data:
    n_groups = int(codes.max()) + 1
    n = np.bincount(codes, minlength=n_groups).astype(float)
    vbar = np.zeros((n_groups, v.shape[1]))
    zbar = np.zeros((n_groups, z.shape[1]))
    np.add.at(vbar, codes, v)
    np.add.at(zbar, codes, z)
    vbar /= n[:, None]
    zbar /= n[:, None]
    vw = v - vbar[codes]
    zw = z - zbar[codes]
    return _Data(n, vbar, zbar, vw.T @ vw, vw.T @ zw, zw.T @ zw, v.shape[1] - 1, z.shape[1])


def _tril(values: np.ndarray, p: int) -> np.ndarray:
    lower = np.zeros((p, p))
    lower[np.tril_indices(p)] = values
    return lower


def _unpack(theta: np.ndarray, p: int, k: int) -> dict[str, np.ndarray]:
    """Split the parameter vector (standardized scale) into named blocks."""
    sizes = {
        "mu": p + 1,
        "d": p * k,
        "g": k,
        "lw": p * (p + 1) // 2,
        "beta_w": p,
        "s_e": 1,
        "lb": p * (p + 1) // 2,
        "beta_b": p,
        "s_v": 1,
    }
    out, at = {}, 0
    for name, size in sizes.items():
        out[name] = theta[at : at + size]
        at += size
    out["d"] = out["d"].reshape(p, k)
    return out


def _covariance(lower: np.ndarray, beta: np.ndarray, sd: float) -> np.ndarray:
    """``[[S, S beta], [beta' S, beta' S beta + sd^2]]`` with ``S = lower lower'``."""
    s = lower @ lower.T
    sb = s @ beta
    top = np.hstack([s, sb[:, None]])
    bottom = np.append(sb, beta @ sb + sd * sd)
    return np.vstack([top, bottom])


def _negloglik(theta: np.ndarray, data: _Data) -> float:
    p, k = data.p, data.k
    par = _unpack(theta, p, k)
    sigma_w = _covariance(_tril(par["lw"], p), par["beta_w"], float(par["s_e"][0]))
    sigma_b = _covariance(_tril(par["lb"], p), par["beta_b"], float(par["s_v"][0]))
    d, g = par["d"], par["g"]
    # Coefficients of the within deviations and the cluster means of z in E[(x, y)].
    c_w = np.vstack([d, (g + d.T @ par["beta_w"])[None, :]])
    c_b = np.vstack([d, (g + d.T @ par["beta_b"])[None, :]])
    s = data.wvv - c_w @ data.wvz.T - data.wvz @ c_w.T + c_w @ data.wzz @ c_w.T
    sign, logdet_w = np.linalg.slogdet(sigma_w)
    if sign <= 0:
        return math.inf
    n_within = float(data.n.sum() - data.n.size)
    within = n_within * logdet_w + float(np.trace(np.linalg.solve(sigma_w, s)))
    resid = data.vbar - par["mu"][None, :] - data.zbar @ c_b.T
    v = data.n[:, None, None] * sigma_b[None] + sigma_w[None]
    try:
        chol = np.linalg.cholesky(v)
    except np.linalg.LinAlgError:
        return math.inf
    sol = np.linalg.solve(chol, resid[:, :, None])[:, :, 0]
    logdet_b = 2.0 * np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)
    between = float(np.sum(logdet_b + data.n * np.sum(sol * sol, axis=1)))
    q = p + 1
    const = float(data.n.sum()) * q * math.log(2.0 * math.pi)
    value = 0.5 * (const + within + between)
    if data.prior:
        # Gamma(2, rate -> 0) prior density on each latent between SD (Chung et al.,
        # 2013): log-density log(sd) + const, which is -inf at sd = 0
        diag = np.abs(np.diag(_tril(par["lb"], p)))
        if np.any(diag <= 0):
            return math.inf
        value -= data.prior * float(np.sum(np.log(diag)))
    return value if np.isfinite(value) else math.inf


def _chol_params(cov: np.ndarray, floor: float) -> np.ndarray:
    vals, vecs = np.linalg.eigh((cov + cov.T) / 2.0)
    cov = (vecs * np.maximum(vals, floor)) @ vecs.T
    return np.linalg.cholesky(cov)[np.tril_indices(cov.shape[0])]


def _start(data: _Data) -> np.ndarray:
    """Starting values from the manifest (observed-mean) regressions."""
    p, k = data.p, data.k
    wxx, wxy = data.wvv[:p, :p], data.wvv[:p, p]
    wxz, wyz = data.wvz[:p], data.wvz[p]
    # within: x on z, then y on (x, z)
    d = np.linalg.lstsq(data.wzz, wxz.T, rcond=None)[0].T if k else np.zeros((p, 0))
    a = np.block([[wxx, wxz], [wxz.T, data.wzz]])
    coef = np.linalg.lstsq(a, np.concatenate([wxy, wyz]), rcond=None)[0]
    beta_w, g = coef[:p], coef[p:]
    df_w = max(float(data.n.sum() - data.n.size), 1.0)
    rx = wxx - d @ wxz.T
    sx = rx / df_w
    e2 = max(float(data.wvv[p, p] - coef @ np.concatenate([wxy, wyz])) / df_w, 1e-3)
    # between: observed means of x (net of D zbar) and y
    xb = data.vbar[:, :p] - data.zbar @ d.T
    xb_c = xb - xb.mean(axis=0)
    tx = np.atleast_2d(np.cov(xb_c.T, ddof=1)) - sx / float(np.mean(data.n))
    yb = data.vbar[:, p] - data.zbar @ g
    design = np.column_stack([np.ones(len(yb)), xb_c])
    bcoef = np.linalg.lstsq(design, yb, rcond=None)[0]
    beta_b = bcoef[1:]
    mu = np.concatenate([xb.mean(axis=0), [bcoef[0]]])
    floor = 0.05 * float(np.mean(np.diag(sx)))
    return np.concatenate(
        [
            mu,
            d.ravel(),
            g,
            _chol_params(sx, 1e-6),
            beta_w,
            [math.sqrt(e2)],
            _chol_params(tx, floor),
            beta_b,
            [0.3 * math.sqrt(e2)],
        ]
    )


def _effects_table(processes: Sequence[str], beta: np.ndarray, vcov: np.ndarray) -> pd.DataFrame:
    p = len(processes)
    rows = []
    for i, name in enumerate(processes):
        for part, weights in (
            ("within", {i: 1.0}),
            ("between", {p + i: 1.0}),
            ("contextual", {p + i: 1.0, i: -1.0}),
        ):
            vec = np.zeros(2 * p)
            for j, w in weights.items():
                vec[j] = w
            est = float(vec @ beta)
            var = float(vec @ vcov @ vec)
            se = math.sqrt(var) if var >= 0 else math.nan
            z = est / se if se > 0 else math.nan
            half = 1.959963984540054 * se
            rows.append(
                {
                    "process": name,
                    "part": part,
                    "estimate": est,
                    "se": se,
                    "z": z,
                    "p": float(2.0 * special.ndtr(-abs(z))) if np.isfinite(z) else math.nan,
                    "ci_low": est - half,
                    "ci_high": est + half,
                }
            )
    return pd.DataFrame(rows, columns=LATENT_COLUMNS)


def fit_latent_covariate(
    data: pd.DataFrame,
    response: str,
    processes: Sequence[str],
    group: str,
    covariates: Sequence[str] = (),
    *,
    standard_errors: bool = True,
    regularized: bool = False,
) -> LatentCovariateFit:
    """Fit the multilevel latent covariate model (Lüdtke et al., 2008) by ML.

    ``regularized=True`` maximises the log-likelihood plus a boundary-avoiding
    log-prior on each process's latent between-therapist SD (a Gamma(2, rate -> 0)
    density, Chung et al., 2013, in the standardized metric): the posterior mode of a
    Bayesian latent covariate model in the spirit of Zitzmann et al. (2015), which
    keeps the latent between variance off zero (so the between effect is always
    identified) and shrinks the between effect's extreme values. SEs then come from the
    curvature of that penalised log-likelihood.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per patient.
    response : str
        Outcome column (e.g. ``post_symptoms``).
    processes : sequence of str
        Raw process columns (the patients' mean ratings, e.g. ``alliance_mean``), not
        their within/between split: the model splits them into latent parts.
    group : str
        Therapist column.
    covariates : sequence of str
        Patient-level covariates with one coefficient at both levels (as in aim 1),
        e.g. ``baseline_symptoms_c``.
    standard_errors : bool
        Compute the observed-information covariance (False: NaN SEs; for simulations).
    regularized : bool
        Add the boundary-avoiding prior on the latent between SDs (above).

    Returns
    -------
    LatentCovariateFit

    Raises
    ------
    ValueError
        With fewer than 3 therapists, or a column that is constant.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> g = np.repeat(np.arange(60), 6)
    >>> mu = rng.normal(0, 1, 60)[g]
    >>> x = mu + rng.normal(0, 1, g.size)
    >>> y = 0.2 * (x - mu) + 0.8 * mu + rng.normal(0, 1, g.size)
    >>> fit = fit_latent_covariate(pd.DataFrame({"x": x, "y": y, "g": g}), "y", ["x"], "g")
    >>> b = fit.effects.set_index("part").loc["between", "estimate"]
    >>> bool(abs(b - 0.8) < 0.3)
    True
    """
    processes, covariates = tuple(processes), tuple(covariates)
    columns = [*processes, response, *covariates]
    used = data.loc[data[[*columns, group]].notna().all(axis=1), [*columns, group]]
    codes, groups = pd.factorize(used[group], sort=True)
    if len(groups) < 3:
        raise ValueError(f"{len(groups)} therapists; the latent covariate model needs at least 3")
    values = used[columns].to_numpy(dtype=float)
    center = values.mean(axis=0)
    scale = values.std(axis=0, ddof=1)
    if np.any(~(scale > 0)):
        constant = [c for c, s in zip(columns, scale, strict=True) if not s > 0]
        raise ValueError(f"constant column(s) {constant}: nothing to estimate")
    std = (values - center) / scale
    p, k = len(processes), len(covariates)
    suff = _sufficient(std[:, : p + 1], std[:, p + 1 :], codes)
    if regularized:
        suff = replace(suff, prior=1.0)
    x0 = _start(suff)
    theta, decrement, curved = _maximize(suff, x0)
    par = _unpack(theta, p, k)
    lb = _tril(par["lb"], p)
    lw = _tril(par["lw"], p)
    tau_std = np.diag(lb @ lb.T)
    sig_std = np.diag(lw @ lw.T)
    boundary = bool(np.any(np.sqrt(tau_std) < BOUNDARY_TOL * np.sqrt(sig_std)))
    problems = []
    sx, sy = scale[:p], scale[p]
    factor = np.concatenate([sy / sx, sy / sx])
    beta_std = np.concatenate([par["beta_w"], par["beta_b"]])
    if standard_errors:
        hess = richardson_hessian(lambda t: _negloglik(t, suff), theta)
        evals = np.linalg.eigvalsh((hess + hess.T) / 2.0)
        positive = bool(np.all(evals > 0))
        finite = bool(np.all(np.isfinite(hess)))
        cov_theta = np.linalg.pinv(hess) if finite else np.full(hess.shape, np.nan)
        beta_idx = _beta_index(p, k)
        vcov = cov_theta[np.ix_(beta_idx, beta_idx)] * np.outer(factor, factor)
    else:
        positive = True
        vcov = np.full((2 * p, 2 * p), np.nan)
    at_optimum = bool(decrement < DECREMENT_TOL and curved)
    converged = at_optimum and positive
    if not at_optimum:
        problems.append(
            f"latent covariate model {response} ~ {', '.join(processes)}: no confirmed "
            f"maximum (Newton decrement {decrement:.2g}, curvature "
            f"{'positive' if curved else 'not positive definite'})"
        )
    if not positive:
        problems.append(
            f"latent covariate model {response} ~ {', '.join(processes)}: the information "
            "matrix is not positive definite (a variance at its boundary); SEs are unreliable"
        )
    if boundary:
        problems.append(
            f"latent covariate model {response} ~ {', '.join(processes)}: a process's "
            "between-therapist variance is estimated at zero; its between effect is not "
            "identified"
        )
    return LatentCovariateFit(
        response=response,
        processes=processes,
        covariates=covariates,
        effects=_effects_table(processes, beta_std * factor, vcov),
        tau_x={name: float(tau_std[i] * sx[i] ** 2) for i, name in enumerate(processes)},
        sigma2_x={name: float(sig_std[i] * sx[i] ** 2) for i, name in enumerate(processes)},
        loglik=float(-_negloglik(theta, suff) - len(used) * float(np.sum(np.log(scale[: p + 1])))),
        converged=converged,
        boundary=boundary,
        n_obs=len(used),
        n_groups=len(groups),
        vcov=vcov,
        **_implied(par, center, scale, p),
        problems=tuple(problems),
    )


def _implied(
    par: dict[str, np.ndarray], center: np.ndarray, scale: np.ndarray, p: int
) -> dict[str, np.ndarray]:
    """The implied covariances and mean structure of ``(x, y)`` on the original scale."""
    s_v, c_v = scale[: p + 1], center[: p + 1]
    s_z, c_z = scale[p + 1 :], center[p + 1 :]
    d, g = par["d"], par["g"]
    c_w = np.vstack([d, (g + d.T @ par["beta_w"])[None, :]])
    c_b = np.vstack([d, (g + d.T @ par["beta_b"])[None, :]])
    sigma_w = _covariance(_tril(par["lw"], p), par["beta_w"], float(par["s_e"][0]))
    sigma_b = _covariance(_tril(par["lb"], p), par["beta_b"], float(par["s_v"][0]))
    return {
        "sigma_within": sigma_w * np.outer(s_v, s_v),
        "sigma_between": sigma_b * np.outer(s_v, s_v),
        "mean_intercept": c_v + s_v * (par["mu"] - c_b @ (c_z / s_z)),
        "mean_within": s_v[:, None] * c_w / s_z[None, :],
        "mean_between": s_v[:, None] * c_b / s_z[None, :],
    }


def _central_derivatives(data: _Data, theta: np.ndarray, h: float = 1e-4) -> tuple:
    """Gradient and Hessian of -logL by central differences (for Newton steps)."""
    n = theta.size
    f0 = _negloglik(theta, data)
    grad, hess = np.zeros(n), np.zeros((n, n))
    step = np.eye(n) * h
    fp = np.array([_negloglik(theta + step[i], data) for i in range(n)])
    fm = np.array([_negloglik(theta - step[i], data) for i in range(n)])
    grad = (fp - fm) / (2 * h)
    np.fill_diagonal(hess, (fp - 2 * f0 + fm) / h**2)
    for i in range(n):
        for j in range(i):
            fpp = _negloglik(theta + step[i] + step[j], data)
            fmm = _negloglik(theta - step[i] - step[j], data)
            hess[i, j] = hess[j, i] = (fpp - fp[i] - fp[j] + 2 * f0 - fm[i] - fm[j] + fmm) / (
                2 * h**2
            )
    return grad, hess


def _newton(data: _Data, theta: np.ndarray) -> tuple[np.ndarray, float, bool]:
    """Newton steps (halved until -logL decreases) from a BFGS solution.

    Returns the point, its Newton decrement ``g' H^-1 g / 2`` (log-likelihood units a
    quadratic model still promises; scale-free) and whether the Hessian is positive
    definite there.
    """
    decrement, positive = math.inf, False
    for _ in range(NEWTON_STEPS):
        grad, hess = _central_derivatives(data, theta)
        try:
            np.linalg.cholesky(hess)
            positive = True
        except np.linalg.LinAlgError:
            return theta, decrement, False
        direction = np.linalg.solve(hess, grad)
        decrement = float(grad @ direction) / 2.0
        if decrement < DECREMENT_TOL:
            break
        f0, step = _negloglik(theta, data), 1.0
        while step > 1e-4 and _negloglik(theta - step * direction, data) > f0:
            step /= 2.0
        if step <= 1e-4:
            break
        theta = theta - step * direction
    return theta, decrement, positive


def _maximize(data: _Data, start: np.ndarray) -> tuple[np.ndarray, float, bool]:
    """BFGS from the manifest start (restarted from Nelder-Mead if it stalls), then
    Newton steps; bounded iterations throughout."""
    best = optimize.minimize(
        _negloglik, start, args=(data,), method="BFGS", options={"maxiter": MAX_ITER, "gtol": 1e-6}
    )
    theta, decrement, positive = _newton(data, np.asarray(best.x))
    if not (decrement < DECREMENT_TOL and positive):
        simplex = optimize.minimize(
            _negloglik, theta, args=(data,), method="Nelder-Mead",
            options={"maxiter": 200 * theta.size, "xatol": 1e-8, "fatol": 1e-10},
        )  # fmt: skip
        again = optimize.minimize(
            _negloglik, simplex.x, args=(data,), method="BFGS",
            options={"maxiter": MAX_ITER, "gtol": 1e-6},
        )  # fmt: skip
        retry = _newton(data, np.asarray(again.x))
        if _negloglik(retry[0], data) < _negloglik(theta, data):
            theta, decrement, positive = retry
    return theta, decrement, positive


def _beta_index(p: int, k: int) -> np.ndarray:
    """Positions of ``beta_W`` then ``beta_B`` in the parameter vector."""
    lw = p * (p + 1) // 2
    start_w = (p + 1) + p * k + k + lw
    start_b = start_w + p + 1 + lw
    return np.concatenate([np.arange(start_w, start_w + p), np.arange(start_b, start_b + p)])
