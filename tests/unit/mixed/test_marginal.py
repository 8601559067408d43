"""The block-diagonal moments and REML derivatives against dense n x n algebra.

:mod:`process_outcome.mixed.marginal` never forms ``V``; here a small unbalanced model
with a semi-definite and a definite random-effects covariance is written out densely
(``V``, ``P``, traces and quadratic forms by ``numpy.linalg``) and every piece compared,
and the REML deviance's gradient and Hessian checked by central differences.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import linalg

from process_outcome.mixed.marginal import (
    BlockModel,
    VDerivative,
    moments,
    reml_derivatives,
    reml_gradient,
)

UNITS = [np.array([[1.0, 0], [0, 0]]), np.array([[0, 1.0], [1, 0]]), np.array([[0, 0], [0, 1.0]])]


def _problem(seed: int):
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 7, 9)
    zs = [np.column_stack([np.ones(n), rng.normal(size=n)]) for n in sizes]
    xs = [np.column_stack([np.ones(n), rng.normal(size=(n, 2))]) for n in sizes]
    ys = [rng.normal(size=n) for n in sizes]
    block = BlockModel(
        np.stack([z.T @ z for z in zs]),
        np.stack([z.T @ x for z, x in zip(zs, xs, strict=True)]),
        np.stack([z.T @ y for z, y in zip(zs, ys, strict=True)]),
        sum(x.T @ x for x in xs),
        sum(x.T @ y for x, y in zip(xs, ys, strict=True)),
        float(sum(y @ y for y in ys)),
        int(sizes.sum()),
    )
    return block, linalg.block_diag(*zs), np.vstack(xs), np.concatenate(ys), len(sizes)


def _dense_deviance(phi, z, x, y, groups):
    g = np.array([[phi[0], phi[1]], [phi[1], phi[2]]])
    v = phi[3] * np.eye(len(y)) + z @ np.kron(np.eye(groups), g) @ z.T
    vi = np.linalg.inv(v)
    a = x.T @ vi @ x
    r = y - x @ np.linalg.solve(a, x.T @ vi @ y)
    return np.linalg.slogdet(v)[1] + np.linalg.slogdet(a)[1] + r @ vi @ r


@pytest.mark.parametrize(
    "cov", [np.array([[1.0, 0.3], [0.3, 0.5]]), np.array([[0.8, 0.4], [0.4, 0.2]])]
)
def test_moments_and_derivatives_match_dense_algebra(cov):
    block, z, x, y, groups = _problem(3)
    sigma2 = 0.7
    m = moments(block, cov / sigma2, sigma2)
    n = len(y)
    v = sigma2 * np.eye(n) + z @ np.kron(np.eye(groups), cov) @ z.T
    vi = np.linalg.inv(v)
    phi = np.linalg.inv(x.T @ vi @ x)
    beta = phi @ x.T @ vi @ y
    e = vi @ (y - x @ beta)
    np.testing.assert_allclose(m.phi, phi, rtol=1e-10)
    np.testing.assert_allclose(m.beta, beta, rtol=1e-10)
    np.testing.assert_allclose(
        [m.ee, m.ev1e, m.tr1, m.tr2],
        [e @ e, e @ vi @ e, np.trace(vi), np.trace(vi @ vi)],
        rtol=1e-10,
    )
    np.testing.assert_allclose(m.xv3x, x.T @ vi @ vi @ vi @ x, rtol=1e-9)
    dv = VDerivative(np.stack([*UNITS, np.zeros((2, 2))])[:, None], np.array([0, 0, 0, 1.0]))
    parts = reml_derivatives(m, dv)
    dense = [z @ np.kron(np.eye(groups), u) @ z.T for u in UNITS] + [np.eye(n)]
    p_proj = vi - vi @ x @ phi @ x.T @ vi
    info = np.array([[np.trace(p_proj @ a @ p_proj @ b) for b in dense] for a in dense])
    np.testing.assert_allclose(parts.info, info, rtol=1e-9)
    q = np.array([[x.T @ vi @ a @ vi @ b @ vi @ x for b in dense] for a in dense])
    np.testing.assert_allclose(parts.q_mats, q, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(parts.p_mats, [x.T @ vi @ a @ vi @ x for a in dense], rtol=1e-9)
    # gradient and Hessian of the REML deviance by central differences
    x0 = np.array([cov[0, 0], cov[1, 0], cov[1, 1], sigma2])
    h = 1e-5
    eye = np.eye(4)

    def f(t):
        return _dense_deviance(t, z, x, y, groups)

    grad = [(f(x0 + h * eye[k]) - f(x0 - h * eye[k])) / (2 * h) for k in range(4)]
    np.testing.assert_allclose(parts.gradient, grad, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(reml_gradient(m, dv), grad, rtol=1e-6, atol=1e-7)
    h = 1e-4
    hess = np.array(
        [
            [
                (
                    f(x0 + h * eye[k] + h * eye[j])
                    - f(x0 + h * eye[k] - h * eye[j])
                    - f(x0 - h * eye[k] + h * eye[j])
                    + f(x0 - h * eye[k] - h * eye[j])
                )
                / (4 * h * h)
                for j in range(4)
            ]
            for k in range(4)
        ]
    )
    np.testing.assert_allclose(parts.observed, hess, rtol=1e-5, atol=1e-5)
