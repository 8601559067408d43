"""Kenward-Roger small-sample inference for fixed effects, as R's pbkrtest computes it.

Kenward & Roger (1997) replace the fixed-effect covariance ``Phi = (X'V^-1 X)^-1`` by
``Phi_A = Phi + 2 Phi (sum_kl W_kl (Q_kl - P_k Phi P_l)) Phi`` (the small-sample bias of
the plug-in ``Phi`` plus the variability of the variance estimates) and give a contrast
``L beta`` an approximate F (here t) reference distribution with ``ddf`` from matching
moments. The variance parameters are those of pbkrtest (0.5): every entry of the lower
triangle of each random-effects covariance and the residual variance, so ``V`` is linear
in them (``V = sum_k phi_k dV/dphi_k``) and the second-derivative terms ``R_kl`` vanish;
``W = 2 I_E^-1`` with ``I_E,kl = tr(P dV_k P dV_l)`` (the expected REML information,
pbkrtest's ``IE2``); ``P_k = X'V^-1 dV_k V^-1 X``, ``Q_kl = X'V^-1 dV_k V^-1 dV_l V^-1 X``.
The df formula is pbkrtest's ``Lb_ddf`` (as ``lmerTest::contest(ddf = "Kenward-Roger")``
and ``summary(ddf = "Kenward-Roger")`` call it).

Everything is computed from per-group blocks of the block-diagonal ``V``
(:mod:`process_outcome.mixed.marginal`), on the centred, scaled design (the method is
invariant to those linear maps), and returned on the original scale. One difference from
pbkrtest, deliberate: the information matrix is inverted after Jacobi scaling with a
relative eigenvalue tolerance (:func:`process_outcome.mixed.varpar.scale_free_pinv`)
where pbkrtest switches to ``MASS::ginv`` below an absolute 1e-10; the two agree whenever
the information matrix is well conditioned, and this one does not depend on units.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from process_outcome.mixed.marginal import BlockModel, VDerivative, moments, reml_derivatives
from process_outcome.mixed.reml import Design
from process_outcome.mixed.satterthwaite import (
    COEFFICIENT_COLUMNS,
    CONTRAST_COLUMNS,
    contrast_vector,
    t_test_row,
)
from process_outcome.mixed.varpar import (
    block_model,
    covariance_parameters,
    scale_free_pinv,
    scaled_covariance,
)

__all__ = [
    "KenwardRoger",
    "kenward_roger",
    "kenward_roger_blocks",
    "kenward_roger_design",
    "kr_coefficient_table",
    "kr_contrast",
    "kr_ddf",
]


@dataclass(frozen=True, eq=False)
class KenwardRoger:
    """Kenward-Roger ingredients of one fit (original scale).

    Attributes
    ----------
    vcov : numpy.ndarray
        The unadjusted ``Phi`` (lme4's ``vcov``).
    vcov_adjusted : numpy.ndarray
        ``Phi_A`` (pbkrtest's ``vcovAdj``).
    dphi : numpy.ndarray
        ``dPhi / dphi_k = Phi P_k Phi`` for each variance parameter (K, p, p).
    w : numpy.ndarray
        ``W = 2 I_E^+``, the asymptotic covariance of the variance parameters (K, K).
    """

    vcov: np.ndarray
    vcov_adjusted: np.ndarray
    dphi: np.ndarray
    w: np.ndarray

    def ddf(self, L: np.ndarray) -> float:
        """Denominator df of the test of ``L beta = 0`` (pbkrtest's ``Lb_ddf``)."""
        return kr_ddf(L, self.vcov, self.dphi, self.w)


def kenward_roger_blocks(
    block: BlockModel, gamma: np.ndarray, sigma2: float, dv: VDerivative
) -> KenwardRoger:
    """:class:`KenwardRoger` of any model with block-diagonal ``V`` (on the block's scale).

    Parameters
    ----------
    block : BlockModel
        Per top-level group cross-products (:mod:`process_outcome.mixed.marginal`).
    gamma : numpy.ndarray
        ``Cov(b_j) / sigma2`` per group, (J, q, q) or (q, q).
    sigma2 : float
        Residual variance.
    dv : VDerivative
        ``dV / dphi_k`` for pbkrtest's linear variance parameters (``V`` linear in them;
        e.g. :func:`process_outcome.mixed.varpar.covariance_parameters`, or one pattern
        per random-effect level of a nested model).

    Returns
    -------
    KenwardRoger
    """
    m = moments(block, gamma, sigma2)
    parts = reml_derivatives(m, dv)
    phi = m.phi
    w = 2.0 * scale_free_pinv(parts.info)
    p_mats, q_mats = parts.p_mats, parts.q_mats
    # U = sum_kl W_kl (Q_kl - P_k Phi P_l); pbkrtest's P carries a minus sign, squared here
    pphip = np.einsum("kab,bc,lcd->klad", p_mats, phi, p_mats)
    u = np.einsum("kl,klab->ab", w, q_mats - pphip)
    u = 0.5 * (u + u.T)
    adjusted = phi + 2.0 * phi @ u @ phi
    return KenwardRoger(vcov=phi, vcov_adjusted=adjusted, dphi=phi @ p_mats @ phi, w=w)


def kenward_roger_design(d: Design, theta: np.ndarray, sigma: float) -> KenwardRoger:
    """:class:`KenwardRoger` of the model with design ``d`` at lme4's ``(theta, sigma)``.

    Computed on the centred, scaled design (Kenward-Roger is invariant to those linear
    maps) and returned on the original scale.

    Examples
    --------
    >>> import pandas as pd
    >>> from process_outcome.mixed.reml import build_design
    >>> df = pd.DataFrame({"y": [1.0, 2, 3, 5, 4, 4], "g": list("aabbcc")})
    >>> kr = kenward_roger_design(build_design(df, "y", [], "g", None), [1.0], 1.0)
    >>> bool(kr.vcov_adjusted[0, 0] >= kr.vcov[0, 0])
    True
    """
    gamma, sigma2 = scaled_covariance(d, np.asarray(theta, dtype=float), float(sigma))
    kr = kenward_roger_blocks(block_model(d), gamma, sigma2, covariance_parameters(d.q))
    a_mat = d.x_transform
    c = d.y_scale**2

    def original(mat: np.ndarray) -> np.ndarray:
        out = c * np.einsum("ab,...bc,dc->...ad", a_mat, mat, a_mat)
        return 0.5 * (out + np.swapaxes(out, -1, -2))

    return KenwardRoger(
        vcov=original(kr.vcov),
        vcov_adjusted=original(kr.vcov_adjusted),
        dphi=original(kr.dphi),
        w=kr.w,
    )


def kr_ddf(L: np.ndarray, vcov: np.ndarray, dphi: np.ndarray, w: np.ndarray) -> float:
    """pbkrtest's ``Lb_ddf``: Kenward-Roger denominator df of ``L beta = 0``.

    Parameters
    ----------
    L : numpy.ndarray
        Contrast weights (p,) or a restriction matrix (r, p) of full row rank.
    vcov : numpy.ndarray
        Unadjusted ``Phi``.
    dphi : numpy.ndarray
        ``Phi P_k Phi`` for each variance parameter.
    w : numpy.ndarray
        Covariance of the variance parameters.

    Returns
    -------
    float
    """
    L = np.atleast_2d(np.asarray(L, dtype=float))
    r = L.shape[0]
    theta = L.T @ np.linalg.solve(L @ vcov @ L.T, L)
    ui = np.einsum("ab,kbc->kac", theta, dphi)  # Theta Phi P_k Phi
    traces = np.einsum("kaa->k", ui)
    a1 = float(traces @ w @ traces)
    a2 = float(np.einsum("kl,kab,lba->", w, ui, ui))
    b = (a1 + 6.0 * a2) / (2.0 * r)
    g = ((r + 1) * a1 - (r + 4) * a2) / ((r + 2) * a2)
    denom = 3 * r + 2 * (1 - g)
    c1, c2, c3 = g / denom, (r - g) / denom, (r + 2 - g) / denom
    v0 = 1.0 + c1 * b
    v1 = 1.0 - c2 * b
    v2 = 1.0 - c3 * b
    v0 = 0.0 if abs(v0) < 1e-10 else v0
    x = 1.0 - a2 / r
    ratio = 1.0 if abs(x) < 1e-14 and abs(v1) < 1e-14 else x / v1
    rho = ratio**2 * v0 / (v2 * r)
    return float(4.0 + (r + 2) / (r * rho - 1.0))


def kenward_roger(fit) -> KenwardRoger:
    """Kenward-Roger ingredients of a fitted model (pbkrtest's ``vcovAdj`` and friends).

    Parameters
    ----------
    fit : MixedFit
        From :func:`process_outcome.mixed.fit.fit_mixed` (or ``fit_at_theta``); REML.

    Returns
    -------
    KenwardRoger
        ``vcov_adjusted`` and :meth:`KenwardRoger.ddf`.

    Examples
    --------
    >>> import pandas as pd
    >>> from process_outcome.mixed.fit import fit_mixed
    >>> d = pd.DataFrame({"g": list("aabbccdd"), "x": [0, 1] * 4,
    ...                   "y": [1.0, 2.1, 1.4, 2.0, 0.7, 1.9, 1.2, 2.6]})
    >>> kr = kenward_roger(fit_mixed(d, "y", ["x"], "g"))
    >>> round(kr.ddf([0.0, 1.0]), 3)
    3.0
    """
    design = getattr(fit, "design", None)
    if design is None:
        raise ValueError("the fit does not carry its design; refit with fit_mixed")
    return kenward_roger_design(design, fit.theta, fit.sigma)


def kr_contrast(
    fit, L: Mapping[str, float] | Sequence[float] | np.ndarray, kr: KenwardRoger | None = None
) -> pd.DataFrame:
    """Kenward-Roger t test of ``L beta`` (``lmerTest::contest(ddf = "Kenward-Roger")``).

    Returns
    -------
    pandas.DataFrame
        One row, columns ``estimate, se, df, t, p, ci_low, ci_high``; ``se`` from
        ``Phi_A``.
    """
    kr = kr if kr is not None else kenward_roger(fit)
    vec = contrast_vector(fit, L)
    estimate = float(vec @ fit.fixed_effects)
    var = float(vec @ kr.vcov_adjusted @ vec)
    df = kr.ddf(vec) if var > 0 else math.nan
    return pd.DataFrame([t_test_row(estimate, var, df)], columns=CONTRAST_COLUMNS)


def kr_coefficient_table(fit, kr: KenwardRoger | None = None) -> pd.DataFrame:
    """Kenward-Roger t tests of every fixed effect (``summary(ddf = "Kenward-Roger")``).

    Returns
    -------
    pandas.DataFrame
        Columns ``term, estimate, se, df, t, p, ci_low, ci_high``.
    """
    kr = kr if kr is not None else kenward_roger(fit)
    rows = []
    for i, term in enumerate(fit.terms):
        vec = np.zeros(len(fit.terms))
        vec[i] = 1.0
        var = float(kr.vcov_adjusted[i, i])
        rows.append({"term": term, **t_test_row(float(fit.fixed_effects[i]), var, kr.ddf(vec))})
    return pd.DataFrame(rows, columns=COEFFICIENT_COLUMNS)
