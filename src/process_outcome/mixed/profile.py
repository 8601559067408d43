"""Profile-likelihood confidence intervals of random-effect SDs and the residual SD.

For one parameter ``s`` (an SD of the random intercept or slope, or sigma) the profile is
the deviance minimised over every other variance parameter with ``s`` held fixed; the
signed root ``zeta(s) = sign(s - s_hat) sqrt(dev(s) - dev(s_hat))`` is compared with the
normal quantile ``z`` (1.96 for 95%), and the interval is where ``|zeta| <= z``. This is
lme4's ``confint(fit, method = "profile")`` on the SD/correlation scale, with two
differences, both deliberate:

* the deviance is the REML criterion by default (``criterion="REML"``), so the interval
  brackets the REML estimate that the report prints; lme4 always profiles the ML
  deviance (its ``devfun2`` calls ``refitML``). ``criterion="ML"`` reproduces lme4
  (checked in ``tests/unit/mixed/test_profile.py``);
* each bound is the root of ``zeta(s) = -/+ z`` found by Brent's method, where lme4
  interpolates a spline through profile points spaced 1/8 of its cutoff apart.

A lower SD bound is 0 when the estimate is on the boundary or the profile at ``s = 0``
is still within the cutoff; an upper bound is infinite when the deviance never rises by
``z^2`` within a bounded search.

**The boundary** (``boundary="mixture"``, the default). At ``s = 0`` the hypothesis is on
the edge of the parameter space: with a random slope, an SD of 0 also removes its
correlation, and the likelihood-ratio statistic ``dev(0) - dev(s_hat)`` follows a 50:50
mixture of chi-square(1) and chi-square(2), not chi-square(1) (Self & Liang, 1987; Stram
& Lee, 1994): exactly the mixture test of :func:`process_outcome.mixed.testing.
mixture_lr_test`. So the lower bound of such an SD is 0 exactly when that test's p is at
least ``1 - level`` (the interval is inverted from the same test at 0), and otherwise the
chi-square(1) crossing, which then lies above 0 (the mixture's 95% point, 5.14, exceeds
3.84); interval and test never disagree. lme4 uses the chi-square(1) cutoff at 0 too
(``boundary="chi2"``), which excludes 0 for a true SD of 0 in P(chi2_1 > 3.84) of studies
(about 10%, issue 19) where the mixture test gives 5%. An SD without a correlation (a
random-intercept model) keeps the chi-square(1) rule: there the boundary mixture is
chi-square(0):chi-square(1), whose cutoff (2.71) lies below the interior one.

The nuisance parameters are the absolute covariance's Cholesky entries and ``log
sigma``, parametrised so that the fixed parameter is held exactly and the rest is
unconstrained (a slope SD ``s`` enters as ``(s sin a, s cos a)``), and each profile point
is a BFGS minimisation warm-started from the nearest point already profiled and from
the estimate. Every loop is bounded.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, stats
from threadpoolctl import threadpool_limits

from process_outcome.mixed.reml import (
    Design,
    build_design,
    deviance_varpar,
    reml_state,
    scaled_factor,
)
from process_outcome.mixed.results import INTERCEPT, SINGULAR_TOL, MixedFit
from process_outcome.mixed.testing import mixture_lr_test

__all__ = [
    "BOUNDARIES",
    "CRITERIA",
    "PROFILE_COLUMNS",
    "ProfileProblem",
    "nuisance_scaling",
    "parameter_names",
    "profile_confint",
    "profile_problem",
    "profiled_deviance",
]

CRITERIA = ("REML", "ML")
BOUNDARIES = ("mixture", "chi2")
PROFILE_COLUMNS = [
    "parameter",
    "estimate",
    "ci_low",
    "ci_high",
    "low_at_zero",
    "level",
    "criterion",
    "n_fits",
    "problem",
]
MAX_BRACKET_STEPS = 40  # each step at least 1.25x farther out: 1e4-fold range and more
MAX_ROOT_ITER = 60  # Brent's method on a near-linear zeta converges in < 10
DEVIANCE_SLACK = 1e-6  # a profile deviance this far below the optimum is a finding


@dataclass(frozen=True, eq=False)
class ProfileProblem:
    """A model's deviance as a function of its SD/correlation/sigma parameters.

    Attributes
    ----------
    design : Design
        The model's design (:func:`process_outcome.mixed.reml.build_design`).
    criterion : {"REML", "ML"}
        Which deviance is profiled.
    names : tuple of str
        lme4's ``oldNames = FALSE`` names: ``sd_(Intercept)|g``, [``cor_x.(Intercept)|g``,
        ``sd_x|g``,] ``sigma``.
    chol : numpy.ndarray
        Cholesky factor ``C`` (lower triangular) of the random-effects covariance at the
        optimum of ``criterion`` (``C = sigma Lambda``).
    sigma : float
        Residual SD at that optimum.
    deviance : float
        The minimum deviance.
    units : numpy.ndarray
        Optimizer units of the rows of ``C`` (SD scale; a slope's unit where its SD is 0).
    singular : bool
        The fit is singular: its nuisance deviance can have a second basin on the other
        side of a correlation of +/-1, so every profile point also starts from an
        uncorrelated and a sign-flipped correlation (:func:`profiled_deviance`).
    """

    design: Design
    criterion: str
    names: tuple[str, ...]
    chol: np.ndarray
    sigma: float
    deviance: float
    units: np.ndarray
    singular: bool = False

    @property
    def estimates(self) -> np.ndarray:
        """``(sd_intercept, [cor, sd_slope,] sigma)`` at the optimum."""
        return sdcor(self.chol, self.sigma)


def parameter_names(group: str, slope: str | None) -> tuple[str, ...]:
    """lme4's profile names (``oldNames = FALSE``) of a model's variance parameters.

    Examples
    --------
    >>> parameter_names("g", "x")
    ('sd_(Intercept)|g', 'cor_x.(Intercept)|g', 'sd_x|g', 'sigma')
    """
    if slope is None:
        return (f"sd_{INTERCEPT}|{group}", "sigma")
    return (
        f"sd_{INTERCEPT}|{group}",
        f"cor_{slope}.{INTERCEPT}|{group}",
        f"sd_{slope}|{group}",
        "sigma",
    )


def sdcor(chol: np.ndarray, sigma: float) -> np.ndarray:
    """SDs, correlation and sigma of a covariance Cholesky factor (lme4's order)."""
    sd0 = abs(chol[0, 0])
    if chol.shape[0] == 1:
        return np.array([sd0, sigma])
    sd1 = math.hypot(chol[1, 0], chol[1, 1])
    cor = math.copysign(chol[1, 0], chol[0, 0]) / sd1 if sd0 > 0 and sd1 > 0 else 0.0
    return np.array([sd0, cor, sd1, sigma])


def _deviance(design: Design, criterion: str, chol: np.ndarray, sigma: float) -> float:
    """REML or ML deviance at absolute Cholesky factor ``chol`` and residual SD ``sigma``."""
    if not (sigma > 0 and np.all(np.isfinite(chol))):
        return math.inf
    lam = chol / sigma
    theta = np.array([lam[0, 0]]) if lam.shape[0] == 1 else lam[[0, 1, 1], [0, 0, 1]]
    try:
        if criterion == "REML":
            dev = deviance_varpar(np.append(theta, sigma), design)
        else:
            # lme4's ML deviance of (theta, sigma) (devfun2): REML's without log|X'V^-1X|
            s = reml_state(scaled_factor(theta, design), design)
            pwrss = s.pwrss * design.y_scale**2
            dev = s.logdet_m + pwrss / sigma**2 + design.n * math.log(2 * math.pi * sigma**2)
    except (np.linalg.LinAlgError, ValueError, ZeroDivisionError):
        return math.inf
    return float(dev) if np.isfinite(dev) else math.inf


def _minimize(
    fun: Callable[[np.ndarray], float],
    starts: Sequence[np.ndarray],
    hess_inv0: np.ndarray | None = None,
) -> np.ndarray:
    """Best BFGS solution from several starts (central-difference gradients).

    The optimizer variables are O(1) by construction (:attr:`ProfileProblem.units`). The
    deviance carries rounding noise near 1e-10 (its penalized residual sum of squares is
    a difference of sums), so gradients use central differences with a step of 1e-4
    (error about 1e-6) and ``gtol`` 1e-5, which leaves the minimum deviance within about
    1e-9 of its optimum; smaller steps or tolerances only make line searches fail.
    ``hess_inv0``, the inverse Hessian of the nuisance deviance at the estimate, spares
    BFGS from learning the scaling at every profile point.
    """
    best_x, best_f = None, math.inf
    options: dict[str, object] = {"gtol": 1e-5, "maxiter": 200, "finite_diff_rel_step": 1e-4}
    if hess_inv0 is not None:
        options["hess_inv0"] = hess_inv0
    for x0 in starts:
        res = optimize.minimize(fun, x0, method="BFGS", jac="3-point", options=options)
        if np.isfinite(res.fun) and res.fun < best_f:
            best_x, best_f = np.asarray(res.x, dtype=float), float(res.fun)
    if best_x is None:
        raise RuntimeError("no profile optimization reached a finite deviance")
    return best_x


def _inverse_hessian(fun: Callable[[np.ndarray], float], x: np.ndarray) -> np.ndarray | None:
    """Positive-definite inverse of the central-difference Hessian of ``fun`` at ``x``
    (None where it is not finite or not positive definite)."""
    n, h = x.size, 1e-3
    f0 = fun(x)
    hess = np.empty((n, n))
    for i in range(n):
        ei = np.zeros(n)
        ei[i] = h
        hess[i, i] = (fun(x + ei) - 2.0 * f0 + fun(x - ei)) / h**2
        for j in range(i):
            ej = np.zeros(n)
            ej[j] = h
            hess[i, j] = hess[j, i] = (
                fun(x + ei + ej) - fun(x + ei - ej) - fun(x - ei + ej) + fun(x - ei - ej)
            ) / (4.0 * h * h)
    if not np.all(np.isfinite(hess)):
        return None
    evals, evecs = np.linalg.eigh(hess)
    if evals[0] <= 1e-8 * max(evals[-1], 1e-300):
        return None
    inverse = (evecs / evals) @ evecs.T
    return (inverse + inverse.T) / 2.0


def _design_of(data: pd.DataFrame, fit: MixedFit) -> Design:
    terms = [t for t in fit.terms if t != INTERCEPT]
    design = build_design(data, fit.response, terms, fit.group, fit.random_slope)
    if design.n != fit.n_obs:
        raise ValueError(
            f"the data have {design.n} usable rows, the fit {fit.n_obs}: profile the fit "
            "on the rows it was fitted to"
        )
    return design


def profile_problem(data: pd.DataFrame, fit: MixedFit, criterion: str = "REML") -> ProfileProblem:
    """The deviance to profile, at the fit's REML optimum (or the ML optimum from it).

    Parameters
    ----------
    data : pandas.DataFrame
        The rows the model was fitted to.
    fit : MixedFit
        A REML fit (:func:`process_outcome.mixed.fit.fit_mixed`).
    criterion : {"REML", "ML"}
        ``"ML"`` refits by maximum likelihood first (as lme4's ``profile`` does).

    Returns
    -------
    ProfileProblem
    """
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {CRITERIA}, not {criterion!r}")
    design = _design_of(data, fit)
    q = design.q
    theta = np.asarray(fit.theta, dtype=float)
    lam = np.array([[theta[0]]]) if q == 1 else np.array([[theta[0], 0.0], [theta[1], theta[2]]])
    chol, sigma = fit.sigma * lam, float(fit.sigma)
    # slope units: 1% of sigma per SD of the slope column (design: Z_scaled = Z B)
    units = np.array([max(abs(chol[0, 0]), 0.01 * sigma)])
    if q == 2:
        slope_unit = 0.01 * sigma * design.z_transform[1, 1]
        units = np.append(units, max(math.hypot(chol[1, 0], chol[1, 1]), slope_unit))
    if criterion == "ML":
        chol, sigma = _ml_optimum(design, chol, sigma, units)
    dev = _deviance(design, criterion, chol, sigma)
    names = parameter_names(fit.group, fit.random_slope)
    return ProfileProblem(design, criterion, names, chol, sigma, dev, units, bool(fit.singular))


def _pack(chol: np.ndarray, sigma: float, units: np.ndarray) -> np.ndarray:
    if chol.shape[0] == 1:
        return np.array([chol[0, 0] / units[0], math.log(sigma)])
    return np.array(
        [chol[0, 0] / units[0], chol[1, 0] / units[1], chol[1, 1] / units[1], math.log(sigma)]
    )


def _unpack(x: np.ndarray, units: np.ndarray) -> tuple[np.ndarray, float]:
    if units.size == 1:
        return np.array([[x[0] * units[0]]]), math.exp(x[1])
    chol = np.array([[x[0] * units[0], 0.0], [x[1] * units[1], x[2] * units[1]]])
    return chol, math.exp(x[3])


def _ml_optimum(
    design: Design, chol: np.ndarray, sigma: float, units: np.ndarray
) -> tuple[np.ndarray, float]:
    """The ML optimum over every variance parameter, from the REML one."""

    def fun(x: np.ndarray) -> float:
        try:
            c, s = _unpack(x, units)
        except OverflowError:  # a line search far out in log sigma
            return math.inf
        return _deviance(design, "ML", c, s)

    x = _minimize(fun, [_pack(chol, sigma, units)])
    c, s = _unpack(x, units)
    if c.shape[0] == 2 and c[1, 1] < 0:
        c[:, 1] = -c[:, 1]  # the sign of a Cholesky column is not identified
    return c, s


def _with_fixed(
    problem: ProfileProblem, index: int, value: float, u: np.ndarray
) -> tuple[np.ndarray, float]:
    """Covariance factor and sigma with parameter ``index`` at ``value``, nuisance ``u``."""
    units = problem.units
    if problem.design.q == 1:
        if index == 0:
            return np.array([[value]]), math.exp(u[0])
        return np.array([[u[0] * units[0]]]), value
    if index == 0:
        return np.array([[value, 0.0], [u[0] * units[1], u[1] * units[1]]]), math.exp(u[2])
    if index == 2:
        a = u[1]
        return np.array(
            [[u[0] * units[0], 0.0], [value * math.sin(a), value * math.cos(a)]]
        ), math.exp(u[2])
    return np.array([[u[0] * units[0], 0.0], [u[1] * units[1], u[2] * units[1]]]), value


def _nuisance_at_optimum(problem: ProfileProblem, index: int) -> np.ndarray:
    c, s, units = problem.chol, problem.sigma, problem.units
    if problem.design.q == 1:
        return np.array([math.log(s)]) if index == 0 else np.array([c[0, 0] / units[0]])
    if index == 0:
        return np.array([c[1, 0] / units[1], c[1, 1] / units[1], math.log(s)])
    if index == 2:
        return np.array([c[0, 0] / units[0], math.atan2(c[1, 0], c[1, 1]), math.log(s)])
    return np.array([c[0, 0] / units[0], c[1, 0] / units[1], c[1, 1] / units[1]])


def profiled_deviance(
    problem: ProfileProblem,
    parameter: str,
    value: float,
    starts: Sequence[np.ndarray] = (),
    hess_inv0: np.ndarray | None = None,
) -> tuple[float, np.ndarray]:
    """Minimum deviance with ``parameter`` held at ``value``, and the nuisance optimum.

    Parameters
    ----------
    problem : ProfileProblem
        From :func:`profile_problem`.
    parameter : str
        One of ``problem.names`` except the correlation.
    value : float
        The value the parameter is held at (>= 0; > 0 for sigma).
    starts : sequence of numpy.ndarray
        Nuisance starting values (warm starts); default the optimum's nuisance values.
    hess_inv0 : numpy.ndarray, optional
        Initial inverse Hessian for BFGS (see :func:`nuisance_scaling`).

    Returns
    -------
    tuple
        ``(deviance, nuisance)``.
    """
    fun = _nuisance_deviance(problem, parameter, value)
    index = _index(problem, parameter)
    points = list(starts) or [_nuisance_at_optimum(problem, index)]
    if problem.singular:
        points += [v for u in points for v in _correlation_variants(u, index, problem.design.q)]
    u = _minimize(fun, points, hess_inv0)
    return fun(u), u


def _correlation_variants(u: np.ndarray, index: int, q: int) -> list[np.ndarray]:
    """The nuisance ``u`` with the random-effects correlation set to 0 and sign-flipped."""
    if q == 1:
        return []
    if index == 2:  # (c00, angle, log sigma): the angle's sine is the correlation
        return [np.array([u[0], 0.0, u[2]]), np.array([u[0], -u[1], u[2]])]
    # (c10, c11, log sigma) or (c00, c10, c11): c10 carries the covariance
    k = 0 if index == 0 else 1
    zero, flip = u.copy(), u.copy()
    zero[k], zero[k + 1] = 0.0, math.hypot(u[k], u[k + 1])
    flip[k] = -u[k]
    return [zero, flip]


def _nuisance_deviance(
    problem: ProfileProblem, parameter: str, value: float
) -> Callable[[np.ndarray], float]:
    index = _index(problem, parameter)

    def fun(u: np.ndarray) -> float:
        try:
            chol, sigma = _with_fixed(problem, index, value, u)
        except OverflowError:  # a line search far out in log sigma
            return math.inf
        return _deviance(problem.design, problem.criterion, chol, sigma)

    return fun


def nuisance_scaling(problem: ProfileProblem, parameter: str) -> np.ndarray | None:
    """Inverse Hessian of the nuisance deviance at the estimate (BFGS's first metric).

    Returns
    -------
    numpy.ndarray or None
        None where the Hessian is not positive definite (a boundary estimate); BFGS then
        starts from the identity.
    """
    index = _index(problem, parameter)
    value = float(problem.estimates[index])
    return _inverse_hessian(
        _nuisance_deviance(problem, parameter, value), _nuisance_at_optimum(problem, index)
    )


def _index(problem: ProfileProblem, parameter: str) -> int:
    if parameter not in problem.names or parameter.startswith("cor_"):
        profiled = [n for n in problem.names if not n.startswith("cor_")]
        raise ValueError(f"cannot profile {parameter!r}; parameters: {profiled}")
    return problem.names.index(parameter)


def profile_confint(
    data: pd.DataFrame,
    fit: MixedFit,
    level: float = 0.95,
    criterion: str = "REML",
    parameters: Sequence[str] | None = None,
    *,
    boundary: str = "mixture",
    nested_loglik: float | None = None,
) -> pd.DataFrame:
    """Profile-likelihood confidence intervals of the SDs and sigma of a fit.

    Parameters
    ----------
    data : pandas.DataFrame
        The rows the model was fitted to.
    fit : MixedFit
        A REML fit.
    level : float
        Confidence level.
    criterion : {"REML", "ML"}
        The deviance profiled (``"ML"``: as lme4's ``confint(method = "profile")``).
    parameters : sequence of str, optional
        Names from :func:`parameter_names`; default every SD and sigma.
    boundary : {"mixture", "chi2"}
        Rule for a lower bound of 0 (module docstring): ``"mixture"`` agrees with the
        mixture LR test of the SD; ``"chi2"`` is lme4's.
    nested_loglik : float, optional
        REML log-likelihood of the random-intercept model on the same rows: the slope
        SD's lower bound then follows ``mixture_lr_test(fit.loglik, nested_loglik)``
        itself, so that a table's interval and test agree to the last digit (without it
        the profile's own deviance at 0 is used; the two agree to about 1e-9).

    Returns
    -------
    pandas.DataFrame
        One row per parameter, columns :data:`PROFILE_COLUMNS`: ``estimate`` (at the
        ``criterion``'s optimum), ``ci_low``, ``ci_high``, ``low_at_zero`` (the lower
        bound is 0 because the profile never crosses the cutoff above zero), ``n_fits``
        (profile points optimized) and ``problem`` (empty, or what went wrong).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from process_outcome.mixed.fit import fit_mixed
    >>> rng = np.random.default_rng(1)
    >>> g = np.repeat(np.arange(10), 5)
    >>> d = pd.DataFrame({"g": g, "y": rng.normal(size=10)[g] + rng.normal(size=50)})
    >>> ci = profile_confint(d, fit_mixed(d, "y", [], "g"))
    >>> bool((ci["ci_low"] <= ci["estimate"]).all() and (ci["estimate"] <= ci["ci_high"]).all())
    True
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, not {level}")
    if boundary not in BOUNDARIES:
        raise ValueError(f"boundary must be one of {BOUNDARIES}, not {boundary!r}")
    # far out in a profile's tails the deviance overflows or is undefined: those points
    # count as infinite (see _deviance), so numpy's warnings about them are noise
    with threadpool_limits(limits=1, user_api="blas"), np.errstate(all="ignore"):
        problem = profile_problem(data, fit, criterion)
        names = [n for n in problem.names if not n.startswith("cor_")]
        rows = []
        for name in parameters if parameters is not None else names:
            lr0 = None
            slope_sd = problem.design.q == 2 and name == names[-2]
            if nested_loglik is not None and criterion == "REML" and slope_sd:
                lr0 = 2.0 * (fit.loglik - float(nested_loglik))
            rows.append(_interval(problem, name, level, boundary, lr0))
    return pd.DataFrame(rows, columns=PROFILE_COLUMNS)


def _interval(
    problem: ProfileProblem,
    name: str,
    level: float,
    boundary: str = "mixture",
    lr0: float | None = None,
) -> dict[str, object]:
    index = _index(problem, name)
    hat = float(problem.estimates[index])
    z = float(stats.norm.ppf(0.5 + level / 2))
    done: dict[float, tuple[float, np.ndarray]] = {}
    lowest = [0.0]
    metric = nuisance_scaling(problem, name)

    def zeta(v: float) -> float:
        if v in done:  # Brent's method re-evaluates its bracket's ends
            return done[v][0]
        # warm start from the nearest point on the same side (the optimum's for the first)
        side = [k for k in done if (k - hat) * (v - hat) > 0]
        start = [done[min(side, key=lambda k: abs(k - v))][1]] if side else []
        dev, u = profiled_deviance(problem, name, v, start, metric)
        delta = dev - problem.deviance
        lowest[0] = min(lowest[0], delta)
        done[v] = (math.copysign(math.sqrt(max(delta, 0.0)), v - hat), u)
        return done[v][0]

    unit = problem.units[0 if index == 0 else 1] if name != "sigma" else problem.sigma
    upper = _bound(zeta, hat, z, unit, +1, floor=None)
    low_at_zero = False
    if name == "sigma":
        lower = _bound(zeta, hat, z, unit, -1, floor=0.0)
    elif hat < SINGULAR_TOL * unit or not _excludes_zero(
        zeta, z, level, boundary == "mixture" and problem.design.q == 2, lr0
    ):
        lower, low_at_zero = 0.0, True
    else:
        lower = _root(zeta, 0.0, hat, -z, unit)
    problem_text = ""
    if lowest[0] < -DEVIANCE_SLACK:
        problem_text = (
            f"the profile reached a {problem.criterion} deviance {-lowest[0]:.3g} below the "
            "fit's: the fit is not at its optimum"
        )
    if math.isinf(upper):
        problem_text = (problem_text + "; " if problem_text else "") + (
            "the deviance never rose by the cutoff: no finite upper bound"
        )
    if math.isnan(lower) or math.isnan(upper):
        problem_text = (problem_text + "; " if problem_text else "") + (
            f"the root search for a bound did not converge in {MAX_ROOT_ITER} iterations"
        )
    return {
        "parameter": name,
        "estimate": hat,
        "ci_low": lower,
        "ci_high": upper,
        "low_at_zero": low_at_zero,
        "level": level,
        "criterion": problem.criterion,
        "n_fits": len(done),
        "problem": problem_text,
    }


def _excludes_zero(
    zeta: Callable[[float], float], z: float, level: float, mixture: bool, lr0: float | None
) -> bool:
    """Whether the test of an SD of 0 rejects: the mixture LR test (``mixture``; from
    ``lr0`` when given, else the profile's deviance at 0) or chi-square(1) (lme4)."""
    if not mixture:
        return zeta(0.0) <= -z
    lr = zeta(0.0) ** 2 if lr0 is None else lr0
    _, p = mixture_lr_test(0.5 * lr, 0.0)
    # the chi-square(1) crossing must exist below the estimate: it does when the mixture
    # rejects (its cutoff exceeds z^2); the guard only protects a fit off its optimum
    return bool(p < 1.0 - level) and zeta(0.0) < -z


def _root(zeta: Callable[[float], float], a: float, b: float, target: float, unit: float) -> float:
    """Brent's root of ``zeta = target`` in ``[a, b]``; NaN if it does not converge within
    :data:`MAX_ROOT_ITER` iterations (reported as a problem, never hidden)."""
    root, info = optimize.brentq(
        lambda v: zeta(v) - target,
        a,
        b,
        xtol=1e-9 * unit,
        rtol=1e-9,
        maxiter=MAX_ROOT_ITER,
        full_output=True,
        disp=False,
    )
    return float(root) if info.converged else math.nan


def _bound(
    zeta: Callable[[float], float],
    hat: float,
    z: float,
    unit: float,
    side: int,
    floor: float | None,
) -> float:
    """Bracket the crossing of ``zeta = side * z`` outward from ``hat``, then Brent."""
    step = 0.5 * max(hat, unit)
    inner = hat
    for _ in range(MAX_BRACKET_STEPS):
        v = hat + side * step
        if floor is not None and v <= floor:
            v = floor + (inner - floor) / 4  # sigma > 0: approach 0 geometrically
        value = zeta(v)
        if side * value >= z:
            return _root(zeta, min(inner, v), max(inner, v), side * z, unit)
        inner = v
        # zeta is close to linear in an SD: aim a little beyond the linear crossing
        growth = 1.1 * z / (side * value) if side * value > 0 else 8.0
        step = abs(v - hat) * min(max(growth, 1.25), 8.0)
    return math.inf if side > 0 else (floor if floor is not None else -math.inf)
