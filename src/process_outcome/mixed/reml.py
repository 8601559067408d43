"""lme4's profiled REML deviance for one grouping factor, on a centred and scaled design.

The model is ``y = X beta + Z b + e`` with ``b_j ~ N(0, sigma^2 Lambda Lambda')`` per group
``j`` and ``Z`` holding a random intercept and at most one random slope (``q = 1`` or 2).
The random-effects design is block diagonal with one ``q x q`` block per group, so the
penalized least-squares system that lme4 solves with a sparse Cholesky factor is solved
here with per-group ``q x q`` blocks ``M_j = L' Z_j' Z_j L + I`` and a ``p x p`` Schur
complement ``X' A^-1 X``, all vectorised over groups with :func:`numpy.einsum`: one
evaluation costs O(n + groups) once the per-group cross-products are formed.

Precision: the response and every fixed-effect and slope column are centred and scaled
before the cross-products are formed (uncentred cross-products lose digits to
cancellation). The deviance is invariant to the random-effects transformation, and the
fixed-effect and response transformations shift it by a known constant, so every
function here returns lme4's deviance of the *original* data:

* ``X_s = X A`` (``A`` centres and scales the non-intercept columns): the REML term
  ``log|X' V^-1 X|`` drops by ``2 log|det A|``;
* ``y_s = (y - m) / s``: the penalized residual sum of squares scales by ``s^2``;
* ``Z_s = Z B``: a relative factor ``Lambda`` of the original scale acts as
  ``L = B^-1 Lambda`` on the scaled one (``L`` need not be triangular).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.linalg import lapack

from process_outcome.errors import ModelSpecificationError

__all__ = [
    "Design",
    "RemlState",
    "build_design",
    "covbeta_varpar",
    "deviance",
    "deviance_and_gradient",
    "deviance_at_factor",
    "deviance_scaled",
    "deviance_varpar",
    "relative_factor",
    "reml_state",
    "scaled_factor",
    "theta_from_factor",
    "used_columns",
    "varpar_functions",
]


@dataclass(frozen=True, eq=False)
class Design:
    """Model data reduced to centred, scaled per-group cross-products.

    Attributes
    ----------
    n, p, q : int
        Observations, fixed effects, random effects per group.
    groups : numpy.ndarray
        Sorted group labels (lme4's level order); ``codes`` maps rows to them.
    codes : numpy.ndarray
        Group index of each row.
    ztz, ztx, zty : numpy.ndarray
        Per-group ``Z_j' Z_j`` (q, q, J), ``Z_j' X_j`` (q, J, p), ``Z_j' y_j`` (q, J),
        all on the scaled design; the group axis is contiguous so that every operation
        in :func:`reml_state` streams through memory.
    xtx, xty, yty :
        ``X'X``, ``X'y``, ``y'y`` of the scaled design.
    x_transform : numpy.ndarray
        ``A`` with ``X_scaled = X A``.
    z_transform : numpy.ndarray
        ``B`` with ``Z_scaled = Z B``.
    y_center, y_scale : float
        ``y_scaled = (y - y_center) / y_scale``.
    constant : float
        Deviance of the original data minus that of the scaled data at the same
        covariance: ``-2 log|det A| + (n - p) log(y_scale^2)``.
    x, y, z : numpy.ndarray
        The scaled rows (only an escalation to statsmodels reads them).
    """

    n: int
    p: int
    q: int
    groups: np.ndarray
    codes: np.ndarray
    ztz: np.ndarray
    ztx: np.ndarray
    zty: np.ndarray
    xtx: np.ndarray
    xty: np.ndarray
    yty: float
    x_transform: np.ndarray
    z_transform: np.ndarray
    y_center: float
    y_scale: float
    constant: float
    x: np.ndarray
    y: np.ndarray
    z: np.ndarray


@dataclass(frozen=True, eq=False)
class RemlState:
    """Quantities at one relative factor ``L`` (scaled design).

    ``chol_m`` (J, q, q) is the per-group Cholesky factor of ``M_j``;
    ``w = solve(chol_m, L' Z'X)`` (J, q, p) and ``r = solve(chol_m, L' Z'y)`` (J, q), so
    ``X' A^-1 X = X'X - sum w'w``.
    """

    chol_m: np.ndarray
    w: np.ndarray
    r: np.ndarray
    xax: np.ndarray
    logdet_m: float
    logdet_xax: float
    beta: np.ndarray
    pwrss: float


def used_columns(response: str, terms: Sequence[str], group: str, slope: str | None) -> list[str]:
    """Columns a model reads: response, group, every factor of every term, the slope."""
    names = [response, group, *(p for t in terms for p in t.split(":"))]
    if slope is not None:
        names.append(slope)
    return list(dict.fromkeys(names))


def _term_column(columns: dict[str, np.ndarray], term: str) -> np.ndarray:
    values = np.ones(len(next(iter(columns.values()))))
    for part in term.split(":"):
        values = values * columns[part]
    return values


def _centre_scale(values: np.ndarray) -> tuple[float, float]:
    centre = float(values.mean())
    scale = float(values.std())
    return centre, scale if scale > 0 else 1.0


def _group_sums(codes: np.ndarray, n_groups: int, values: np.ndarray) -> np.ndarray:
    """Sum rows of ``values`` (n, ...) by group with bincount (no Python loop over groups)."""
    flat = values.reshape(len(values), -1)
    out = np.stack(
        [np.bincount(codes, weights=flat[:, k], minlength=n_groups) for k in range(flat.shape[1])],
        axis=1,
    )
    return out.reshape((n_groups, *values.shape[1:]))


def _is_number_column(values: pd.Series) -> bool:
    # a string column of digit labels ("1", "2") must not be read as numbers, nor a
    # categorical one; booleans are 0/1
    return bool(pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values))


def _check_identified(n: int, q: int, n_groups: int, group: str, slope: str | None) -> None:
    """lme4's checks: more than one group, not one row per group, more rows than
    random effects."""
    term = f"(1{' + ' + slope if slope else ''} | {group})"
    if n_groups < 2:
        raise ModelSpecificationError(
            f"grouping column {group!r} has a single group in the {n} rows used: a random "
            "effect needs at least two groups (lme4 refuses this too)"
        )
    if n_groups == n:
        raise ModelSpecificationError(
            f"grouping column {group!r} has one row per group ({n} groups, {n} rows): the "
            "random intercept cannot be told from the residual"
        )
    if n <= q * n_groups:
        raise ModelSpecificationError(
            f"rows ({n}) <= random effects ({q} x {n_groups} groups) of {term}: the random "
            "effects and the residual variance are not identified"
        )


def build_design(
    data: pd.DataFrame,
    response: str,
    terms: Sequence[str],
    group: str,
    slope: str | None,
) -> Design:
    """Centred, scaled design of ``response ~ terms + (1 [+ slope] | group)``.

    Rows with a missing value in any used column are dropped. ``terms`` excludes the
    intercept; ``"a:b"`` is the product of columns ``a`` and ``b``.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"y": [1.0, 2, 3, 5], "x": [0.0, 1, 0, 1], "g": ["a", "a", "b", "b"]})
    >>> build_design(d, "y", ["x"], "g", None).n
    4
    """
    if isinstance(terms, str):
        raise ModelSpecificationError(
            f"terms={terms!r} is a string, which would be read as its characters: give a "
            f"list of column names, e.g. terms=[{terms!r}]"
        )
    columns = used_columns(response, terms, group, slope)
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise ModelSpecificationError(
            f"columns not in the data: {missing} (the data have {list(data.columns)[:20]})"
        )
    for name in columns:
        if name != group and not _is_number_column(data[name]):
            raise ModelSpecificationError(
                f"column {name!r} is not numeric (dtype {data[name].dtype}, e.g. "
                f"{data[name].dropna().iloc[:3].tolist()}): a factor must be coded as 0/1 "
                "dummies here (or use the formula interface, process_outcome.mixed.lmer, "
                "which codes factors), and numbers stored as text converted with pd.to_numeric"
            )
    # numpy columns, not a filtered DataFrame: pandas' row selection (string columns
    # especially) cost more than the whole design here
    group_values = data[group].to_numpy()
    keep = ~pd.isna(group_values)
    numeric = {}
    for name in columns:
        if name != group:
            numeric[name] = data[name].to_numpy(dtype=float, na_value=np.nan)
            keep &= ~np.isnan(numeric[name])
    if not keep.any():
        raise ModelSpecificationError(
            f"no rows without missing values in the model's columns {columns}"
        )
    used = {name: values[keep] for name, values in numeric.items()}
    n = int(keep.sum())
    y_raw = used[response]
    x_raw = np.column_stack([np.ones(n), *(_term_column(used, t) for t in terms)])
    p = x_raw.shape[1]
    a_mat = np.eye(p)
    x = np.empty_like(x_raw)
    x[:, 0] = 1.0
    for j in range(1, p):
        centre, scale = _centre_scale(x_raw[:, j])
        x[:, j] = (x_raw[:, j] - centre) / scale
        a_mat[0, j] = -centre / scale
        a_mat[j, j] = 1.0 / scale
    if np.linalg.matrix_rank(x) < p:
        raise ModelSpecificationError(
            f"fixed-effect design for {response} is rank deficient: a term is constant or a "
            f"combination of others in the rows used ({list(terms)})"
        )
    y_center, y_scale = _centre_scale(y_raw)
    y = (y_raw - y_center) / y_scale
    q = 1 if slope is None else 2
    b_mat = np.eye(q)
    z = np.ones((n, q))
    if slope is not None:
        s_raw = used[slope]
        centre, scale = _centre_scale(s_raw)
        z[:, 1] = (s_raw - centre) / scale
        b_mat[0, 1] = -centre / scale
        b_mat[1, 1] = 1.0 / scale
    # lme4 orders factor levels by sorted label; conditional modes follow that order
    groups, codes = np.unique(group_values[keep], return_inverse=True)
    n_groups = len(groups)
    _check_identified(n, q, n_groups, group, slope)
    ztz = np.ascontiguousarray(
        _group_sums(codes, n_groups, z[:, :, None] * z[:, None, :]).transpose(1, 2, 0)
    )
    ztx = np.ascontiguousarray(
        _group_sums(codes, n_groups, z[:, :, None] * x[:, None, :]).transpose(1, 0, 2)
    )
    zty = np.ascontiguousarray(_group_sums(codes, n_groups, z * y[:, None]).T)
    constant = -2.0 * math.log(abs(np.linalg.det(a_mat))) + (n - p) * 2.0 * math.log(y_scale)
    return Design(
        n=n,
        p=p,
        q=q,
        groups=groups,
        codes=codes,
        ztz=ztz,
        ztx=ztx,
        zty=zty,
        xtx=x.T @ x,
        xty=x.T @ y,
        yty=float(y @ y),
        x_transform=a_mat,
        z_transform=b_mat,
        y_center=y_center,
        y_scale=y_scale,
        constant=constant,
        x=x,
        y=y,
        z=z,
    )


def relative_factor(theta: np.ndarray, q: int) -> np.ndarray:
    """Lower-triangular ``Lambda`` from lme4's ``theta`` (column-major lower triangle)."""
    theta = np.asarray(theta, dtype=float)
    if q == 1:
        return np.array([[theta[0]]])
    return np.array([[theta[0], 0.0], [theta[1], theta[2]]])


def theta_from_factor(factor: np.ndarray) -> np.ndarray:
    """lme4's theta (non-negative diagonal) of the covariance ``factor @ factor.T``.

    Semi-definite covariances (a zero variance) give a zero diagonal element and a zero
    off-diagonal below it, the form lme4 reports on the boundary.
    """
    psi = np.atleast_2d(factor @ factor.T)
    t1 = math.sqrt(max(psi[0, 0], 0.0))
    if psi.shape[0] == 1:
        return np.array([t1])
    t2 = psi[1, 0] / t1 if t1 > 0 else 0.0
    t3 = math.sqrt(max(psi[1, 1] - t2 * t2, 0.0))
    return np.array([t1, t2, t3])


def scaled_factor(theta: np.ndarray, d: Design) -> np.ndarray:
    """``L = B^-1 Lambda(theta)``: an original-scale theta acting on the scaled design."""
    return np.linalg.solve(d.z_transform, relative_factor(theta, d.q))


def reml_state(factor: np.ndarray, d: Design) -> RemlState:
    """Profile out beta at relative factor ``L`` (scaled design), group blocks vectorised.

    Every array operation runs over all groups at once; the only Python loops are over
    the ``q <= 2`` random-effect indices.

    Raises
    ------
    numpy.linalg.LinAlgError
        If ``X' A^-1 X`` is not positive definite.
    """
    q = d.q
    # (L' S_j L)_ik, (L' Z_j'X_j)_i and (L' Z_j'y_j)_i as (J,) / (J, p) arrays per index
    m = {
        (i, k): sum(factor[a, i] * factor[b, k] * d.ztz[a, b] for a in range(q) for b in range(q))
        for i in range(q)
        for k in range(i + 1)
    }
    ltzx = [sum(factor[a, i] * d.ztx[a] for a in range(q)) for i in range(q)]
    ltzy = [sum(factor[a, i] * d.zty[a] for a in range(q)) for i in range(q)]
    chol_m, w, r = _block_cholesky_solve(m, ltzx, ltzy)
    xax = d.xtx - sum(wi.T @ wi for wi in w)
    xay = d.xty - sum(wi.T @ ri for wi, ri in zip(w, r, strict=True))
    yay = d.yty - float(sum(ri @ ri for ri in r))
    chol_x = np.linalg.cholesky(xax)
    beta = np.linalg.solve(xax, xay)
    diag_m = np.stack([chol_m[:, i, i] for i in range(q)])
    return RemlState(
        chol_m=chol_m,
        w=np.stack(w, axis=1),
        r=np.stack(r, axis=1),
        xax=xax,
        logdet_m=float(2.0 * np.sum(np.log(diag_m))),
        logdet_xax=float(2.0 * np.sum(np.log(np.diag(chol_x)))),
        beta=beta,
        pwrss=float(yay - beta @ xay),
    )


def _block_cholesky_solve(
    m: dict[tuple[int, int], np.ndarray], rhs: list[np.ndarray], rhs_vec: list[np.ndarray]
) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]:
    """Per-group Cholesky factor of ``I + m`` (q <= 2) and forward solves, in closed form.

    numpy's batched ``cholesky``/``solve``/``matmul`` carry a per-matrix overhead that
    dominates for 1x1 and 2x2 blocks; written out, each is a few operations over groups.
    """
    l00 = np.sqrt(m[0, 0] + 1.0)
    w0 = rhs[0] / l00[:, None]
    r0 = rhs_vec[0] / l00
    if len(rhs) == 1:
        return l00[:, None, None], [w0], [r0]
    l10 = m[1, 0] / l00
    l11 = np.sqrt(m[1, 1] + 1.0 - l10 * l10)
    chol = np.zeros((len(l00), 2, 2))
    chol[:, 0, 0], chol[:, 1, 0], chol[:, 1, 1] = l00, l10, l11
    w1 = (rhs[1] - l10[:, None] * w0) / l11[:, None]
    r1 = (rhs_vec[1] - l10 * r0) / l11
    return chol, [w0, w1], [r0, r1]


def _penalized(factor: np.ndarray, d: Design) -> tuple[Any, ...]:
    """The penalized least squares of :func:`reml_state` without its finished-fit arrays.

    The optimizers' hot path: closed-form per-group Cholesky factors ``C_j`` of ``M_j``
    and LAPACK directly for the ``p x p`` system (numpy's wrappers cost more than the
    arithmetic here). Returns ``(logdet_m, logdet_xax, pwrss, chol_x, beta, parts)`` with
    ``parts`` the per-group arrays the gradient reads; raises ``LinAlgError`` when
    ``X' A^-1 X`` is not positive definite.
    """
    q = d.q
    s, zx, zy = d.ztz, d.ztx, d.zty
    if q == 1:
        f = factor[0, 0]
        sl = f * s[0, 0]
        l00 = np.sqrt(f * sl + 1.0)
        w0 = (f * zx[0]) / l00[:, None]
        r0 = (f * zy[0]) / l00
        xax = d.xtx - w0.T @ w0
        xay = d.xty - w0.T @ r0
        yay = d.yty - float(r0 @ r0)
        logdet_m = 2.0 * float(np.sum(np.log(l00)))
        parts: tuple[Any, ...] = (sl, l00, w0, r0)
    else:
        (f00, f01), (f10, f11) = factor
        # L' Z_j'X_j, L' Z_j'y_j and S_j L, L' S_j L, element by element over groups
        g0, g1 = f00 * zx[0] + f10 * zx[1], f01 * zx[0] + f11 * zx[1]
        h0, h1 = f00 * zy[0] + f10 * zy[1], f01 * zy[0] + f11 * zy[1]
        sl00, sl10 = f00 * s[0, 0] + f10 * s[1, 0], f00 * s[0, 1] + f10 * s[1, 1]
        sl01, sl11 = f01 * s[0, 0] + f11 * s[1, 0], f01 * s[0, 1] + f11 * s[1, 1]
        m00 = f00 * sl00 + f10 * sl10
        m10 = f01 * sl00 + f11 * sl10
        m11 = f01 * sl01 + f11 * sl11
        l00 = np.sqrt(m00 + 1.0)
        l10 = m10 / l00
        l11 = np.sqrt(m11 + 1.0 - l10 * l10)
        w0 = g0 / l00[:, None]
        w1 = (g1 - l10[:, None] * w0) / l11[:, None]
        r0 = h0 / l00
        r1 = (h1 - l10 * r0) / l11
        xax = d.xtx - w0.T @ w0 - w1.T @ w1
        xay = d.xty - w0.T @ r0 - w1.T @ r1
        yay = d.yty - float(r0 @ r0) - float(r1 @ r1)
        logdet_m = 2.0 * float(np.sum(np.log(l00)) + np.sum(np.log(l11)))
        parts = (sl00, sl10, sl01, sl11, l00, l10, l11, w0, w1, r0, r1)
    chol_x, info = lapack.dpotrf(xax, lower=1)
    if info != 0:
        raise np.linalg.LinAlgError("X' A^-1 X is not positive definite")
    beta, _ = lapack.dpotrs(chol_x, xay, lower=1)
    pwrss = float(yay - beta @ xay)
    logdet_xax = 2.0 * float(np.sum(np.log(np.diag(chol_x))))
    return logdet_m, logdet_xax, pwrss, chol_x, beta, parts


def _reml(logdet_m: float, logdet_xax: float, pwrss: float, d: Design) -> float:
    """Profiled REML deviance of the scaled data from its three ingredients."""
    if not (pwrss > 0 and np.isfinite(pwrss)):
        return math.inf
    dof = d.n - d.p
    return logdet_m + logdet_xax + dof * (1.0 + math.log(2.0 * math.pi * pwrss / dof))


def _inverse(chol: np.ndarray) -> np.ndarray:
    """Symmetric inverse of ``C C'`` from its lower Cholesky factor ``C`` (LAPACK potri)."""
    inv, info = lapack.dpotri(chol, lower=1)
    if info != 0:
        raise np.linalg.LinAlgError("singular Cholesky factor")
    return np.tril(inv) + np.tril(inv, -1).T


def _gradient_matrix(
    d: Design, pwrss: float, chol_x: np.ndarray, beta: np.ndarray, parts: tuple[Any, ...]
) -> np.ndarray:
    """``W`` with ``dD = tr(dG W)`` and ``G = L L'`` (scaled design).

    ``W = sum_j (Z'PZ)_jj - nu / pwrss * sum_j u_j u_j'`` with ``P`` the REML projection
    and ``u = Z'P y``; per group ``(Z'V^-1 Z)_j = S_j - E_j E_j'`` and
    ``(Z'V^-1 X)_j = Z_j'X_j - E_j w_j`` with ``E_j = S_j L C_j^-T``, ``w_j = C_j^-1 L' Z_j'X_j``.
    """
    s, zx, zy = d.ztz, d.ztx, d.zty
    xax_inv = _inverse(chol_x)
    fitted = [zx[i] @ beta for i in range(d.q)]
    if d.q == 1:
        sl, l00, w0, r0 = parts
        e0 = sl / l00
        e = [[e0]]
        ws, res = [w0], [r0 - w0 @ beta]
    else:
        sl00, sl10, sl01, sl11, l00, l10, l11, w0, w1, r0, r1 = parts
        # C_j^-T = [[1/l00, -l10/(l00 l11)], [0, 1/l11]]
        i00, i11 = 1.0 / l00, 1.0 / l11
        i01 = -l10 * i00 * i11
        e = [[sl00 * i00, sl00 * i01 + sl01 * i11], [sl10 * i00, sl10 * i01 + sl11 * i11]]
        ws, res = [w0, w1], [r0 - w0 @ beta, r1 - w1 @ beta]
    q = d.q
    # per index a: (Z'V^-1 X)_j rows, (Z'P y)_j elements, all groups at once
    ux = [zx[a] - sum(e[a][k][:, None] * ws[k] for k in range(q)) for a in range(q)]
    u = [zy[a] - fitted[a] - sum(e[a][k] * res[k] for k in range(q)) for a in range(q)]
    scale = (d.n - d.p) / pwrss
    w_mat = np.empty((q, q))
    for a in range(q):
        for b in range(a + 1):
            ee = sum(float(e[a][k] @ e[b][k]) for k in range(q))
            uxu = float(np.sum(xax_inv * (ux[a].T @ ux[b])))
            w_mat[a, b] = w_mat[b, a] = float(s[a, b].sum()) - ee - uxu - scale * float(u[a] @ u[b])
    return w_mat


def deviance_at_factor(factor: np.ndarray, d: Design) -> float:
    """lme4's profiled REML deviance (``-2 logLik``, original data) at factor ``L``."""
    try:
        logdet_m, logdet_xax, pwrss, *_ = _penalized(factor, d)
    except np.linalg.LinAlgError:
        return math.inf
    return _reml(logdet_m, logdet_xax, pwrss, d) + d.constant


def deviance_and_gradient(theta_scaled: np.ndarray, d: Design) -> tuple[float, np.ndarray]:
    """Deviance (original data) and its exact gradient in theta on the scaled design.

    The gradient is analytic (see :func:`_gradient_matrix`): one evaluation costs about as much
    as two deviances, where central differences cost ``2 len(theta)``.

    Parameters
    ----------
    theta_scaled : numpy.ndarray
        Theta on the scaled design (any real values, as :func:`deviance_scaled`).
    d : Design
        From :func:`build_design`.

    Returns
    -------
    tuple
        ``(deviance, gradient)``; ``(inf, nan array)`` where the deviance is undefined.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> df = pd.DataFrame({"y": [1.0, 2, 3, 5, 4, 4], "g": list("aabbcc")})
    >>> d = build_design(df, "y", [], "g", None)
    >>> dev, grad = deviance_and_gradient(np.array([0.5]), d)
    >>> bool(np.isclose(dev, deviance_scaled(np.array([0.5]), d)))
    True
    """
    theta_scaled = np.asarray(theta_scaled, dtype=float)
    try:
        logdet_m, logdet_xax, pwrss, chol_x, beta, parts = _penalized(
            relative_factor(theta_scaled, d.q), d
        )
    except np.linalg.LinAlgError:
        return math.inf, np.full(theta_scaled.size, np.nan)
    dev = _reml(logdet_m, logdet_xax, pwrss, d)
    if not np.isfinite(dev):
        return math.inf, np.full(theta_scaled.size, np.nan)
    w = _gradient_matrix(d, pwrss, chol_x, beta, parts)
    if d.q == 1:
        grad = np.array([2.0 * theta_scaled[0] * w[0, 0]])
    else:
        a, b, c = theta_scaled
        # dG/da = [[2a, b], [b, 0]], dG/db = [[0, a], [a, 2b]], dG/dc = [[0, 0], [0, 2c]]
        grad = np.array(
            [
                2.0 * (a * w[0, 0] + b * w[0, 1]),
                2.0 * (a * w[0, 1] + b * w[1, 1]),
                2.0 * c * w[1, 1],
            ]
        )
    return dev + d.constant, grad


def deviance_scaled(theta_scaled: np.ndarray, d: Design) -> float:
    """Deviance with theta on the scaled design (the optimizers' objective).

    Any real theta is allowed: a negative diagonal element gives the same covariance as
    its absolute value with the column's signs flipped.
    """
    return deviance_at_factor(relative_factor(theta_scaled, d.q), d)


def deviance(theta: np.ndarray, d: Design) -> float:
    """Deviance at lme4's (original-scale) theta."""
    return deviance_at_factor(scaled_factor(theta, d), d)


def _deviance_vp(parts: tuple[Any, ...], sigma: float, d: Design) -> float:
    logdet_m, logdet_xax, pwrss = parts[:3]
    sigma2 = sigma**2
    pwrss = pwrss * d.y_scale**2
    logdet_xax = logdet_xax - 2.0 * math.log(abs(np.linalg.det(d.x_transform)))
    return float(
        logdet_m + logdet_xax + pwrss / sigma2 + (d.n - d.p) * math.log(2.0 * math.pi * sigma2)
    )


def _covbeta(parts: tuple[Any, ...], sigma: float, d: Design) -> np.ndarray:
    a_mat = d.x_transform
    return (sigma**2 * a_mat @ _inverse(parts[3]) @ a_mat.T).ravel()


def deviance_varpar(varpar: np.ndarray, d: Design) -> float:
    """lmerTest's ``devfun_vp``: REML deviance as a function of ``(theta, sigma)``."""
    return _deviance_vp(_penalized(scaled_factor(varpar[:-1], d), d), varpar[-1], d)


def covbeta_varpar(varpar: np.ndarray, d: Design) -> np.ndarray:
    """lmerTest's ``get_covbeta``: ``sigma^2 (X' A^-1 X)^-1`` (original scale), flattened."""
    return _covbeta(_penalized(scaled_factor(varpar[:-1], d), d), varpar[-1], d)


def varpar_functions(
    d: Design,
) -> tuple[Callable[[np.ndarray], float], Callable[[np.ndarray], np.ndarray]]:
    """:func:`deviance_varpar` and :func:`covbeta_varpar` of one design, sharing work.

    Both depend on theta only through one penalized least-squares solution; numerical
    derivatives visit the same theta with many values of sigma, so the solution is kept
    per theta (in these closures only) and each function returns exactly what its
    stand-alone version returns.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> df = pd.DataFrame({"y": [1.0, 2, 3, 5, 4, 4], "g": list("aabbcc")})
    >>> d = build_design(df, "y", [], "g", None)
    >>> dev, cov = varpar_functions(d)
    >>> dev(np.array([0.5, 1.2])) == deviance_varpar(np.array([0.5, 1.2]), d)
    True
    """
    solutions: dict[bytes, tuple[Any, ...]] = {}

    def parts(theta: np.ndarray) -> tuple[Any, ...]:
        key = np.asarray(theta, dtype=float).tobytes()
        if key not in solutions:
            solutions[key] = _penalized(scaled_factor(theta, d), d)
        return solutions[key]

    def dev(varpar: np.ndarray) -> float:
        return _deviance_vp(parts(varpar[:-1]), varpar[-1], d)

    def cov(varpar: np.ndarray) -> np.ndarray:
        return _covbeta(parts(varpar[:-1]), varpar[-1], d)

    return dev, cov
