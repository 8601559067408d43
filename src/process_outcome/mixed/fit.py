"""Two-level linear mixed models (e.g. patients in therapists) fitted by REML as lme4 does.

The model is ``y = X beta + Z b + e`` with one grouping factor, a random intercept and
optionally one random slope with an unstructured 2x2 covariance. Variance parameters use
lme4's parametrization: ``G = sigma^2 * Lambda Lambda'`` with ``Lambda`` the lower
triangular relative Cholesky factor whose entries (column-major) form ``theta``.

The objective is lme4's profiled REML deviance (:mod:`process_outcome.mixed.reml`: per-group
blocks vectorised over groups, on a centred and scaled design, O(n + groups) per
evaluation). The optimizer works on the scaled design:

1. a random-slope model first fits its random-intercept model on the same rows and
   starts from it (and from lme4's default start, and a given ``start``); its REML
   log-likelihood is a floor the slope model must reach (it nests it);
2. bounded SLSQP from every start, then restarts off any zero variance (with the
   off-diagonal element's sign flipped too: on the boundary the sign of the covariance
   is not identified, and a bounded optimizer can stop on the wrong side) and along any
   direction of negative curvature;
3. the best solution is *checked*: the Newton decrement of the deviance (the gain a
   quadratic model still predicts, in log-likelihood units, independent of the data's
   scale) must be below 1e-6 and the Hessian positive semi-definite, which a saddle on
   the boundary fails;
4. escalation when the optimum is in doubt (not confirmed, below the floor, starts
   disagreeing, or a boundary solution with a nonzero off-diagonal theta): L-BFGS-B,
   unconstrained BFGS and Nelder-Mead, then statsmodels ``MixedLM``. The reasons are
   kept in :attr:`MixedFit.escalation` and the model JSON.

Fixed effects, their covariance, log-likelihood, variance components and conditional
modes are reported on the original scale as lme4 computes them, and the Satterthwaite
ingredients (Hessian of the deviance and Jacobian of the fixed-effect covariance with
respect to lme4's ``(theta, sigma)``) as lmerTest computes them.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize
from threadpoolctl import threadpool_limits

from process_outcome.mixed.inference import (
    coefficient_table,
    richardson_hessian,
    richardson_jacobian,
)
from process_outcome.mixed.reml import (
    Design,
    build_design,
    covbeta_varpar,
    deviance,
    deviance_scaled,
    deviance_varpar,
    relative_factor,
    reml_state,
    scaled_factor,
    theta_from_factor,
)

__all__ = [
    "DECREMENT_TOL",
    "INTERCEPT",
    "NESTING_TOL",
    "FitAttempt",
    "MixedFit",
    "OptimumCheck",
    "check_optimum",
    "fit_at_theta",
    "fit_mixed",
    "reml_deviance",
    "theta_from_variance_components",
]

INTERCEPT = "(Intercept)"
SINGULAR_TOL = 1e-4  # lme4::isSingular default tolerance on theta's bounded elements
CORRELATION_LIMIT = 0.999  # |intercept-slope correlation| above this is flagged singular
HESSIAN_EIGEN_TOL = 1e-8  # lmerTest's tolerance for the generalized inverse of the Hessian
DECREMENT_TOL = 1e-6  # REML logLik a quadratic model may still promise at an optimum
CURVATURE_TOL = 1e-4  # Hessian eigenvalue (deviance per unit scaled theta^2) counted < 0
TIE_TOL = 1e-9  # log-likelihood differences below this are ties (keep the earlier optimizer)
NESTING_TOL = 1e-6  # REML log-likelihood a nesting model may fall short by (rounding)
AGREE_TOL = 1e-6  # REML log-likelihood by which optima from different starts may differ


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
        The kept solution passed :func:`check_optimum` (scale-free second-order test).
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
    fixed_effects : numpy.ndarray
        Fixed-effect estimates in ``terms`` order.
    escalation : tuple of str
        Why the optimizer escalated beyond its routine runs (empty if it did not).
    newton_decrement : float
        REML log-likelihood a quadratic model of the deviance still promised at the
        solution (``converged`` requires it below ``DECREMENT_TOL``).
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
    escalation: tuple[str, ...] = ()
    newton_decrement: float = math.nan

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
            "escalation": list(self.escalation),
            "newton_decrement": _json_float(self.newton_decrement),
        }


@dataclass(frozen=True)
class OptimumCheck:
    """Second-order check of a solution on the scaled design.

    Attributes
    ----------
    decrement : float
        Newton decrement ``g' H^+ g / 4``: the REML log-likelihood a quadratic model of
        the deviance still promises (scale-free).
    min_eigenvalue : float
        Smallest eigenvalue of the deviance Hessian in scaled theta.
    confirmed : bool
        ``decrement < DECREMENT_TOL`` and no eigenvalue below ``-CURVATURE_TOL``.
    direction : numpy.ndarray
        Eigenvector of the smallest eigenvalue (a way out of a saddle).
    """

    decrement: float
    min_eigenvalue: float
    confirmed: bool
    direction: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0))


def fit_mixed(
    data: pd.DataFrame,
    response: str,
    terms: Sequence[str],
    group: str,
    slope: str | None = None,
    start: MixedFit | None = None,
    *,
    min_loglik: float | None = None,
    use_statsmodels: bool = False,
    random_slope: str | None = None,
) -> MixedFit:
    """Fit ``response ~ terms + (1 [+ slope] | group)`` by REML, as lme4 + lmerTest.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per observation.
    response : str
        Response column.
    terms : sequence of str
        Fixed-effect terms besides the intercept; ``"a:b"`` is the product of columns
        ``a`` and ``b``. A leading ``"(Intercept)"`` is accepted and ignored.
    group : str
        Grouping column.
    slope : str, optional
        Column whose slope varies by group (correlated with the random intercept).
    start : MixedFit, optional
        A previous fit whose variance parameters serve as an extra starting value.
    min_loglik : float, optional
        A REML log-likelihood the fit must reach (e.g. of a model nested in this one);
        with a slope, the random-intercept model on the same rows is always such a
        floor. Falling short escalates the optimizer.
    use_statsmodels : bool, default False
        Also run statsmodels ``MixedLM`` first (an independent optimizer; slow with
        many groups).
    random_slope : str, optional
        Former name of ``slope``, still accepted.

    Returns
    -------
    MixedFit
        The solution with the highest REML log-likelihood over all attempts; see
        ``converged``, ``singular`` and ``escalation``.

    Examples
    --------
    >>> import pandas as pd
    >>> from process_outcome import fit_mixed
    >>> d = pd.DataFrame({"g": list("aabbccdd"), "x": [0, 1] * 4,
    ...                   "y": [1.0, 2.1, 1.4, 2.0, 0.7, 1.9, 1.2, 2.6]})
    >>> fit = fit_mixed(d, "y", ["x"], "g")
    >>> round(float(fit.coefficients.loc[1, "estimate"]), 3)
    1.075
    """
    if random_slope is not None:
        if slope is not None and slope != random_slope:
            raise ValueError(f"slope={slope!r} and random_slope={random_slope!r} disagree")
        slope = random_slope
    # every BLAS call here is on (groups x 2) arrays: threads only add contention
    # (a star fit took 3.0 s with OpenBLAS threads on a busy 2-core machine, 0.4 s without)
    with threadpool_limits(limits=1, user_api="blas"):
        return _fit(data, response, terms, group, slope, start, min_loglik, use_statsmodels)


def _fit(
    data: pd.DataFrame,
    response: str,
    terms: Sequence[str],
    group: str,
    slope: str | None,
    start: MixedFit | None,
    min_loglik: float | None,
    use_statsmodels: bool,
) -> MixedFit:
    fixed_terms = tuple(t for t in terms if t != INTERCEPT)
    design = build_design(data, response, fixed_terms, group, slope)
    starts: list[tuple[str, np.ndarray]] = []
    floor = min_loglik
    if start is not None:
        starts.append(("start", _start_from_fit(start, design)))
    if design.q == 2:
        # the random-intercept model on the same rows: start and floor (it is nested)
        rows = data.loc[data[slope].notna()]
        intercept_design = build_design(rows, response, fixed_terms, group, None)
        search0 = _search(intercept_design, [("default", np.ones(1))], None, False)
        theta0 = search0.theta
        loglik0 = -0.5 * deviance_scaled(theta0, intercept_design)
        floor = loglik0 if floor is None else max(floor, loglik0)
        starts.insert(0, ("intercept-only", np.array([abs(theta0[0]), 0.0, 0.1])))
        starts.append(("default", np.array([1.0, 0.0, 1.0])))
    else:
        starts.append(("default", np.ones(1)))
    search = _search(design, starts, floor, use_statsmodels)
    theta = theta_from_factor(design.z_transform @ relative_factor(search.theta, design.q))
    return _assemble_fit(
        design,
        theta,
        response=response,
        terms=(INTERCEPT, *fixed_terms),
        group=group,
        random_slope=slope,
        attempts=tuple(search.attempts),
        optimizer=search.attempts[search.best].optimizer,
        check=search.check,
        escalation=tuple(search.reasons),
    )


def fit_at_theta(
    data: pd.DataFrame,
    response: str,
    terms: Sequence[str],
    group: str,
    slope: str | None,
    theta: Sequence[float] | np.ndarray,
) -> MixedFit:
    """Evaluate the model at given variance parameters instead of optimizing them.

    Everything else (beta, sigma, vcov, Satterthwaite ingredients, conditional modes)
    is computed from ``theta`` exactly as in :func:`fit_mixed`, e.g. at lme4's theta
    from :func:`theta_from_variance_components` to compare with lme4.

    Parameters
    ----------
    data, response, terms, group, slope
        As in :func:`fit_mixed`.
    theta : array-like
        lme4's theta (1 element for a random intercept, 3 with a slope).

    Returns
    -------
    MixedFit
        With ``optimizer = "fixed-theta"``; ``converged`` says whether ``theta`` passes
        the optimum check.

    Examples
    --------
    >>> import pandas as pd
    >>> from process_outcome import fit_at_theta
    >>> d = pd.DataFrame({"g": list("aabbcc"), "y": [1.0, 1.2, 2.0, 2.2, 0.5, 0.9]})
    >>> fit_at_theta(d, "y", [], "g", None, [1.0]).optimizer
    'fixed-theta'
    """
    fixed_terms = tuple(t for t in terms if t != INTERCEPT)
    design = build_design(data, response, fixed_terms, group, slope)
    theta = np.asarray(theta, dtype=float)
    if theta.size != design.q * (design.q + 1) // 2:
        raise ValueError(
            f"theta has {theta.size} elements; the model needs {design.q * (design.q + 1) // 2}"
        )
    with threadpool_limits(limits=1, user_api="blas"):
        dev = deviance(theta, design)
        attempt = FitAttempt("fixed-theta", -0.5 * dev if np.isfinite(dev) else -math.inf, True)
        theta_s = theta_from_factor(scaled_factor(theta, design))
        return _assemble_fit(
            design,
            theta,
            response=response,
            terms=(INTERCEPT, *fixed_terms),
            group=group,
            random_slope=slope,
            attempts=(attempt,),
            optimizer=attempt.optimizer,
            check=check_optimum(theta_s, design),
            escalation=(),
        )


def reml_deviance(theta: Sequence[float] | np.ndarray, design: Design) -> float:
    """lme4's profiled REML criterion ``-2 logLik`` at lme4's ``theta``.

    Parameters
    ----------
    theta : array-like
        lme4's theta.
    design : Design
        From :func:`process_outcome.mixed.reml.build_design`.

    Returns
    -------
    float
        ``inf`` where the criterion is undefined.
    """
    return deviance(np.asarray(theta, dtype=float), design)


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
    psi = psi / sigma2
    # a factor of the (possibly semi-definite) covariance: its symmetric square root
    evals, evecs = np.linalg.eigh(psi)
    return theta_from_factor(evecs * np.sqrt(np.clip(evals, 0.0, None)))


# ------------------------------------------------------------------------ optimizing


def _start_from_fit(fit: MixedFit, d: Design) -> np.ndarray:
    """Scaled-design theta of a previous fit (random-intercept or slope) for this model."""
    t = np.asarray(fit.theta, dtype=float)
    if d.q == 1:
        return t[:1].copy()
    lam = relative_factor(t, 2) if t.size == 3 else np.array([[t[0], 0.0], [0.0, 0.0]])
    theta_s = theta_from_factor(np.linalg.solve(d.z_transform, lam))
    # a zero slope element is a stationary point of the deviance: start off it
    theta_s[2] = max(theta_s[2], 0.1)
    return theta_s


def _canonical(theta: np.ndarray) -> np.ndarray:
    """Same covariance, lme4's sign convention; a zero intercept SD folds b into c."""
    return theta_from_factor(relative_factor(theta, 1 if theta.size == 1 else 2))


def _central_gradient(fun: Callable[[np.ndarray], float], x: np.ndarray, step: float) -> np.ndarray:
    grad = np.empty_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = step * max(1.0, abs(x[i]))
        grad[i] = (fun(x + e) - fun(x - e)) / (2.0 * e[i])
    return grad


def _central_hessian(fun: Callable[[np.ndarray], float], x: np.ndarray, step: float) -> np.ndarray:
    n = x.size
    f0 = fun(x)
    h = step * np.maximum(1.0, np.abs(x))
    hess = np.empty((n, n))
    for i in range(n):
        ei = np.zeros(n)
        ei[i] = h[i]
        hess[i, i] = (fun(x + ei) - 2.0 * f0 + fun(x - ei)) / h[i] ** 2
        for j in range(i):
            ej = np.zeros(n)
            ej[j] = h[j]
            hess[i, j] = hess[j, i] = (
                fun(x + ei + ej) - fun(x + ei - ej) - fun(x - ei + ej) + fun(x - ei - ej)
            ) / (4.0 * h[i] * h[j])
    return hess


def check_optimum(theta_scaled: np.ndarray, d: Design) -> OptimumCheck:
    """Is ``theta_scaled`` a (boundary) minimum of the deviance? A scale-free check.

    The deviance is defined for any real theta (a negative diagonal element is the same
    covariance with signs flipped), and on the boundary it is even in the zero
    element, so one unconstrained second-order test serves inside and on the boundary:
    the Newton decrement must be tiny and the Hessian positive semi-definite.

    Parameters
    ----------
    theta_scaled : numpy.ndarray
        Theta on the scaled design (see :mod:`process_outcome.mixed.reml`).
    d : Design
        The model's design.

    Returns
    -------
    OptimumCheck
    """
    x = _canonical(np.asarray(theta_scaled, dtype=float))

    def fun(t: np.ndarray) -> float:
        return deviance_scaled(t, d)

    if not np.isfinite(fun(x)):
        return OptimumCheck(math.inf, -math.inf, False)
    grad = _central_gradient(fun, x, 1e-5)
    hess = _central_hessian(fun, x, 1e-3)
    if not (np.all(np.isfinite(grad)) and np.all(np.isfinite(hess))):
        return OptimumCheck(math.inf, -math.inf, False)
    evals, evecs = np.linalg.eigh(hess)
    pos = evals > CURVATURE_TOL
    step = evecs[:, pos].T @ grad
    # deviance units / 2 = log-likelihood; the Newton gain is g'H^-1 g / 2 in deviance
    decrement = float(np.sum(step**2 / evals[pos]) / 4.0)
    # a gradient along a flat or negative direction is not covered by the decrement
    flat = evecs[:, ~pos].T @ grad
    flat_gain = float(np.max(np.abs(flat))) if flat.size else 0.0
    confirmed = decrement < DECREMENT_TOL and evals[0] > -CURVATURE_TOL and flat_gain < 1e-3
    return OptimumCheck(decrement, float(evals[0]), bool(confirmed), evecs[:, 0].copy())


def _bounds(q: int) -> list[tuple[float | None, float | None]]:
    return [(0.0, None)] if q == 1 else [(0.0, None), (None, None), (0.0, None)]


def _run_scipy(method: str, theta0: np.ndarray, d: Design) -> tuple[np.ndarray, bool, str]:
    def fun(t: np.ndarray) -> float:
        return deviance_scaled(t, d)

    bounded = method in {"SLSQP", "L-BFGS-B", "Powell"}
    x0 = _canonical(theta0) if bounded else np.asarray(theta0, dtype=float)
    # relative tolerances suffice: the scaled design makes theta and the deviance O(1)-
    # and O(n)-sized whatever the data's units
    options = {
        "SLSQP": {"ftol": 1e-12, "maxiter": 300},
        "L-BFGS-B": {"ftol": 1e-14, "gtol": 1e-7, "maxiter": 500},
        "BFGS": {"gtol": 1e-6, "maxiter": 500},
        "Nelder-Mead": {"xatol": 1e-9, "fatol": 1e-10, "maxiter": 3000},
        "Powell": {"xtol": 1e-9, "ftol": 1e-13, "maxiter": 3000},
    }[method]
    gradient = method in {"SLSQP", "L-BFGS-B", "BFGS"}
    res = optimize.minimize(
        fun,
        x0,
        jac=(lambda t: _central_gradient(fun, t, 1e-6)) if gradient else None,
        method=method,
        bounds=_bounds(d.q) if bounded else None,
        options=options,
    )
    return _canonical(np.asarray(res.x, dtype=float)), bool(res.success), str(res.message)


def _run_statsmodels(theta0: np.ndarray, d: Design) -> tuple[np.ndarray, bool, str]:
    """statsmodels ``MixedLM`` REML on the scaled design from ``theta0``; returns its theta."""
    from statsmodels.regression.mixed_linear_model import MixedLM, MixedLMParams

    x, y, z = d.x, d.y, d.z
    lam = relative_factor(_canonical(theta0), d.q)
    if d.q == 2 and lam[1, 1] <= 0:
        lam[1, 1] = 0.05  # statsmodels cannot leave an exactly zero slope SD either
    beta0 = reml_state(lam, d).beta
    params = MixedLMParams.from_components(fe_params=beta0, cov_re_sqrt=lam)
    model = MixedLM(y, x, groups=d.codes, exog_re=z)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = model.fit(reml=True, start_params=params, method=["lbfgs"])
    psi = np.atleast_2d(np.asarray(res.cov_re, dtype=float)) / float(res.scale)
    evals, evecs = np.linalg.eigh(psi)
    factor = evecs * np.sqrt(np.clip(evals, 0.0, None))
    return theta_from_factor(factor), bool(res.converged), "statsmodels MixedLM lbfgs"


@dataclass
class _Search:
    attempts: list[FitAttempt]
    thetas: list[np.ndarray]
    reasons: list[str]
    best: int = 0
    check: OptimumCheck | None = None

    @property
    def theta(self) -> np.ndarray:
        return self.thetas[self.best]


def _search(
    d: Design,
    starts: list[tuple[str, np.ndarray]],
    floor: float | None,
    use_statsmodels: bool,
) -> _Search:
    """Optimizer chain on the scaled design; see the module docstring."""
    n_theta = d.q * (d.q + 1) // 2
    s = _Search([], [], [])

    def record(name: str, runner: Any, theta0: np.ndarray) -> None:
        try:
            theta, ok, msg = runner(theta0, d)
            dev = deviance_scaled(theta, d)
            loglik = -0.5 * dev if np.isfinite(dev) else -math.inf
            att = FitAttempt(name, float(loglik), bool(ok and np.isfinite(loglik)), msg)
        except Exception as err:  # a failing optimizer is recorded, not fatal
            att, theta = FitAttempt(name, -math.inf, False, f"{type(err).__name__}: {err}"), None
        s.attempts.append(att)
        s.thetas.append(theta if theta is not None else np.full(n_theta, np.nan))

    def slsqp(t: np.ndarray, dd: Design) -> tuple[np.ndarray, bool, str]:
        return _run_scipy("SLSQP", t, dd)

    def statsmodels_then_polish(theta0: np.ndarray) -> None:
        record("statsmodels-lbfgs", _run_statsmodels, theta0)
        if np.all(np.isfinite(s.thetas[-1])):
            record("reml-slsqp(statsmodels)", slsqp, s.thetas[-1])

    if use_statsmodels:
        statsmodels_then_polish(starts[0][1])
    for name, theta0 in starts:
        record(f"reml-slsqp({name})", slsqp, theta0)
    routine = [a.loglik for a in s.attempts if np.isfinite(a.loglik)]
    _update(s, d)
    # restarts off a zero variance (both signs of the off-diagonal) and out of saddles
    if s.check is not None and (not s.check.confirmed or _boundary(s.theta, d.q)):
        for name, theta0 in _restarts(s.theta, s.check, d.q):
            record(f"reml-slsqp({name})", slsqp, theta0)
        _update(s, d)
    reasons = _doubts(s, d, floor, routine)
    if not reasons:
        return s
    s.reasons.extend(reasons)
    points = [("best", s.theta.copy()), *starts]
    record("reml-lbfgsb(best)", lambda t, dd: _run_scipy("L-BFGS-B", t, dd), points[0][1])
    for name, theta0 in points:
        record(f"reml-bfgs({name})", lambda t, dd: _run_scipy("BFGS", t, dd), theta0)
    record("reml-neldermead(best)", lambda t, dd: _run_scipy("Nelder-Mead", t, dd), s.theta)
    record("reml-powell(best)", lambda t, dd: _run_scipy("Powell", t, dd), s.theta)
    _update(s, d)
    record("reml-slsqp(escalated)", slsqp, s.theta)
    _update(s, d)
    assert s.check is not None
    below = floor is not None and s.attempts[s.best].loglik < floor - NESTING_TOL
    if not s.check.confirmed or below:
        s.reasons.append(
            "after L-BFGS-B, BFGS, Nelder-Mead and Powell: "
            + ("below the floor" if below else "optimum still not confirmed")
            + "; statsmodels MixedLM tried"
        )
        statsmodels_then_polish(s.theta)
        _update(s, d)
    return s


def _update(s: _Search, d: Design) -> None:
    s.best = _best_attempt(s.attempts)
    s.check = check_optimum(s.theta, d)


def _boundary(theta: np.ndarray, q: int) -> bool:
    diagonal = theta[[0]] if q == 1 else theta[[0, 2]]
    return bool(np.any(np.abs(diagonal) < SINGULAR_TOL))


def _restarts(theta: np.ndarray, check: OptimumCheck, q: int) -> list[tuple[str, np.ndarray]]:
    """Starts off a zero variance and along a direction of negative curvature."""
    out: list[tuple[str, np.ndarray]] = []
    diagonal = [0] if q == 1 else [0, 2]
    for i in diagonal:
        if abs(theta[i]) < SINGULAR_TOL:
            for value in (0.1, 0.5):
                t = theta.copy()
                t[i] = value
                out.append((f"off-boundary {i}={value}", t))
                if q == 2 and abs(theta[1]) > SINGULAR_TOL:
                    t = t.copy()
                    t[1] = -t[1]
                    out.append((f"off-boundary {i}={value}, flipped", t))
    if check.direction.size and check.min_eigenvalue < -CURVATURE_TOL:
        for step in (0.1, 0.3):
            for sign in (1.0, -1.0):
                out.append(
                    (f"negative curvature {sign * step:+g}", theta + sign * step * check.direction)
                )
    return out


def _doubts(s: _Search, d: Design, floor: float | None, routine: list[float]) -> list[str]:
    """Why the optimum is in doubt (empty when it is not)."""
    assert s.check is not None
    best = s.attempts[s.best].loglik
    reasons = []
    if not s.check.confirmed:
        reasons.append(
            f"optimum not confirmed (Newton decrement {s.check.decrement:.3g} logLik, "
            f"smallest Hessian eigenvalue {s.check.min_eigenvalue:.3g})"
        )
    if floor is not None and best < floor - NESTING_TOL:
        reasons.append(f"REML logLik {best:.6f} below the nested model's {floor:.6f}")
    if len(routine) > 1 and max(routine) - min(routine) > AGREE_TOL:
        reasons.append(f"starts disagree by {max(routine) - min(routine):.3g} logLik")
    if d.q == 2:
        theta = theta_from_factor(d.z_transform @ relative_factor(s.theta, 2))
        if _boundary(theta, 2) and abs(theta[1]) > SINGULAR_TOL:
            reasons.append("boundary solution with a nonzero off-diagonal theta")
    return reasons


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
    d: Design,
    theta: np.ndarray,
    *,
    response: str,
    terms: tuple[str, ...],
    group: str,
    random_slope: str | None,
    attempts: tuple[FitAttempt, ...],
    optimizer: str,
    check: OptimumCheck | None,
    escalation: tuple[str, ...],
) -> MixedFit:
    # the sign of a Cholesky column is not identified; lme4 reports it non-negative
    theta = theta_from_factor(relative_factor(theta, d.q))
    n, p = d.n, d.p
    factor = scaled_factor(theta, d)
    s = reml_state(factor, d)
    a_mat = d.x_transform
    sigma = d.y_scale * math.sqrt(s.pwrss / (n - p))
    beta = d.y_scale * (a_mat @ s.beta)
    beta[0] += d.y_center
    vcov = sigma**2 * a_mat @ np.linalg.inv(s.xax) @ a_mat.T
    varpar = np.append(theta, sigma)
    vc = _variance_components(theta, sigma, group, random_slope)
    singular = _is_singular(theta, vc, group, random_slope)
    varpar_vcov, jac = _satterthwaite_ingredients(varpar, d, p)
    loglik = -0.5 * deviance(theta, d)
    converged = bool(np.isfinite(loglik) and check is not None and check.confirmed)
    coefficients = coefficient_table(terms, beta, vcov, jac, varpar_vcov)
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
        random_effects=_random_effects(theta, s, d, sigma, beta_scaled=s.beta),
        attempts=attempts,
        theta=theta,
        sigma=float(sigma),
        varpar_vcov=varpar_vcov,
        vcov_jacobian=jac,
        fixed_effects=beta.copy(),
        escalation=escalation,
        newton_decrement=float(check.decrement) if check is not None else math.nan,
    )


def _variance_components(
    theta: np.ndarray, sigma: float, group: str, random_slope: str | None
) -> dict[str, float]:
    q = 1 if random_slope is None else 2
    lam = relative_factor(theta, q)
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
    varpar: np.ndarray, d: Design, p: int
) -> tuple[np.ndarray, np.ndarray]:
    """lmerTest's ``vcov_varpar`` (2 H^+) and ``Jac_list`` at the REML estimates."""
    hess = richardson_hessian(lambda v: deviance_varpar(v, d), varpar)
    evals, evecs = np.linalg.eigh(hess)
    pos = evals > HESSIAN_EIGEN_TOL
    h_inv = (evecs[:, pos] / evals[pos]) @ evecs[:, pos].T
    jac = richardson_jacobian(lambda v: covbeta_varpar(v, d), varpar)
    jac_list = np.stack([jac[:, k].reshape(p, p) for k in range(varpar.size)])
    return 2.0 * h_inv, jac_list


def _random_effects(
    theta: np.ndarray, s: Any, d: Design, sigma: float, beta_scaled: np.ndarray
) -> pd.DataFrame:
    """Conditional modes ``Lambda u_j`` and lme4 ``condVar`` SDs, original scale.

    With ``M_j = C_j C_j'``: ``u_j = C_j^-T (r_j - w_j beta)`` (scaled response units,
    times ``y_scale``), and lme4's ``ranef(condVar = TRUE)`` covariance
    ``sigma^2 Lambda M_j^-1 Lambda'`` = ``sigma^2 K K'`` with ``K = Lambda C_j^-T``.
    """
    q = d.q
    lam = relative_factor(theta, q)
    chol = s.chol_m
    e = s.r - np.einsum("jip,p->ji", s.w, beta_scaled)
    c_inv = np.zeros_like(chol)
    c_inv[:, 0, 0] = 1.0 / chol[:, 0, 0]
    if q == 2:
        c_inv[:, 1, 1] = 1.0 / chol[:, 1, 1]
        c_inv[:, 1, 0] = -chol[:, 1, 0] * c_inv[:, 0, 0] * c_inv[:, 1, 1]
    u = np.einsum("jki,jk->ji", c_inv, e) * d.y_scale  # C^-T e
    k_mat = np.einsum("ab,jcb->jac", lam, c_inv)  # Lambda C^-T
    modes = u @ lam.T
    cond_sd = sigma * np.sqrt(np.einsum("jac,jac->ja", k_mat, k_mat))
    nan = np.full(len(d.groups), np.nan)
    return pd.DataFrame(
        {
            "group": d.groups,
            "n_obs": np.bincount(d.codes, minlength=len(d.groups)),
            "intercept": modes[:, 0],
            "intercept_cond_sd": cond_sd[:, 0],
            "slope": modes[:, 1] if q == 2 else nan,
            "slope_cond_sd": cond_sd[:, 1] if q == 2 else nan,
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
