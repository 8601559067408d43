"""The optimizer of the profiled REML deviance and its escalation.

Bounded SLSQP from every start (exact gradient), restarts off zero variances and along
negative curvature, a scale-free second-order check of the best solution
(:func:`check_optimum`), and escalation (L-BFGS-B and BFGS; Nelder-Mead and Powell if
those leave a doubt; statsmodels ``MixedLM``) when the optimum is in doubt; see
:mod:`process_outcome.mixed.fit` for the whole procedure.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import optimize

from process_outcome.mixed.reml import (
    Design,
    deviance_and_gradient,
    deviance_scaled,
    relative_factor,
    reml_state,
    theta_from_factor,
)
from process_outcome.mixed.results import (
    NESTING_TOL,
    SINGULAR_TOL,
    FitAttempt,
    MixedFit,
    OptimumCheck,
)

__all__ = [
    "AGREE_TOL",
    "CURVATURE_TOL",
    "DECREMENT_TOL",
    "TIE_TOL",
    "OptimumSearch",
    "central_hessian",
    "check_optimum",
    "search_optimum",
    "start_from_fit",
]


DECREMENT_TOL = 1e-6  # REML logLik a quadratic model may still promise at an optimum
CURVATURE_TOL = 1e-4  # Hessian eigenvalue (deviance per unit scaled theta^2) counted < 0
TIE_TOL = 1e-9  # log-likelihood differences below this are ties (keep the earlier optimizer)
AGREE_TOL = 1e-6  # REML log-likelihood by which optima from different starts may differ
CORROBORATED = (
    "boundary solution with a nonzero off-diagonal theta, which the restarts off the "
    "boundary (both signs of the off-diagonal element) all came back to"
)


def start_from_fit(fit: MixedFit, d: Design) -> np.ndarray:
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


def central_hessian(fun: Callable[[np.ndarray], float], x: np.ndarray, step: float) -> np.ndarray:
    """Central-difference Hessian of ``fun`` at ``x`` (steps relative to ``|x|``, at least
    ``step``), shared by the two- and multi-level optimum checks.

    Examples
    --------
    >>> import numpy as np
    >>> central_hessian(lambda v: float(v @ v), np.zeros(2), 1e-3).round(6)
    array([[2., 0.],
           [0., 2.]])
    """
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
    # the exact gradient; the Hessian by differences of the deviance (an independent check)
    grad = deviance_and_gradient(x, d)[1]
    hess = central_hessian(fun, x, 1e-3)
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

    def fun_grad(t: np.ndarray) -> tuple[float, np.ndarray]:
        return deviance_and_gradient(t, d)

    res = optimize.minimize(
        fun_grad if gradient else fun,
        x0,
        jac=gradient,
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
class OptimumSearch:
    """The state of one optimizer chain (:func:`search_optimum`).

    Attributes
    ----------
    attempts : list of FitAttempt
        Every optimizer run so far, in order.
    thetas : list of numpy.ndarray
        Their solutions on the scaled design (same order).
    reasons : list of str
        Why the chain escalated (empty if it did not).
    best : int
        Index of the best attempt (ties keep the earlier one).
    check : OptimumCheck or None
        Second-order check of the best solution.
    """

    attempts: list[FitAttempt]
    thetas: list[np.ndarray]
    reasons: list[str]
    best: int = 0
    check: OptimumCheck | None = None

    @property
    def theta(self) -> np.ndarray:
        """The best solution so far (scaled design)."""
        return self.thetas[self.best]


def search_optimum(
    d: Design,
    starts: list[tuple[str, np.ndarray]],
    floor: float | None,
    use_statsmodels: bool,
) -> OptimumSearch:
    """Optimizer chain on the scaled design; see :mod:`process_outcome.mixed.fit`.

    Parameters
    ----------
    d : Design
        From :func:`process_outcome.mixed.reml.build_design`.
    starts : list of (str, numpy.ndarray)
        Named starting values of the scaled-design theta.
    floor : float or None
        A REML log-likelihood the solution must reach (a nested model's); falling
        short escalates.
    use_statsmodels : bool
        Run statsmodels ``MixedLM`` first.

    Returns
    -------
    OptimumSearch
        All attempts, the best one, its check and any escalation reasons.
    """
    n_theta = d.q * (d.q + 1) // 2
    s = OptimumSearch([], [], [])

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

    solved: dict[bytes, tuple[np.ndarray, bool, str]] = {}

    def slsqp(t: np.ndarray, dd: Design) -> tuple[np.ndarray, bool, str]:
        # SLSQP is deterministic: a start equal to an earlier one (aim 2's nested fit is
        # both the intercept-only start and the given start) is recorded, not rerun
        key = _canonical(np.asarray(t, dtype=float)).tobytes()
        if key not in solved:
            solved[key] = _run_scipy("SLSQP", t, dd)
        theta, ok, msg = solved[key]
        return theta.copy(), ok, msg

    def statsmodels_then_polish(theta0: np.ndarray) -> None:
        record("statsmodels-lbfgs", _run_statsmodels, theta0)
        if np.all(np.isfinite(s.thetas[-1])):
            record("reml-slsqp(statsmodels)", slsqp, s.thetas[-1])

    if use_statsmodels:
        statsmodels_then_polish(starts[0][1])
    for name, theta0 in starts:
        record(f"reml-slsqp({name})", slsqp, theta0)
    routine = list(range(len(s.attempts)))
    _update(s, d)
    # restarts off a zero variance (both signs of the off-diagonal) and out of saddles
    restarts: list[int] = []
    if s.check is not None and (not s.check.confirmed or _boundary(s.theta, d.q)):
        for name, theta0 in _restarts(s.theta, s.check, d.q):
            restarts.append(len(s.attempts))
            record(f"reml-slsqp({name})", slsqp, theta0)
        _update(s, d)
    reasons = _doubts(s, d, floor, routine, restarts)
    if not reasons:
        return s
    s.reasons.extend(reasons)
    if reasons == [CORROBORATED]:
        # the restarts searched both sides of the boundary already: one gradient-based
        # run from the best point confirms it, unless it moves the optimum
        before = s.attempts[s.best].loglik
        record("reml-lbfgsb(best)", lambda t, dd: _run_scipy("L-BFGS-B", t, dd), s.theta.copy())
        _update(s, d)
        assert s.check is not None
        if s.check.confirmed and s.attempts[s.best].loglik <= before + AGREE_TOL:
            return s
    # first the gradient-based optimizers from the best solution and every start; the
    # gradient-free ones only if these leave a doubt (the optimum still unconfirmed or
    # below the floor) or moved the optimum (then the landscape deserves a wider search)
    before = s.attempts[s.best].loglik
    points = [("best", s.theta.copy()), *starts]
    record("reml-lbfgsb(best)", lambda t, dd: _run_scipy("L-BFGS-B", t, dd), points[0][1])
    for name, theta0 in points:
        record(f"reml-bfgs({name})", lambda t, dd: _run_scipy("BFGS", t, dd), theta0)
    _update(s, d)
    assert s.check is not None
    best = s.attempts[s.best].loglik
    below = floor is not None and best < floor - NESTING_TOL
    gradient_free = not s.check.confirmed or below or best > before + AGREE_TOL
    if gradient_free:
        record("reml-neldermead(best)", lambda t, dd: _run_scipy("Nelder-Mead", t, dd), s.theta)
        record("reml-powell(best)", lambda t, dd: _run_scipy("Powell", t, dd), s.theta)
        _update(s, d)
    record("reml-slsqp(escalated)", slsqp, s.theta)
    _update(s, d)
    assert s.check is not None
    below = floor is not None and s.attempts[s.best].loglik < floor - NESTING_TOL
    if not s.check.confirmed or below:
        s.reasons.append(
            (
                "after L-BFGS-B, BFGS, Nelder-Mead and Powell: "
                if gradient_free
                else "after L-BFGS-B and BFGS: "
            )
            + ("below the floor" if below else "optimum still not confirmed")
            + "; statsmodels MixedLM tried"
        )
        statsmodels_then_polish(s.theta)
        _update(s, d)
    return s


def _update(s: OptimumSearch, d: Design) -> None:
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


def _rivals(s: OptimumSearch, d: Design, indices: Sequence[int]) -> list[float]:
    """Log-likelihood gaps of the attempts among ``indices`` that ended at a *different
    local optimum*: more than ``AGREE_TOL`` below the best and confirmed by
    :func:`check_optimum`. An attempt below the best that is not a local optimum (a saddle
    on the boundary, an early stop) is not a rival: it says nothing about the best one.
    """
    best = s.attempts[s.best].loglik
    gaps = []
    for i in indices:
        gap = best - s.attempts[i].loglik
        if np.isfinite(gap) and gap > AGREE_TOL and check_optimum(s.thetas[i], d).confirmed:
            gaps.append(float(gap))
    return gaps


def _doubts(
    s: OptimumSearch,
    d: Design,
    floor: float | None,
    routine: Sequence[int],
    restarts: Sequence[int] = (),
) -> list[str]:
    """Why the optimum is in doubt (empty when it is not); ``routine`` indexes the
    attempts from the given starts, ``restarts`` those off the boundary."""
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
    gaps = _rivals(s, d, routine)
    if gaps:
        reasons.append(f"starts disagree by {max(gaps):.3g} logLik (distinct local optima)")
    if d.q == 2:
        theta = theta_from_factor(d.z_transform @ relative_factor(s.theta, 2))
        if _boundary(theta, 2) and abs(theta[1]) > SINGULAR_TOL:
            reasons.append(
                CORROBORATED
                if _corroborated(s, restarts)
                else "boundary solution with a nonzero off-diagonal theta"
            )
    return reasons


def _corroborated(s: OptimumSearch, restarts: Sequence[int]) -> bool:
    """A confirmed boundary optimum that every restart off the boundary, with the
    off-diagonal element's sign flipped too, came back to (within ``AGREE_TOL``): the
    wrong side of the boundary, which the escalation looks for, has been searched."""
    assert s.check is not None
    flipped = [i for i in restarts if "flipped" in s.attempts[i].optimizer]
    if not (s.check.confirmed and flipped):
        return False
    best = s.attempts[s.best].loglik
    return all(best - s.attempts[i].loglik <= AGREE_TOL for i in restarts)


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
