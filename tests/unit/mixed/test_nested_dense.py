"""The nested engine's deviance, conditional modes and conditional variances against the
dense formulas (V = I + Z Lambda Lambda' Z'), on generated unbalanced three- and
four-level designs with random slopes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from process_outcome.mixed.nested import (
    build_nested_design,
    conditional_modes,
    factor_blocks,
    nested_deviance,
    nested_state,
)


def _design(seed: int, depth: int):
    rng = np.random.default_rng(seed)
    parents = [None]
    sizes = [int(rng.integers(3, 6))]
    for _ in range(1, depth):
        parent = np.concatenate([np.full(int(rng.integers(1, 4)), j) for j in range(sizes[-1])])
        parents.append(parent)
        sizes.append(len(parent))
    inner = np.concatenate([np.full(int(rng.integers(1, 5)), j) for j in range(sizes[-1])])
    n = len(inner)
    codes = [inner]
    for li in range(depth - 1, 0, -1):
        codes.insert(0, parents[li][codes[0]])
    x = np.column_stack([np.ones(n), rng.normal(size=n), rng.uniform(0, 3, size=n)])
    y = rng.normal(size=n) + x[:, 1]
    levels = []
    for li in range(depth):
        k = 2 if li % 2 == 0 else 1
        z = x[:, :k]
        levels.append(
            {
                "name": f"level{li}",
                "labels": np.array([f"u{j:03d}" for j in range(sizes[li])]),
                "codes": codes[li],
                "parent": parents[li],
                "terms": [(("(Intercept)", "x")[:k], z, True)],
            }
        )
    return y, x, levels, codes


def _dense(y, x, levels, codes, lams):
    n = len(y)
    blocks, zcols = [], []
    for lv, c, lam in zip(levels, codes, lams, strict=True):
        z = lv["terms"][0][1]
        k = z.shape[1]
        for j in range(len(lv["labels"])):
            zj = np.zeros((n, k))
            zj[c == j] = z[c == j]
            zcols.append(zj @ lam)
            blocks.append(k)
    zl = np.column_stack(zcols)
    v = np.eye(n) + zl @ zl.T
    vi = np.linalg.inv(v)
    xvx = x.T @ vi @ x
    beta = np.linalg.solve(xvx, x.T @ vi @ y)
    res = y - x @ beta
    pwrss = float(res @ vi @ res)
    n_, p = x.shape
    logdet_v = np.linalg.slogdet(v)[1]
    reml = (
        logdet_v
        + np.linalg.slogdet(xvx)[1]
        + (n_ - p) * (1 + math.log(2 * math.pi * pwrss / (n_ - p)))
    )
    ml = logdet_v + n_ * (1 + math.log(2 * math.pi * pwrss / n_))
    m = zl.T @ zl + np.eye(zl.shape[1])
    u = np.linalg.solve(m, zl.T @ res)
    return reml, ml, zl, m, u, pwrss


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("depth", [2, 3])
def test_deviance_modes_and_variances_match_dense_formulas(seed, depth):
    y, x, levels, codes = _design(seed, depth)
    d = build_nested_design(y, x, levels)
    rng = np.random.default_rng(100 + seed)
    theta_parts = []
    for lv in d.levels:
        k = lv.q
        theta_parts.append(rng.uniform(0.2, 1.2, size=k * (k + 1) // 2))
    theta = np.concatenate(theta_parts)
    factors = factor_blocks(theta, d)
    # the same covariance on the original scale: Lambda = B L
    lams = [lv.z_transform @ f for lv, f in zip(d.levels, factors, strict=True)]
    reml, ml, _zl, m, u, pwrss = _dense(y, x, levels, codes, lams)
    assert nested_deviance(theta, d, reml=True) == pytest.approx(reml, rel=1e-10)
    assert nested_deviance(theta, d, reml=False) == pytest.approx(ml, rel=1e-10)
    s = nested_state(factors, d)
    sigma = math.sqrt(pwrss / (len(y) - x.shape[1]))
    modes = conditional_modes(factors, s, d, sigma)
    m_inv = np.linalg.inv(m)
    o = 0
    for li, (lv, lam) in enumerate(zip(levels, lams, strict=True)):
        k = lam.shape[0]
        # the engine stores units in its own order: map by label
        ours_b, ours_cov = modes[li]
        index = {str(lab): i for i, lab in enumerate(d.levels[li].labels)}
        for j, lab in enumerate(lv["labels"]):
            sl = slice(o + j * k, o + (j + 1) * k)
            b = lam @ u[sl]
            cov = sigma**2 * lam @ m_inv[sl, sl] @ lam.T
            np.testing.assert_allclose(ours_b[index[lab]], b, rtol=1e-8, atol=1e-10)
            np.testing.assert_allclose(ours_cov[index[lab]], cov, rtol=1e-8, atol=1e-12)
        o += k * len(lv["labels"])
