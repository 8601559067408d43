"""Two-level linear mixed models (e.g. patients in therapists) fitted by REML as lme4 does.

The model is ``y = X beta + Z b + e`` with one grouping factor, a random intercept and
optionally one random slope with an unstructured 2x2 covariance. Variance parameters use
lme4's parametrization: ``G = sigma^2 * Lambda Lambda'`` with ``Lambda`` the lower
triangular relative Cholesky factor whose entries (column-major) form ``theta``.

The objective is lme4's profiled REML deviance (:mod:`process_outcome.mixed.reml`: per-group
blocks vectorised over groups, on a centred and scaled design, O(n + groups) per
evaluation, with its exact gradient). The optimizer works on the scaled design:

1. a random-slope model starts from its random-intercept model on the same rows (and
   from lme4's default start, and a given ``start``); that model's REML log-likelihood
   is a floor the slope model must reach (it nests it). A ``start`` that *is* that
   random-intercept fit (aim 2 passes its aim 1 model; recognised by value) is reused
   instead of fitted again;
2. bounded SLSQP from every start, then restarts off any zero variance (with the
   off-diagonal element's sign flipped too: on the boundary the sign of the covariance
   is not identified, and a bounded optimizer can stop on the wrong side) and along any
   direction of negative curvature;
3. the best solution is *checked*: the Newton decrement of the deviance (the gain a
   quadratic model still predicts, in log-likelihood units, independent of the data's
   scale) must be below 1e-6 and the Hessian positive semi-definite, which a saddle on
   the boundary fails;
4. escalation when the optimum is in doubt (not confirmed, below the floor, starts
   ending at distinct confirmed local optima, or a boundary solution with a nonzero
   off-diagonal theta): L-BFGS-B and unconstrained BFGS from the best solution and
   every start; Nelder-Mead and Powell when these leave the optimum unconfirmed, below
   the floor, or moved it; then statsmodels ``MixedLM`` if still in doubt. A start
   that stops short of the best at a point that is not a local optimum (lme4's
   default start often lands on a boundary saddle) is not a doubt: the restarts and
   the check cover it. The reasons are kept in :attr:`MixedFit.escalation` and the
   model JSON.

Fixed effects, their covariance, log-likelihood, variance components and conditional
modes are reported on the original scale as lme4 computes them, and the Satterthwaite
ingredients (Hessian of the deviance and Jacobian of the fixed-effect covariance with
respect to lme4's ``(theta, sigma)``) as lmerTest computes them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from process_outcome.errors import ModelSpecificationError
from process_outcome.mixed.optimize import check_optimum, search_optimum, start_from_fit
from process_outcome.mixed.reml import (
    Design,
    build_design,
    deviance,
    deviance_scaled,
    relative_factor,
    scaled_factor,
    theta_from_factor,
)
from process_outcome.mixed.results import INTERCEPT, FitAttempt, MixedFit, assemble_fit

__all__ = ["fit_at_theta", "fit_mixed", "reml_deviance", "theta_from_variance_components"]


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
    fixed_terms = _fixed_terms(terms)
    design = build_design(data, response, fixed_terms, group, slope)
    starts: list[tuple[str, np.ndarray]] = []
    floor = min_loglik
    if start is not None:
        starts.append(("start", start_from_fit(start, design)))
    if design.q == 2:
        # the random-intercept model on the same rows: start and floor (it is nested)
        rows = data.loc[data[slope].notna()]
        intercept_design = build_design(rows, response, fixed_terms, group, None)
        theta0, loglik0 = _intercept_optimum(intercept_design, start, response, fixed_terms)
        floor = loglik0 if floor is None else max(floor, loglik0)
        starts.insert(0, ("intercept-only", np.array([abs(theta0[0]), 0.0, 0.1])))
        starts.append(("default", np.array([1.0, 0.0, 1.0])))
    else:
        starts.append(("default", np.ones(1)))
    search = search_optimum(design, starts, floor, use_statsmodels)
    theta = theta_from_factor(design.z_transform @ relative_factor(search.theta, design.q))
    return assemble_fit(
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


def _fixed_terms(terms: Sequence[str]) -> tuple[str, ...]:
    """The fixed terms without the intercept; a bare string is refused (it would be read
    as a sequence of one-letter column names)."""
    if isinstance(terms, str):
        raise ModelSpecificationError(
            f"terms={terms!r} is a string, which would be read as its characters: give a "
            f"list of column names, e.g. terms=[{terms!r}]"
        )
    return tuple(t for t in terms if t != INTERCEPT)


def _intercept_optimum(
    d: Design, start: MixedFit | None, response: str, fixed_terms: tuple[str, ...]
) -> tuple[np.ndarray, float]:
    """Scaled theta and REML log-likelihood of the random-intercept model on design ``d``.

    A caller often holds this very fit already (aim 2 passes its aim 1 model as
    ``start``): it is reused when it is a confirmed random-intercept optimum of the same
    model and its log-likelihood is reproduced on ``d`` (the same rows, by value);
    otherwise the model is fitted here.
    """
    if (
        start is not None
        and start.random_slope is None
        and start.converged
        and start.response == response
        and start.terms == (INTERCEPT, *fixed_terms)
        and start.n_obs == d.n
        and start.n_groups == len(d.groups)
    ):
        theta0 = np.asarray(start.theta, dtype=float)[:1]
        loglik0 = -0.5 * deviance_scaled(theta0, d)
        if abs(loglik0 - start.loglik) <= 1e-9 * max(1.0, abs(start.loglik)):
            return theta0, loglik0
    search0 = search_optimum(d, [("default", np.ones(1))], None, False)
    return search0.theta, -0.5 * deviance_scaled(search0.theta, d)


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
    fixed_terms = _fixed_terms(terms)
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
        return assemble_fit(
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
