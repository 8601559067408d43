"""What a mixed-model fit holds: :class:`MixedFit`, its optimizer attempts and optimum
check, and how it is assembled on the original scale (fixed effects, variance components,
singularity, Satterthwaite ingredients, conditional modes of the random effects).

The singularity rule is public so reports can quote it instead of repeating numbers: a
fit is singular when a diagonal element of theta, on the scale of a random-effect column
with unit SD (so that the rule does not depend on the predictor's units), is below
:data:`SINGULAR_TOL` (lme4's ``isSingular`` default tolerance, 1e-4) or, with a random
slope, the absolute intercept-slope correlation exceeds :data:`CORRELATION_LIMIT` (0.999).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from process_outcome.files import json_float, json_records
from process_outcome.mixed.reml import (
    Design,
    deviance,
    relative_factor,
    reml_state,
    scaled_factor,
    theta_from_factor,
)
from process_outcome.mixed.satterthwaite import coefficient_table
from process_outcome.mixed.varpar import satterthwaite_ingredients

__all__ = [
    "CORRELATION_LIMIT",
    "HESSIAN_EIGEN_TOL",
    "INTERCEPT",
    "NESTING_TOL",
    "SINGULAR_TOL",
    "FitAttempt",
    "MixedFit",
    "OptimumCheck",
    "assemble_fit",
]


INTERCEPT = "(Intercept)"
SINGULAR_TOL = 1e-4  # lme4::isSingular default tolerance on theta's bounded elements
CORRELATION_LIMIT = 0.999  # |intercept-slope correlation| above this is flagged singular
HESSIAN_EIGEN_TOL = 1e-8  # lmerTest's tolerance for the generalized inverse of the Hessian
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
            "loglik": json_float(self.loglik),
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
        A diagonal element of theta < 1e-4 with the slope column at unit SD (lme4's
        ``isSingular`` rule made unit-free) or |intercept-slope correlation| > 0.999.
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
    design : Design or None
        The centred, scaled design the fit was computed on (Kenward-Roger and the
        parametric bootstrap read it).
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
    design: Design | None = field(default=None, repr=False, compare=False)

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
            "variance_components": {k: json_float(v) for k, v in self.variance_components.items()},
            "loglik": json_float(self.loglik),
            "optimizer": self.optimizer,
            "attempts": [a.to_dict() for a in self.attempts],
            "converged": bool(self.converged),
            "singular": bool(self.singular),
            "theta": [json_float(v) for v in self.theta],
            "sigma": json_float(self.sigma),
            "coefficients": json_records(self.coefficients),
            "n_obs": int(self.n_obs),
            "n_groups": int(self.n_groups),
            "escalation": list(self.escalation),
            "newton_decrement": json_float(self.newton_decrement),
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


def assemble_fit(
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
    """The :class:`MixedFit` at lme4's ``theta``, everything on the original scale.

    Fixed effects and their covariance, sigma, log-likelihood, variance components,
    singularity (:data:`SINGULAR_TOL`, :data:`CORRELATION_LIMIT`), lmerTest's
    Satterthwaite ingredients and the conditional modes, as lme4/lmerTest compute them.
    The keyword arguments are stored on the fit as given; ``check`` decides
    ``converged``.
    """
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
    vc = _variance_components(theta, sigma, group, random_slope)
    singular = _is_singular(theta, vc, group, random_slope, 1.0 / d.z_transform[-1, -1])
    varpar_vcov, jac = satterthwaite_ingredients(d, theta, sigma)
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
        design=d,
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
    theta: np.ndarray,
    vc: dict[str, float],
    group: str,
    random_slope: str | None,
    slope_sd: float = 1.0,
) -> bool:
    # theta of the slope column rescaled to unit SD: diag(1, sd) Lambda stays triangular
    diagonal = theta[[0]] if theta.size == 1 else theta[[0, 2]] * np.array([1.0, slope_sd])
    if np.any(diagonal < SINGULAR_TOL):
        return True
    if random_slope is None:
        return False
    r = _correlation(vc, group, random_slope)
    return bool(np.isfinite(r) and abs(r) > CORRELATION_LIMIT)


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
