"""Moments of a block-diagonal marginal covariance, for analytic REML derivatives.

A linear mixed model ``y = X beta + Z b + e`` whose random effects are independent between
top-level groups has a block-diagonal marginal covariance ``V = diag(V_j)`` with

    V_j = sigma^2 (I + Z_j Gamma_j Z_j'),

``Gamma_j = Cov(b_j) / sigma^2`` (semi-definite: a variance on its boundary is fine). Every
quantity that Satterthwaite's and Kenward and Roger's methods need (traces and quadratic
forms in ``V^-1``, ``V^-2``, ``V^-3`` and the REML projection ``P``) is computed here from
per-group cross-products ``Z_j'Z_j``, ``Z_j'X_j``, ``Z_j'y_j`` and the totals ``X'X``,
``X'y``, ``y'y``, by the Woodbury identity ``V_j^-1 = sigma^-2 (I - Z_j K_j Z_j')`` with
``K_j = (I + Gamma_j S_j)^-1 Gamma_j``: batched ``q x q`` algebra over groups (numpy
``einsum``/``solve``, no loop over groups), never an ``n x n`` matrix.

A derivative of ``V`` (with respect to any variance parameter) is described by a pair
``(D, s)``: ``dV_j = Z_j D_j Z_j' + s I``. With several nested random-effect levels the
groups are the top-level units, ``q`` counts every random effect of a unit (pad units with
fewer with zero columns of ``Z``) and ``D_j`` carries the pattern of the parameter in
``Cov(b_j)``; nothing below depends on the number of levels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "BlockModel",
    "Moments",
    "RemlDerivatives",
    "VDerivative",
    "moments",
    "reml_derivatives",
    "reml_gradient",
]


@dataclass(frozen=True, eq=False)
class BlockModel:
    """Per-group cross-products of a model with block-diagonal ``V``.

    Attributes
    ----------
    ztz : numpy.ndarray
        ``Z_j'Z_j``, shape (J, q, q).
    ztx : numpy.ndarray
        ``Z_j'X_j``, shape (J, q, p).
    zty : numpy.ndarray
        ``Z_j'y_j``, shape (J, q).
    xtx, xty, yty :
        Totals ``X'X`` (p, p), ``X'y`` (p,), ``y'y``.
    n : int
        Observations.
    """

    ztz: np.ndarray
    ztx: np.ndarray
    zty: np.ndarray
    xtx: np.ndarray
    xty: np.ndarray
    yty: float
    n: int

    @property
    def p(self) -> int:
        """Fixed effects."""
        return self.xtx.shape[0]


@dataclass(frozen=True, eq=False)
class VDerivative:
    """``dV_j = Z_j D_j Z_j' + s I`` for each of K parameters.

    Attributes
    ----------
    d : numpy.ndarray
        Shape (K, J, q, q) or (K, 1, q, q) (the same in every group).
    s : numpy.ndarray
        Shape (K,): the coefficient of the identity.
    """

    d: np.ndarray
    s: np.ndarray


@dataclass(frozen=True, eq=False)
class Moments:
    """Woodbury moments of ``V`` at one covariance (see the module docstring).

    ``a1, a2`` are ``Z'V^-1 Z``, ``Z'V^-2 Z`` per group (J, q, q); ``b1, b2`` are
    ``Z'V^-1 X``, ``Z'V^-2 X`` (J, q, p); ``xv2x, xv3x`` are ``X'V^-2 X``, ``X'V^-3 X``;
    ``tr1, tr2`` are ``tr V^-1``, ``tr V^-2``; ``phi = (X'V^-1 X)^-1``; ``beta`` the GLS
    estimate; with ``e = V^-1 (y - X beta)``: ``u1 = Z'e``, ``u2 = Z'V^-1 e`` (J, q),
    ``ee = e'e``, ``ev1e = e'V^-1 e``, ``xv1e = X'V^-1 e`` (p,).
    """

    a1: np.ndarray
    a2: np.ndarray
    b1: np.ndarray
    b2: np.ndarray
    xv2x: np.ndarray
    xv3x: np.ndarray
    tr1: float
    tr2: float
    phi: np.ndarray
    beta: np.ndarray
    u1: np.ndarray
    u2: np.ndarray
    ee: float
    ev1e: float
    xv1e: np.ndarray


def _einsum(spec: str, *operands: np.ndarray) -> np.ndarray:
    # pairwise BLAS contractions: a 3-operand sum over groups is otherwise a naive loop
    return np.einsum(spec, *operands, optimize=len(operands) > 2)


def _t(a: np.ndarray) -> np.ndarray:
    return np.swapaxes(a, -1, -2)


def moments(block: BlockModel, gamma: np.ndarray, sigma2: float) -> Moments:
    """Moments of ``V_j = sigma2 (I + Z_j gamma_j Z_j')`` over all groups at once.

    Parameters
    ----------
    block : BlockModel
        Cross-products.
    gamma : numpy.ndarray
        ``Cov(b_j) / sigma2``, shape (J, q, q) or (q, q).
    sigma2 : float
        Residual variance.

    Returns
    -------
    Moments

    Examples
    --------
    >>> import numpy as np
    >>> z = np.ones((4, 1)); x = np.ones((4, 1)); y = np.array([1.0, 2, 3, 4])
    >>> b = BlockModel(z.T @ z[None], (z.T @ x)[None], (z.T @ y)[None], x.T @ x,
    ...                x.T @ y, float(y @ y), 4)
    >>> m = moments(b, np.array([[1.0]]), 2.0)
    >>> v = 2.0 * (np.eye(4) + z @ z.T)
    >>> bool(np.isclose(m.tr1, np.trace(np.linalg.inv(v))))
    True
    """
    s = block.ztz
    zx, zy = block.ztx, block.zty
    j, q = s.shape[0], s.shape[1]
    gamma = np.broadcast_to(gamma, (j, q, q))
    eye = np.eye(q)
    # K = (I + Gamma S)^-1 Gamma, T = I - K S (R Z = Z T with R = I - Z K Z')
    k = np.linalg.solve(eye + gamma @ s, gamma)
    k = 0.5 * (k + _t(k))
    t = eye - k @ s
    tt = t @ t
    c1, c2, c3 = 1.0 / sigma2, 1.0 / sigma2**2, 1.0 / sigma2**3
    a1 = c1 * (s @ t)
    a2 = c2 * (s @ tt)
    tzx = _t(t) @ zx
    ttzx = _t(t) @ tzx
    b1 = c1 * tzx
    b2 = c2 * ttzx
    kzx = k @ zx
    xrx = block.xtx - _einsum("jap,jar->pr", zx, kzx)
    xr2x = xrx - _einsum("jap,jar->pr", tzx, kzx)
    xr3x = xr2x - _einsum("jap,jar->pr", ttzx, kzx)
    ks = k @ s
    tr_r1 = block.n - float(np.trace(ks, axis1=1, axis2=2).sum())
    tr_r2 = tr_r1 - float(_einsum("jab,jba->", t, ks))
    kzy = _einsum("jab,jb->ja", k, zy)
    xry = block.xty - _einsum("jap,ja->p", zx, kzy)
    xrx = 0.5 * (xrx + xrx.T)
    beta = np.linalg.solve(xrx, xry)
    phi = sigma2 * np.linalg.inv(xrx)
    # residual r = y - X beta and its Woodbury forms
    zr = zy - zx @ beta
    xr = block.xty - block.xtx @ beta
    rr = block.yty - 2.0 * float(beta @ block.xty) + float(beta @ block.xtx @ beta)
    kzr = _einsum("jab,jb->ja", k, zr)
    tzr = _einsum("jba,jb->ja", t, zr)  # T' Z'r = Z'R r
    ttzr = _einsum("jba,jb->ja", t, tzr)  # Z'R^2 r
    r1r = rr - float(np.sum(zr * kzr))
    r2r = r1r - float(np.sum(tzr * kzr))
    r3r = r2r - float(np.sum(ttzr * kzr))
    xr1r = xr - _einsum("jap,ja->p", zx, kzr)
    xr2r = xr1r - _einsum("jap,ja->p", tzx, kzr)
    return Moments(
        a1=a1,
        a2=a2,
        b1=b1,
        b2=b2,
        xv2x=c2 * 0.5 * (xr2x + xr2x.T),
        xv3x=c3 * 0.5 * (xr3x + xr3x.T),
        tr1=c1 * tr_r1,
        tr2=c2 * tr_r2,
        phi=0.5 * (phi + phi.T),
        beta=beta,
        u1=c1 * tzr,
        u2=c2 * ttzr,
        ee=c2 * r2r,
        ev1e=c3 * r3r,
        xv1e=c2 * xr2r,
    )


@dataclass(frozen=True, eq=False)
class RemlDerivatives:
    """Pieces of the REML derivatives in K parameters (see :func:`reml_derivatives`).

    Attributes
    ----------
    p_mats : numpy.ndarray
        ``X'V^-1 dV_k V^-1 X`` (K, p, p); ``dPhi/dk = Phi p_k Phi``.
    q_mats : numpy.ndarray
        ``X'V^-1 dV_k V^-1 dV_l V^-1 X`` (K, K, p, p).
    info : numpy.ndarray
        ``tr(P dV_k P dV_l)`` (K, K): twice the expected REML information.
    gradient : numpy.ndarray
        Of the REML deviance ``-2 l_R`` (K,), first-derivative terms only.
    observed : numpy.ndarray
        ``-tr(P dV_k P dV_l) + 2 e'dV_k P dV_l e`` (K, K): the REML deviance's Hessian
        without its second-derivative-of-``V`` terms.
    """

    p_mats: np.ndarray
    q_mats: np.ndarray
    info: np.ndarray
    gradient: np.ndarray
    observed: np.ndarray


def _full(m: Moments, dv: VDerivative) -> tuple[np.ndarray, np.ndarray]:
    d = np.asarray(dv.d, dtype=float)
    d = np.broadcast_to(d, (d.shape[0], *m.a1.shape))
    return d, np.asarray(dv.s, dtype=float)


def _linear_terms(m: Moments, dv: VDerivative) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``tr(V^-1 dV)``, ``X'V^-1 dV V^-1 X`` and ``e'dV e`` for each derivative."""
    d, s = _full(m, dv)
    tr = _einsum("kjab,jba->k", d, m.a1) + s * m.tr1
    db1 = _einsum("kjab,jbp->kjap", d, m.b1)
    p_mats = _einsum("jap,kjar->kpr", m.b1, db1) + s[:, None, None] * m.xv2x
    ede = _einsum("ja,kjab,jb->k", m.u1, d, m.u1) + s * m.ee
    return tr, 0.5 * (p_mats + _t(p_mats)), ede


def reml_gradient(m: Moments, dv: VDerivative) -> np.ndarray:
    """Derivatives ``tr(P dV_k) - e'dV_k e`` of the REML deviance ``-2 l_R`` (K,).

    Applied to second derivatives of ``V`` it gives the Hessian's ``d2V`` terms.
    """
    tr, p_mats, ede = _linear_terms(m, dv)
    return tr - _einsum("pr,krp->k", m.phi, p_mats) - ede


def reml_derivatives(m: Moments, dv: VDerivative) -> RemlDerivatives:
    """First and second REML pieces for the derivatives ``dv`` of ``V``.

    The REML deviance ``-2 l_R = log|V| + log|X'V^-1 X| + y'P y`` (+ constant) has
    gradient ``tr(P dV_k) - e'dV_k e`` and Hessian
    ``tr(P d2V_kl) - e'd2V_kl e - tr(P dV_k P dV_l) + 2 e'dV_k P dV_l e`` with
    ``e = P y``; the fixed-effect covariance ``Phi = (X'V^-1 X)^-1`` has derivative
    ``Phi X'V^-1 dV_k V^-1 X Phi`` (Kenward & Roger, 1997; pbkrtest's ``P``, ``Q``).

    Parameters
    ----------
    m : Moments
        From :func:`moments`.
    dv : VDerivative
        The K derivatives.

    Returns
    -------
    RemlDerivatives
    """
    d, s = _full(m, dv)
    phi = m.phi
    tr, p_mats, ede = _linear_terms(m, dv)
    gradient = tr - _einsum("pr,krp->k", phi, p_mats) - ede
    db1 = _einsum("kjab,jbp->kjap", d, m.b1)  # D_k Z'V^-1 X
    db2 = _einsum("kjab,jbp->kjap", d, m.b2)
    da1 = _einsum("kjab,jbc->kjac", d, m.a1)  # D_k Z'V^-1 Z
    da2 = _einsum("kjab,jbc->kjac", d, m.a2)
    # tr(V^-1 dV_k V^-1 dV_l)
    ktr = _einsum("kjab,ljba->kl", da1, da1)
    cross = _einsum("kjaa->k", da2)  # tr(D_k Z'V^-2 Z)
    ktr = ktr + np.outer(cross, s) + np.outer(s, cross) + np.outer(s, s) * m.tr2
    # X'V^-1 dV_k V^-1 dV_l V^-1 X
    q_mats = _einsum("kjap,jab,ljbr->klpr", db1, m.a1, db1)
    kb2 = _einsum("jap,kjar->kpr", m.b1, db2)  # X'V^-1 Z D_k Z'V^-2 X
    q_mats = q_mats + _einsum("kpr,l->klpr", kb2, s) + _einsum("k,lpr->klpr", s, _t(kb2))
    q_mats = q_mats + _einsum("k,l->kl", s, s)[:, :, None, None] * m.xv3x
    phi_p = phi @ p_mats  # (K, p, p)
    info = ktr - 2.0 * _einsum("pr,klrp->kl", phi, q_mats) + _einsum("kpr,lrp->kl", phi_p, phi_p)
    # e'dV_k V^-1 dV_l e and X'V^-1 dV_k e
    du1 = _einsum("kjab,jb->kja", d, m.u1)  # D_k Z'e
    dud = _einsum("kja,jab,ljb->kl", du1, m.a1, du1)
    cross_e = _einsum("kja,ja->k", du1, m.u2)  # e'Z D_k Z'V^-1 e
    dud = dud + np.outer(cross_e, s) + np.outer(s, cross_e) + np.outer(s, s) * m.ev1e
    xde = _einsum("jap,kja->kp", m.b1, du1) + s[:, None] * m.xv1e
    epe = dud - xde @ phi @ xde.T
    observed = -info + 2.0 * epe
    return RemlDerivatives(
        p_mats=p_mats,
        q_mats=q_mats,
        info=0.5 * (info + info.T),
        gradient=gradient,
        observed=0.5 * (observed + observed.T),
    )
