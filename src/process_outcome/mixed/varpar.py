"""Exact derivatives in the variance parameters: lmerTest's Satterthwaite ingredients
without numerical differentiation, and the per-group blocks Kenward-Roger reads.

lmerTest takes the Hessian of the REML deviance in ``varpar = (theta, sigma)`` and the
Jacobian of the fixed-effect covariance from ``numDeriv`` with steps that are absolute
where ``|theta| < 1.8e-5``; rescaling a random-slope predictor rescales theta, so the steps
(and the df) change with the predictor's unit, and a step can cross zero. Here both are
exact (:mod:`process_outcome.mixed.marginal`), computed on the centred, scaled design and
carried to lmerTest's ``varpar`` by the chain rule through the quadratic map
``(theta, sigma) -> (Cov(b), sigma^2)``, and the generalized inverse of the Hessian drops
eigenvalues relative to a Jacobi-scaled matrix: Satterthwaite df, t and p are then
invariant to the units of every predictor and of the response.
"""

from __future__ import annotations

import numpy as np

from process_outcome.mixed.marginal import (
    BlockModel,
    VDerivative,
    moments,
    reml_derivatives,
    reml_gradient,
)
from process_outcome.mixed.reml import Design, scaled_factor

__all__ = [
    "EIGEN_REL_TOL",
    "block_model",
    "covariance_parameters",
    "satterthwaite_ingredients",
    "scale_free_pinv",
    "scaled_covariance",
]

EIGEN_REL_TOL = 1e-8  # Hessian eigenvalues below this share of the largest (Jacobi-scaled) drop


def block_model(d: Design) -> BlockModel:
    """The scaled design's per-group cross-products in :class:`BlockModel` layout."""
    return BlockModel(
        ztz=np.ascontiguousarray(d.ztz.transpose(2, 0, 1)),
        ztx=np.ascontiguousarray(d.ztx.transpose(1, 0, 2)),
        zty=np.ascontiguousarray(d.zty.T),
        xtx=d.xtx,
        xty=d.xty,
        yty=d.yty,
        n=d.n,
    )


def scaled_covariance(d: Design, theta: np.ndarray, sigma: float) -> tuple[np.ndarray, float]:
    """``Gamma = Cov(b) / sigma^2`` and ``sigma^2`` on the scaled design (scaled response)."""
    factor = scaled_factor(np.asarray(theta, dtype=float), d)
    return factor @ factor.T, (sigma / d.y_scale) ** 2


def _lower_positions(q: int) -> list[tuple[int, int]]:
    """lme4's theta order: the lower triangle column by column."""
    return [(a, b) for b in range(q) for a in range(b, q)]


def covariance_parameters(q: int) -> VDerivative:
    """``dV`` for pbkrtest's linear parameters: ``Cov(b)``'s lower triangle, then ``sigma^2``.

    Examples
    --------
    >>> covariance_parameters(2).s
    array([0., 0., 0., 1.])
    """
    mats = []
    for a, b in _lower_positions(q):
        e = np.zeros((q, q))
        e[a, b] = e[b, a] = 1.0
        mats.append(e)
    mats.append(np.zeros((q, q)))
    s = np.zeros(len(mats))
    s[-1] = 1.0
    return VDerivative(np.stack(mats)[:, None], s)


def _varpar_derivatives(
    d: Design, theta: np.ndarray, sigma: float
) -> tuple[VDerivative, VDerivative]:
    """First and second derivatives of the scaled ``V`` in lme4's ``(theta, sigma)``.

    ``Cov(b_scaled) = c sigma^2 L L'`` with ``L = B^-1 Lambda(theta)`` and ``c = 1 /
    y_scale^2``; ``sigma_scaled^2 = c sigma^2``.
    """
    q = d.q
    c = 1.0 / d.y_scale**2
    b_inv = np.linalg.inv(d.z_transform)
    pos = _lower_positions(q)
    m = len(pos)
    lam = scaled_factor(np.asarray(theta, dtype=float), d)
    units = []
    for a, b in pos:
        e = np.zeros((q, q))
        e[a, b] = 1.0
        units.append(b_inv @ e)
    sym = [u @ lam.T + lam @ u.T for u in units]
    gg = lam @ lam.T
    k = m + 1
    d1 = np.zeros((k, q, q))
    s1 = np.zeros(k)
    for i in range(m):
        d1[i] = c * sigma**2 * sym[i]
    d1[m] = 2.0 * c * sigma * gg
    s1[m] = 2.0 * c * sigma
    d2 = np.zeros((k, k, q, q))
    s2 = np.zeros((k, k))
    for i in range(m):
        for j in range(m):
            d2[i, j] = c * sigma**2 * (units[i] @ units[j].T + units[j] @ units[i].T)
        d2[i, m] = d2[m, i] = 2.0 * c * sigma * sym[i]
    d2[m, m] = 2.0 * c * gg
    s2[m, m] = 2.0 * c
    first = VDerivative(d1[:, None], s1)
    second = VDerivative(d2.reshape(k * k, 1, q, q), s2.ravel())
    return first, second


def scale_free_pinv(h: np.ndarray, rel_tol: float = EIGEN_REL_TOL) -> np.ndarray:
    """Generalized inverse of a symmetric matrix, invariant to rescaling its coordinates.

    The matrix is Jacobi-scaled (unit diagonal) first; eigenvalues at or below ``rel_tol``
    times the largest are dropped, as lmerTest drops small eigenvalues of its Hessian
    (where its tolerance is absolute, so it depends on units).

    Examples
    --------
    >>> import numpy as np
    >>> h = np.diag([1e8, 1e-8])
    >>> np.allclose(scale_free_pinv(h) @ h, np.eye(2))
    True
    """
    h = 0.5 * (h + h.T)
    scale = np.sqrt(np.abs(np.diag(h)))
    scale[~(scale > 0)] = 1.0
    hn = h / np.outer(scale, scale)
    evals, evecs = np.linalg.eigh(hn)
    top = max(float(evals[-1]), 0.0)
    keep = evals > rel_tol * top
    inv = (evecs[:, keep] / evals[keep]) @ evecs[:, keep].T
    return inv / np.outer(scale, scale)


def satterthwaite_ingredients(
    d: Design, theta: np.ndarray, sigma: float
) -> tuple[np.ndarray, np.ndarray]:
    """lmerTest's ``vcov_varpar`` (``2 H^+``) and ``Jac_list``, exactly.

    Parameters
    ----------
    d : Design
        The model's design (:func:`process_outcome.mixed.reml.build_design`).
    theta : numpy.ndarray
        lme4's theta (original scale).
    sigma : float
        Residual SD.

    Returns
    -------
    tuple of numpy.ndarray
        ``(2 H^+, jacobian)``: ``H`` the Hessian of the REML deviance in ``(theta,
        sigma)`` (generalized inverse by :func:`scale_free_pinv`), ``jacobian`` of shape
        ``(len(theta) + 1, p, p)`` the derivatives of ``vcov`` (original scale).

    Examples
    --------
    >>> import pandas as pd
    >>> from process_outcome.mixed.reml import build_design
    >>> df = pd.DataFrame({"y": [1.0, 2, 3, 5, 4, 4], "g": list("aabbcc")})
    >>> a, jac = satterthwaite_ingredients(build_design(df, "y", [], "g", None), [1.0], 1.0)
    >>> a.shape, jac.shape
    ((2, 2), (2, 1, 1))
    """
    theta = np.asarray(theta, dtype=float)
    block = block_model(d)
    gamma, sigma2 = scaled_covariance(d, theta, sigma)
    m = moments(block, gamma, sigma2)
    first, second = _varpar_derivatives(d, theta, float(sigma))
    parts = reml_derivatives(m, first)
    k = first.s.size
    hess = parts.observed + reml_gradient(m, second).reshape(k, k)
    a_mat = d.x_transform
    dphi = m.phi @ parts.p_mats @ m.phi  # (k, p, p) scaled response and design
    jac = d.y_scale**2 * np.einsum("ab,kbc,dc->kad", a_mat, dphi, a_mat)
    return 2.0 * scale_free_pinv(hess), 0.5 * (jac + np.swapaxes(jac, 1, 2))
