"""Two-level linear mixed models (patients in therapists) fitted by REML as lme4 does.

The model is ``y = X beta + Z b + e`` with one grouping factor, a random intercept and
optionally one random slope with an unstructured 2x2 covariance. Variance parameters use
lme4's parametrization: ``G = sigma^2 * Lambda Lambda'`` with ``Lambda`` the lower
triangular relative Cholesky factor whose entries (column-major) form ``theta``; the
diagonal of ``Lambda`` is bounded below by 0.

The objective is lme4's profiled REML deviance, evaluated group by group in closed form
(each therapist block is at most 2x2 after the Woodbury identity), so one evaluation
takes about a tenth of a millisecond. Optimizers (bounded SLSQP from several starts,
restarts off a zero-variance boundary, and, when the optimum is in doubt, statsmodels
``MixedLM`` REML, L-BFGS-B, Nelder-Mead and Powell) are all scored on that one deviance
and the best finite solution is kept. Fixed-effect covariance, log-likelihood, variance
components and conditional modes are computed from the kept ``theta`` as lme4 computes them, and the
Satterthwaite ingredients (Hessian of the deviance and Jacobian of the fixed-effect
covariance with respect to ``(theta, sigma)``) as lmerTest computes them; they are
stored as plain arrays.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from scipy import optimize

from process_outcome.inference import coefficient_table, richardson_hessian, richardson_jacobian

INTERCEPT = "(Intercept)"
SINGULAR_TOL = 1e-4  # lme4::isSingular default tolerance on theta's bounded elements
CORRELATION_LIMIT = 0.999  # |intercept-slope correlation| above this is flagged singular
HESSIAN_EIGEN_TOL = 1e-8  # lmerTest's tolerance for the generalized inverse of the Hessian
GRADIENT_TOL = 1e-3  # projected deviance gradient that still counts as an optimum
TIE_TOL = 1e-9  # log-likelihood differences below this are ties (keep the earlier optimizer)
NESTING_TOL = 1e-6  # REML log-likelihood a nesting model may fall short by (rounding)


@dataclass(frozen=True)
class FitAttempt:
    """One optimizer run, scored on the common profiled REML deviance.

    Attributes
    ----------
    optimizer : str
        Name of the optimizer and start (e.g. ``"statsmodels-lbfgs"``).
    loglik : float
        REML log-likelihood at the optimizer's solution (``-inf`` if it failed).
    converged : bool
        Whether the optimizer itself reported success.
    message : str
        The optimizer's message, or the error it raised.
    """

    optimizer: str
    loglik: float
    converged: bool
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dictionary of the attempt."""
        return {
            "optimizer": self.optimizer,
            "loglik": _json_float(self.loglik),
            "converged": bool(self.converged),
            "message": self.message,
        }


@dataclass(frozen=True, eq=False)
class MixedFit:
    """A REML fit of a two-level linear mixed model, with lme4-equivalent summaries.

    Attributes
    ----------
    response : str
        Response column.
    terms : tuple of str
        Fixed-effect names in model order; ``"(Intercept)"`` first, interactions ``a:b``.
    group : str
        Grouping column.
    random_slope : str or None
        Column with a random slope, or None for a random-intercept model.
    coefficients : pandas.DataFrame
        Columns ``term, estimate, se, df, t, p, ci_low, ci_high``; Satterthwaite df and
        95% CIs from t(df), as lmerTest reports them.
    vcov : numpy.ndarray
        Covariance of the fixed effects, ``sigma^2 (X' A^-1 X)^-1`` (lme4's ``vcov``).
    variance_components : dict of str to float
        lme4 names: ``<group>|(Intercept)|``, ``<group>|<slope>|``,
        ``<group>|(Intercept)|<slope>`` (covariance) and ``Residual||``.
    loglik : float
        REML log-likelihood (lme4's ``logLik(REML = TRUE)``).
    optimizer : str
        The attempt whose solution was kept.
    converged : bool
        The kept solution is finite and its projected deviance gradient is small.
    singular : bool
        lme4's ``isSingular`` (a diagonal element of theta < 1e-4) or
        |intercept-slope correlation| > 0.999.
    n_obs, n_groups : int
        Rows and groups used after dropping rows with missing values.
    random_effects : pandas.DataFrame
        One row per group sorted by group id: ``group, n_obs, intercept,
        intercept_cond_sd, slope, slope_cond_sd`` (predicted deviations and their
        conditional SDs as lme4's ``ranef(condVar = TRUE)``; slope columns are NaN
        without a random slope).
    attempts : tuple of FitAttempt
        Every optimizer run, in the order tried.
    theta : numpy.ndarray
        Relative Cholesky factor entries (column-major lower triangle).
    sigma : float
        Residual standard deviation.
    varpar_vcov : numpy.ndarray
        lmerTest's ``vcov_varpar``: ``2 H^+`` with ``H`` the Hessian of the REML deviance
        with respect to ``varpar = (theta, sigma)``.
    vcov_jacobian : numpy.ndarray
        Shape ``(len(varpar), p, p)``: derivative of ``vcov`` with respect to each
        element of ``varpar`` (lmerTest's ``Jac_list``).
    """

    response: str
    terms: tuple[str, ...]
    group: str
    random_slope: str | None
    coefficients: pd.DataFrame
    vcov: np.ndarray
    variance_components: dict[str, float]
    loglik: float
    optimizer: str
    converged: bool
    singular: bool
    n_obs: int
    n_groups: int
    random_effects: pd.DataFrame
    attempts: tuple[FitAttempt, ...]
    theta: np.ndarray
    sigma: float
    varpar_vcov: np.ndarray
    vcov_jacobian: np.ndarray
    fixed_effects: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0))

    @property
    def varpar(self) -> np.ndarray:
        """lmerTest's variance parameter vector ``(theta, sigma)``."""
        return np.append(self.theta, self.sigma)

    @property
    def correlation(self) -> float | None:
        """Intercept-slope correlation of the random effects (None without a slope)."""
        if self.random_slope is None:
            return None
        return _correlation(self.variance_components, self.group, self.random_slope)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable summary of the fit."""
        return {
            "response": self.response,
            "terms": list(self.terms),
            "group": self.group,
            "random_slope": self.random_slope,
            "variance_components": {k: _json_float(v) for k, v in self.variance_components.items()},
            "loglik": _json_float(self.loglik),
            "optimizer": self.optimizer,
            "attempts": [a.to_dict() for a in self.attempts],
            "converged": bool(self.converged),
            "singular": bool(self.singular),
            "theta": [_json_float(v) for v in self.theta],
            "sigma": _json_float(self.sigma),
            "coefficients": _records(self.coefficients),
            "n_obs": int(self.n_obs),
            "n_groups": int(self.n_groups),
        }


class _Design(NamedTuple):
    """Model data reduced to per-group cross-products (all the deviance needs).

    The random-effects design always has an intercept column ``z0`` and a slope column
    ``z1`` (zeros in a random-intercept model), so one closed-form 2x2 code path serves
    both structures.
    """

    y: np.ndarray
    X: np.ndarray
    Z: np.ndarray
    codes: np.ndarray
    groups: np.ndarray
    q: int
    s00: np.ndarray  # (J,) z0'z0 per group
    s01: np.ndarray  # (J,) z0'z1
    s11: np.ndarray  # (J,) z1'z1
    xz0: np.ndarray  # (J, p) X'z0
    xz1: np.ndarray  # (J, p) X'z1
    zy0: np.ndarray  # (J,) z0'y
    zy1: np.ndarray  # (J,) z1'y
    xtx: np.ndarray  # (p, p) summed over groups
    xty: np.ndarray  # (p,)
    yty: float


class _RemlState(NamedTuple):
    """Quantities at one theta, with A = V / sigma^2 = I + Z Lambda Lambda' Z'.

    Per group ``M_j = Lambda' Z_j' Z_j Lambda + I`` (2x2, stored by its elements),
    ``w = Lambda' Z_j' X_j`` (two rows) and ``v = Lambda' Z_j' y_j``.
    """

    lam: np.ndarray
    m00: np.ndarray
    m01: np.ndarray
    m11: np.ndarray
    det: np.ndarray
    w0: np.ndarray
    w1: np.ndarray
    v0: np.ndarray
    v1: np.ndarray
    xax: np.ndarray  # X' A^-1 X
    logdet_m: float
    logdet_xax: float
    beta: np.ndarray
    pwrss: float


def fit_mixed(
    data: pd.DataFrame,
    response: str,
    terms: Sequence[str],
    group: str,
    random_slope: str | None = None,
    start: MixedFit | None = None,
    *,
    min_loglik: float | None = None,
    use_statsmodels: bool = False,
) -> MixedFit:
    """Fit ``response ~ terms + (1 [+ random_slope] | group)`` by REML.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per observation (patient).
    response : str
        Response column.
    terms : sequence of str
        Fixed-effect terms besides the intercept; ``"a:b"`` is the product of columns
        ``a`` and ``b``. A leading ``"(Intercept)"`` is accepted and ignored.
    group : str
        Grouping column (therapist).
    random_slope : str, optional
        Column whose slope varies by group (correlated with the random intercept).
    start : MixedFit, optional
        A previous fit whose variance parameters serve as a starting value, e.g. the
        random-intercept fit as start for the random-slope model.
    min_loglik : float, optional
        The REML log-likelihood the fit must reach, e.g. that of a model nested in
        this one. If the routine optimizers end below it, further optimizers and
        starts are tried; the caller checks whether the final fit reached it.
    use_statsmodels : bool, default False
        Run statsmodels ``MixedLM`` (L-BFGS) first in every fit rather than only when
        the optimum is in doubt. Results are the same to ~1e-8; it costs ~0.3 s a fit.

    Returns
    -------
    MixedFit
        The fit with the highest finite REML log-likelihood over all attempts.

    Notes
    -----
    Rows with a missing value in any used column are dropped; ``n_obs`` reports the
    rows used. Optimizer chain: bounded SLSQP on lme4's profiled REML deviance from
    ``start`` (if given) and from lme4's default start; restarts away from any zero
    diagonal element of theta (a stationary point where gradient methods can stall);
    then, only if no solution has a small projected gradient, starts disagree by more
    than 1e-6 in log-likelihood, or ``min_loglik`` is not reached: statsmodels
    ``MixedLM`` REML, L-BFGS-B, Nelder-Mead and Powell from several points and a final
    SLSQP polish. Every solution is scored on the same deviance; the best finite one is kept
    and named in ``optimizer``.
    """
    fixed_terms = tuple(t for t in terms if t != INTERCEPT)
    design = _build_design(data, response, fixed_terms, group, random_slope)
    starts = _start_thetas(start, design.q)
    attempts, thetas = _optimize(design, starts, min_loglik, use_statsmodels)
    best = _best_attempt(attempts)
    theta = thetas[best]
    return _assemble_fit(
        design,
        theta,
        response=response,
        terms=(INTERCEPT, *fixed_terms),
        group=group,
        random_slope=random_slope,
        attempts=tuple(attempts),
        optimizer=attempts[best].optimizer,
    )


def fit_at_theta(
    data: pd.DataFrame,
    response: str,
    terms: Sequence[str],
    group: str,
    random_slope: str | None,
    theta: Sequence[float] | np.ndarray,
) -> MixedFit:
    """Evaluate the model at given variance parameters instead of optimizing them.

    Everything else (beta, sigma, vcov, Satterthwaite ingredients, conditional modes)
    is computed from ``theta`` exactly as in :func:`fit_mixed`. Useful to compare with
    another program's solution, e.g. at lme4's theta from
    :func:`theta_from_variance_components`.

    Parameters
    ----------
    data, response, terms, group, random_slope
        As in :func:`fit_mixed`.
    theta : array-like
        Relative Cholesky factor entries (1 for a random intercept, 3 with a slope).

    Returns
    -------
    MixedFit
        With ``optimizer = "fixed-theta"``.
    """
    fixed_terms = tuple(t for t in terms if t != INTERCEPT)
    design = _build_design(data, response, fixed_terms, group, random_slope)
    theta = np.asarray(theta, dtype=float)
    if theta.size != design.q * (design.q + 1) // 2:
        raise ValueError(
            f"theta has {theta.size} elements; the model needs {design.q * (design.q + 1) // 2}"
        )
    dev = reml_deviance(theta, design)
    attempt = FitAttempt("fixed-theta", -0.5 * dev if np.isfinite(dev) else -math.inf, True)
    return _assemble_fit(
        design,
        theta,
        response=response,
        terms=(INTERCEPT, *fixed_terms),
        group=group,
        random_slope=random_slope,
        attempts=(attempt,),
        optimizer=attempt.optimizer,
    )


def theta_from_variance_components(
    variance_components: dict[str, float], group: str, random_slope: str | None
) -> np.ndarray:
    """lme4's theta from variance components named as in :attr:`MixedFit.variance_components`.

    Parameters
    ----------
    variance_components : dict
        ``<group>|(Intercept)|``, ``Residual||`` and, with a slope,
        ``<group>|<slope>|`` and ``<group>|(Intercept)|<slope>``.
    group : str
        Grouping column.
    random_slope : str or None
        Slope column.

    Returns
    -------
    numpy.ndarray
        Relative Cholesky factor entries.
    """
    sigma2 = variance_components["Residual||"]
    psi = np.array([[variance_components[f"{group}|{INTERCEPT}|"]]])
    if random_slope is not None:
        cov = variance_components[f"{group}|{INTERCEPT}|{random_slope}"]
        psi = np.array([[psi[0, 0], cov], [cov, variance_components[f"{group}|{random_slope}|"]]])
    return _theta_from_relative_cov(psi / sigma2)


# ----------------------------------------------------------------------------- design


def _term_column(data: pd.DataFrame, term: str) -> np.ndarray:
    """Values of a term: a column, or the product of the columns named in ``a:b``."""
    parts = term.split(":")
    values = np.ones(len(data))
    for part in parts:
        values = values * data[part].to_numpy(dtype=float)
    return values


def _used_columns(
    response: str, terms: Sequence[str], group: str, random_slope: str | None
) -> list[str]:
    names = [response, group, *(p for t in terms for p in t.split(":"))]
    if random_slope is not None:
        names.append(random_slope)
    return list(dict.fromkeys(names))


def _build_design(
    data: pd.DataFrame,
    response: str,
    terms: Sequence[str],
    group: str,
    random_slope: str | None,
) -> _Design:
    columns = _used_columns(response, terms, group, random_slope)
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise KeyError(f"columns not in the data: {missing}")
    used = data.loc[data[columns].notna().all(axis=1), columns]
    if used.empty:
        raise ValueError("no rows without missing values in the model's columns")
    y = used[response].to_numpy(dtype=float)
    X = np.column_stack([np.ones(len(used)), *(_term_column(used, t) for t in terms)])
    if np.linalg.matrix_rank(X) < X.shape[1]:
        raise ValueError(f"fixed-effect design for {response} is rank deficient")
    z0 = np.ones(len(used))
    z1 = np.zeros(len(used)) if random_slope is None else used[random_slope].to_numpy(float)
    # lme4 orders factor levels by sorted id; conditional modes follow that order
    groups, codes = np.unique(used[group].to_numpy(), return_inverse=True)
    n_groups = len(groups)

    def by_group(values: np.ndarray) -> np.ndarray:
        out = np.zeros((n_groups, *values.shape[1:]))
        np.add.at(out, codes, values)
        return out

    return _Design(
        y=y,
        X=X,
        Z=np.column_stack([z0] if random_slope is None else [z0, z1]),
        codes=codes,
        groups=groups,
        q=1 if random_slope is None else 2,
        s00=by_group(z0 * z0),
        s01=by_group(z0 * z1),
        s11=by_group(z1 * z1),
        xz0=by_group(X * z0[:, None]),
        xz1=by_group(X * z1[:, None]),
        zy0=by_group(z0 * y),
        zy1=by_group(z1 * y),
        xtx=X.T @ X,
        xty=X.T @ y,
        yty=float(y @ y),
    )


# ----------------------------------------------------------------------- REML pieces


def _full_theta(theta: np.ndarray) -> np.ndarray:
    """Theta of a random-intercept model padded to the 2x2 layout (a, b, c)."""
    theta = np.asarray(theta, dtype=float)
    return theta if theta.size == 3 else np.array([theta[0], 0.0, 0.0])


def _lambda(theta: np.ndarray, q: int) -> np.ndarray:
    if q == 1:
        return np.array([[theta[0]]])
    return np.array([[theta[0], 0.0], [theta[1], theta[2]]])


def _reml_state(theta: np.ndarray, d: _Design) -> _RemlState:
    """Profile out beta at ``theta`` with per-group Woodbury identities in closed form.

    With ``Lambda = [[a, 0], [b, c]]`` each group's ``M_j`` is 2x2, so its inverse and
    determinant are written out; this keeps a deviance evaluation at tens of
    microseconds, which is what makes multi-start optimization and numerical
    derivatives cheap.
    """
    a, b, c = _full_theta(theta)
    m00 = a * a * d.s00 + 2.0 * a * b * d.s01 + b * b * d.s11 + 1.0
    m01 = c * (a * d.s01 + b * d.s11)
    m11 = c * c * d.s11 + 1.0
    det = m00 * m11 - m01 * m01
    w0 = a * d.xz0 + b * d.xz1
    w1 = c * d.xz1
    v0 = a * d.zy0 + b * d.zy1
    v1 = c * d.zy1
    # M^-1 applied to w and v
    r0 = (m11[:, None] * w0 - m01[:, None] * w1) / det[:, None]
    r1 = (m00[:, None] * w1 - m01[:, None] * w0) / det[:, None]
    t0 = (m11 * v0 - m01 * v1) / det
    t1 = (m00 * v1 - m01 * v0) / det
    xax = d.xtx - w0.T @ r0 - w1.T @ r1
    xay = d.xty - w0.T @ t0 - w1.T @ t1
    yay = d.yty - float(v0 @ t0 + v1 @ t1)
    chol = np.linalg.cholesky(xax)
    beta = np.linalg.solve(xax, xay)
    pwrss = float(yay - beta @ xay)
    return _RemlState(
        lam=_lambda(theta, d.q),
        m00=m00,
        m01=m01,
        m11=m11,
        det=det,
        w0=w0,
        w1=w1,
        v0=v0,
        v1=v1,
        xax=xax,
        logdet_m=float(np.sum(np.log(det))),
        logdet_xax=float(2.0 * np.sum(np.log(np.diag(chol)))),
        beta=beta,
        pwrss=pwrss,
    )


def reml_deviance(theta: np.ndarray, d: _Design) -> float:
    """lme4's profiled REML criterion ``-2 * logLik`` at ``theta`` (sigma profiled out)."""
    try:
        s = _reml_state(theta, d)
    except np.linalg.LinAlgError:
        return math.inf
    n, p = d.X.shape
    if not (s.pwrss > 0 and np.isfinite(s.pwrss)):
        return math.inf
    dof = n - p
    return s.logdet_m + s.logdet_xax + dof * (1.0 + math.log(2.0 * math.pi * s.pwrss / dof))


def _deviance_varpar(varpar: np.ndarray, d: _Design) -> float:
    """lmerTest's ``devfun_vp``: REML deviance as a function of ``(theta, sigma)``."""
    s = _reml_state(varpar[:-1], d)
    n, p = d.X.shape
    sigma2 = varpar[-1] ** 2
    return s.logdet_m + s.logdet_xax + s.pwrss / sigma2 + (n - p) * math.log(2.0 * math.pi * sigma2)


def _covbeta_varpar(varpar: np.ndarray, d: _Design) -> np.ndarray:
    """lmerTest's ``get_covbeta``: ``sigma^2 (X' A^-1 X)^-1`` as a function of varpar."""
    s = _reml_state(varpar[:-1], d)
    return (varpar[-1] ** 2 * np.linalg.inv(s.xax)).ravel()


# ------------------------------------------------------------------------ optimizing


def _theta_bounds(q: int) -> list[tuple[float | None, float | None]]:
    return [(0.0, None)] if q == 1 else [(0.0, None), (None, None), (0.0, None)]


def _theta_from_relative_cov(psi: np.ndarray) -> np.ndarray:
    """Lower Cholesky entries of a relative covariance that may be semi-definite."""
    psi = np.atleast_2d(np.asarray(psi, dtype=float))
    t1 = math.sqrt(max(psi[0, 0], 0.0))
    if psi.shape[0] == 1:
        return np.array([t1])
    t2 = psi[1, 0] / t1 if t1 > 0 else 0.0
    t3 = math.sqrt(max(psi[1, 1] - t2 * t2, 0.0))
    return np.array([t1, t2, t3])


def _start_thetas(start: MixedFit | None, q: int) -> list[tuple[str, np.ndarray]]:
    """Named starting values: the given fit's theta, then lme4's default start.

    A zero slope element is a stationary point of the deviance by symmetry, so a start
    taken from a random-intercept fit gets a small positive slope SD to move off it.
    """
    starts: list[tuple[str, np.ndarray]] = []
    if start is not None:
        t = np.asarray(start.theta, dtype=float)
        if q == 2 and t.size == 1:
            starts.append(("start", np.array([t[0], 0.0, 0.1])))
        elif q == 2:
            starts.append(("start", np.array([t[0], t[1], max(t[2], 0.05)])))
        else:
            starts.append(("start", t[:1].copy()))
    starts.append(("default", np.ones(1) if q == 1 else np.array([1.0, 0.0, 1.0])))
    return starts


def _central_gradient(fun: Any, x: np.ndarray, step: float = 1e-6) -> np.ndarray:
    grad = np.empty_like(x)
    for i in range(x.size):
        h = step * max(1.0, abs(x[i]))
        e = np.zeros_like(x)
        e[i] = h
        grad[i] = (fun(x + e) - fun(x - e)) / (2.0 * h)
    return grad


def _projected_gradient(theta: np.ndarray, d: _Design) -> np.ndarray:
    """Deviance gradient with components pushing into an active lower bound removed."""
    grad = _central_gradient(lambda t: reml_deviance(t, d), theta)
    for i, (low, _) in enumerate(_theta_bounds(d.q)):
        if low is not None and theta[i] <= low + 1e-8 and grad[i] > 0:
            grad[i] = 0.0
    return grad


def _run_scipy(method: str, theta0: np.ndarray, d: _Design) -> tuple[np.ndarray, bool, str]:
    q = d.q

    def fun(t: np.ndarray) -> float:
        return reml_deviance(t, d)

    x0 = np.clip(theta0, [b[0] if b[0] is not None else -np.inf for b in _theta_bounds(q)], None)
    # SLSQP is the routine polish (the fastest of scipy's bounded gradient methods here);
    # the others serve in escalation. The gradient-free ones get no jac.
    options = {
        "SLSQP": {"ftol": 1e-14, "maxiter": 500},
        "L-BFGS-B": {"ftol": 1e-14, "gtol": 1e-6, "maxiter": 500},
        "Nelder-Mead": {"xatol": 1e-10, "fatol": 1e-12, "maxiter": 4000},
        "Powell": {"xtol": 1e-10, "ftol": 1e-14, "maxiter": 4000},
    }
    gradient = method in {"SLSQP", "L-BFGS-B"}
    res = optimize.minimize(
        fun,
        x0,
        jac=(lambda t: _central_gradient(fun, t)) if gradient else None,
        method=method,
        bounds=_theta_bounds(q),
        options=options[method],
    )
    return np.asarray(res.x, dtype=float), bool(res.success), str(res.message)


def _run_statsmodels(theta0: np.ndarray, d: _Design) -> tuple[np.ndarray, bool, str]:
    """statsmodels ``MixedLM`` REML fit from ``theta0``; returns its theta."""
    from statsmodels.regression.mixed_linear_model import MixedLM, MixedLMParams

    q = d.q
    lam = _lambda(theta0, q)
    if q == 2 and lam[1, 1] <= 0:
        lam[1, 1] = 0.05  # statsmodels cannot leave an exactly zero slope SD either
    beta0 = _reml_state(theta0, d).beta
    params = MixedLMParams.from_components(fe_params=beta0, cov_re_sqrt=lam)
    model = MixedLM(d.y, d.X, groups=d.codes, exog_re=d.Z)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = model.fit(reml=True, start_params=params, method=["lbfgs"])
    psi = np.atleast_2d(np.asarray(res.cov_re, dtype=float)) / float(res.scale)
    return _theta_from_relative_cov(psi), bool(res.converged), "statsmodels MixedLM lbfgs"


def _attempt(
    name: str, runner: Any, theta0: np.ndarray, d: _Design
) -> tuple[FitAttempt, np.ndarray | None]:
    try:
        theta, ok, msg = runner(theta0, d)
    except Exception as err:  # an optimizer that fails is recorded, not fatal: others may succeed
        return FitAttempt(name, -math.inf, False, f"{type(err).__name__}: {err}"), None
    dev = reml_deviance(theta, d)
    loglik = -0.5 * dev if np.isfinite(dev) else -math.inf
    return FitAttempt(name, float(loglik), bool(ok and np.isfinite(loglik)), msg), theta


def _optimize(
    d: _Design,
    starts: list[tuple[str, np.ndarray]],
    min_loglik: float | None,
    use_statsmodels: bool,
) -> tuple[list[FitAttempt], list[np.ndarray]]:
    """Run the optimizer chain and escalate while the optimum is in doubt.

    Routine: bounded SLSQP on the profiled REML deviance from every start (preceded by
    statsmodels ``MixedLM`` when ``use_statsmodels``), plus restarts off any zero
    diagonal element of theta. Escalation, when no finite solution has a small
    projected gradient, when optima from different starts disagree, or when
    ``min_loglik`` is not reached: statsmodels ``MixedLM`` from the best point (polished
    on the deviance), then bounded L-BFGS-B, Nelder-Mead and Powell from the best point
    and every start, then a final SLSQP polish of the best.
    """
    attempts: list[FitAttempt] = []
    thetas: list[np.ndarray] = []
    n_theta = d.q * (d.q + 1) // 2

    def record(name: str, runner: Any, theta0: np.ndarray) -> np.ndarray:
        att, theta = _attempt(name, runner, theta0, d)
        attempts.append(att)
        thetas.append(theta if theta is not None else np.full(n_theta, np.nan))
        return thetas[-1]

    def slsqp(t: np.ndarray, dd: _Design) -> tuple[np.ndarray, bool, str]:
        return _run_scipy("SLSQP", t, dd)

    def run_statsmodels(theta0: np.ndarray) -> None:
        theta_sm = record("statsmodels-lbfgs", _run_statsmodels, theta0)
        if np.all(np.isfinite(theta_sm)):
            record("reml-slsqp(statsmodels)", slsqp, theta_sm)

    if use_statsmodels:
        run_statsmodels(starts[0][1])
    for name, theta0 in starts:
        record(f"reml-slsqp({name})", slsqp, theta0)
    # a zero diagonal element of theta is a stationary point of the deviance (it is
    # even in that element), so a gradient method can stop there at a saddle:
    # restart off the boundary, as lme4's restart_edge does
    best = thetas[_best_attempt(attempts)]
    for i in _boundary_elements(best, d.q):
        for value in (0.1, 0.5):
            theta0 = best.copy()
            theta0[i] = value
            record(f"reml-slsqp(off-boundary {i}={value})", slsqp, theta0)
    if not _needs_escalation(attempts, thetas, d, min_loglik):
        return attempts, thetas
    best = thetas[_best_attempt(attempts)]
    if not use_statsmodels:
        run_statsmodels(best if np.all(np.isfinite(best)) else starts[0][1])
        best = thetas[_best_attempt(attempts)]
    points = [("best", best), *starts] if np.all(np.isfinite(best)) else list(starts)
    for method, tag in (
        ("L-BFGS-B", "lbfgsb"),
        ("Nelder-Mead", "neldermead"),
        ("Powell", "powell"),
    ):
        for name, theta0 in points:
            record(
                f"reml-{tag}({name})",
                lambda t, dd, m=method: _run_scipy(m, t, dd),
                theta0,
            )
    best = thetas[_best_attempt(attempts)]
    if np.all(np.isfinite(best)):
        record("reml-slsqp(escalated)", slsqp, best)
    return attempts, thetas


def _boundary_elements(theta: np.ndarray, q: int) -> list[int]:
    if not np.all(np.isfinite(theta)):
        return []
    diagonal = [0] if q == 1 else [0, 2]
    return [i for i in diagonal if theta[i] < SINGULAR_TOL]


def _needs_escalation(
    attempts: Sequence[FitAttempt],
    thetas: Sequence[np.ndarray],
    d: _Design,
    min_loglik: float | None,
) -> bool:
    finite = [a.loglik for a in attempts if np.isfinite(a.loglik)]
    if not finite:
        return True
    best = _best_attempt(attempts)
    if min_loglik is not None and attempts[best].loglik < min_loglik - NESTING_TOL:
        return True
    if np.max(np.abs(_projected_gradient(thetas[best], d))) >= GRADIENT_TOL:
        return True
    # optima reached from different starts should agree; if not, search wider
    return max(finite) - min(finite) > 1e-6


def _best_attempt(attempts: Sequence[FitAttempt]) -> int:
    best = 0
    for i, att in enumerate(attempts):
        if np.isfinite(att.loglik) and (
            not np.isfinite(attempts[best].loglik) or att.loglik > attempts[best].loglik + TIE_TOL
        ):
            best = i
    if not np.isfinite(attempts[best].loglik):
        raise RuntimeError("no optimizer reached a finite REML log-likelihood")
    return best


# ------------------------------------------------------------------------- assembling


def _assemble_fit(
    d: _Design,
    theta: np.ndarray,
    *,
    response: str,
    terms: tuple[str, ...],
    group: str,
    random_slope: str | None,
    attempts: tuple[FitAttempt, ...],
    optimizer: str,
) -> MixedFit:
    # the sign of a Cholesky column is not identified; lme4 reports it non-negative
    theta = np.asarray(theta, dtype=float).copy()
    theta[0] = abs(theta[0])
    if theta.size == 3:
        theta[2] = abs(theta[2])
    n, p = d.X.shape
    s = _reml_state(theta, d)
    sigma = math.sqrt(s.pwrss / (n - p))
    vcov = sigma**2 * np.linalg.inv(s.xax)
    varpar = np.append(theta, sigma)
    vc = _variance_components(theta, sigma, group, random_slope)
    singular = _is_singular(theta, vc, group, random_slope)
    varpar_vcov, jac = _satterthwaite_ingredients(varpar, d, p)
    loglik = -0.5 * reml_deviance(theta, d)
    # judged on the objective itself: optimizers differ in what they call success
    converged = bool(
        np.isfinite(loglik) and np.max(np.abs(_projected_gradient(theta, d))) < GRADIENT_TOL
    )
    coefficients = coefficient_table(terms, s.beta, vcov, jac, varpar_vcov)
    return MixedFit(
        response=response,
        terms=terms,
        group=group,
        random_slope=random_slope,
        coefficients=coefficients,
        vcov=vcov,
        variance_components=vc,
        loglik=float(loglik),
        optimizer=optimizer,
        converged=converged,
        singular=singular,
        n_obs=int(n),
        n_groups=len(d.groups),
        random_effects=_random_effects(theta, s, d, sigma),
        attempts=attempts,
        theta=theta,
        sigma=float(sigma),
        varpar_vcov=varpar_vcov,
        vcov_jacobian=jac,
        fixed_effects=s.beta.copy(),
    )


def _variance_components(
    theta: np.ndarray, sigma: float, group: str, random_slope: str | None
) -> dict[str, float]:
    q = 1 if random_slope is None else 2
    lam = _lambda(theta, q)
    g = sigma**2 * lam @ lam.T
    vc = {f"{group}|{INTERCEPT}|": float(g[0, 0])}
    if random_slope is not None:
        vc[f"{group}|{random_slope}|"] = float(g[1, 1])
        vc[f"{group}|{INTERCEPT}|{random_slope}"] = float(g[1, 0])
    vc["Residual||"] = float(sigma**2)
    return vc


def _correlation(vc: dict[str, float], group: str, random_slope: str) -> float:
    v0 = vc[f"{group}|{INTERCEPT}|"]
    v1 = vc[f"{group}|{random_slope}|"]
    c = vc[f"{group}|{INTERCEPT}|{random_slope}"]
    return float(c / math.sqrt(v0 * v1)) if v0 > 0 and v1 > 0 else float("nan")


def _is_singular(
    theta: np.ndarray, vc: dict[str, float], group: str, random_slope: str | None
) -> bool:
    diagonal = theta[[0]] if theta.size == 1 else theta[[0, 2]]
    if np.any(diagonal < SINGULAR_TOL):
        return True
    if random_slope is None:
        return False
    r = _correlation(vc, group, random_slope)
    return bool(np.isfinite(r) and abs(r) > CORRELATION_LIMIT)


def _satterthwaite_ingredients(
    varpar: np.ndarray, d: _Design, p: int
) -> tuple[np.ndarray, np.ndarray]:
    """lmerTest's ``vcov_varpar`` (2 H^+) and ``Jac_list`` at the REML estimates."""
    hess = richardson_hessian(lambda v: _deviance_varpar(v, d), varpar)
    evals, evecs = np.linalg.eigh(hess)
    pos = evals > HESSIAN_EIGEN_TOL
    h_inv = (evecs[:, pos] / evals[pos]) @ evecs[:, pos].T
    jac = richardson_jacobian(lambda v: _covbeta_varpar(v, d), varpar)
    jac_list = np.stack([jac[:, k].reshape(p, p) for k in range(varpar.size)])
    return 2.0 * h_inv, jac_list


def _random_effects(theta: np.ndarray, s: _RemlState, d: _Design, sigma: float) -> pd.DataFrame:
    """Conditional modes ``Lambda u_j`` and lme4 ``condVar`` SDs.

    lme4's ``ranef(condVar = TRUE)`` gives ``sigma^2 Lambda M_j^-1 Lambda'`` per group,
    the conditional covariance given the estimated theta and beta.
    """
    a, b, c = _full_theta(theta)
    e0 = s.v0 - s.w0 @ s.beta
    e1 = s.v1 - s.w1 @ s.beta
    u0 = (s.m11 * e0 - s.m01 * e1) / s.det
    u1 = (s.m00 * e1 - s.m01 * e0) / s.det
    i00, i01, i11 = s.m11 / s.det, -s.m01 / s.det, s.m00 / s.det
    nan = np.full(len(d.groups), np.nan)
    slope = b * u0 + c * u1
    slope_var = b * b * i00 + 2.0 * b * c * i01 + c * c * i11
    return pd.DataFrame(
        {
            "group": d.groups,
            "n_obs": np.bincount(d.codes, minlength=len(d.groups)),
            "intercept": a * u0,
            "intercept_cond_sd": sigma * np.sqrt(a * a * i00),
            "slope": slope if d.q == 2 else nan,
            "slope_cond_sd": sigma * np.sqrt(slope_var) if d.q == 2 else nan,
        }
    )


# ------------------------------------------------------------------------- utilities


def _json_float(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for row in frame.to_dict(orient="records"):
        out.append(
            {
                k: (
                    _json_float(v)
                    if isinstance(v, float | np.floating)
                    else (bool(v) if isinstance(v, bool | np.bool_) else v)
                )
                for k, v in row.items()
            }
        )
    return out
