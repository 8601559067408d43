"""lme4's profiled REML and ML deviance for random effects nested in one top-level factor.

The model is ``y = X beta + Z b + e`` with random-effect *levels* ``1 .. L`` (outer to
inner, e.g. therapist, therapist:patient), each level's units nested in one unit of the
level above, and at each level one or more random-effect terms (lme4's ``(1 + a + b | g)``)
with an unstructured covariance ``sigma^2 Lambda_t Lambda_t'`` per term.

Because every unit of a level has exactly one ancestor per level above, the penalized
least-squares matrix ``M = Lambda' Z'Z Lambda + I`` is block-diagonal by top-level unit and,
within a block, a tree whose fill-in under elimination from the innermost level outwards
stays inside each unit's chain of ancestors. The deviance is therefore computed by a
multifrontal elimination vectorised over all units of a level (numpy, no Python loop over
groups): each unit's row ``[own | parent | grandparent | ... | top | X | y]`` is
Cholesky-factored on its own ``q x q`` block, and its Schur complement is added to its
ancestors' rows with :func:`numpy.add.reduceat` (units are stored sorted by their chain of
ancestors). One evaluation costs O(n + units) with small ``q``.

As :mod:`process_outcome.mixed.reml`, the design is centred and scaled first (the
response, every fixed-effect column, every random-effect column of a term with an
intercept), and the functions here return the deviance of the *original* data.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "Level",
    "NestedDesign",
    "NestedState",
    "build_nested_design",
    "conditional_modes",
    "factor_blocks",
    "n_theta",
    "nested_deviance",
    "nested_state",
    "profiled_deviance",
    "theta_from_cov",
    "varpar_deviance",
]


@dataclass(frozen=True, eq=False)
class Level:
    """One random-effect level (a grouping factor) of a :class:`NestedDesign`.

    Attributes
    ----------
    name : str
        lme4's name of the factor, e.g. ``"batch:cask"``.
    labels : numpy.ndarray
        Unit labels in the internal (ancestor-sorted) order.
    codes : numpy.ndarray
        Internal unit index of each row.
    term_sizes : tuple of int
        Columns of each term at this level (a block-diagonal ``Lambda``).
    term_columns : tuple of tuple of str
        Column names of each term (``"(Intercept)"`` for an intercept).
    q : int
        Random effects per unit (sum of ``term_sizes``).
    z_transform : numpy.ndarray
        ``B`` with ``Z_scaled = Z B`` (block-diagonal by term).
    cross : numpy.ndarray
        Per unit ``Z_j' [Z_own, Z_parent, ..., Z_top, X, y]`` on the scaled design,
        shape ``(J, q, width)``.
    starts : tuple of numpy.ndarray
        For each level above (same index), where each of its units' blocks of units of
        this level start (for :func:`numpy.add.reduceat`).
    """

    name: str
    labels: np.ndarray
    codes: np.ndarray
    term_sizes: tuple[int, ...]
    term_columns: tuple[tuple[str, ...], ...]
    q: int
    z_transform: np.ndarray
    cross: np.ndarray
    starts: tuple[np.ndarray, ...]


@dataclass(frozen=True, eq=False)
class NestedDesign:
    """Centred, scaled design of a nested linear mixed model.

    ``levels`` run outer (top-level factor) to inner; ``xtx``, ``xty``, ``yty`` are the
    scaled design's cross-products; ``x_transform`` (``X_s = X A``), ``y_center`` and
    ``y_scale`` undo the scaling; ``constant_reml`` and ``constant_ml`` are the deviance
    of the original data minus that of the scaled data.
    """

    n: int
    p: int
    levels: tuple[Level, ...]
    xtx: np.ndarray
    xty: np.ndarray
    yty: float
    x_transform: np.ndarray
    y_center: float
    y_scale: float
    constant_reml: float
    constant_ml: float

    @property
    def n_random(self) -> int:
        """Number of random effects (all units of all levels)."""
        return int(sum(lv.q * len(lv.labels) for lv in self.levels))


@dataclass(frozen=True, eq=False)
class NestedState:
    """The penalized least-squares solution at one set of relative factors (scaled design)."""

    logdet_m: float
    logdet_xax: float
    pwrss: float
    xax: np.ndarray
    chol_x: np.ndarray
    beta: np.ndarray
    chol: tuple[np.ndarray, ...]
    w: tuple[np.ndarray, ...]


def n_theta(term_sizes: tuple[int, ...]) -> int:
    """Number of theta elements of terms of the given sizes."""
    return int(sum(k * (k + 1) // 2 for k in term_sizes))


def _centre_scale(values: np.ndarray) -> tuple[float, float]:
    centre = float(values.mean())
    scale = float(values.std())
    return centre, scale if scale > 0 else 1.0


def build_nested_design(
    y: np.ndarray,
    x: np.ndarray,
    levels: list[dict],
) -> NestedDesign:
    """Scaled design from numeric arrays.

    Parameters
    ----------
    y : numpy.ndarray
        Response (n,).
    x : numpy.ndarray
        Fixed-effect design (n, p), first column the intercept.
    levels : list of dict
        Outer to inner; each with ``name``, ``labels`` (sorted unit labels), ``codes``
        (row -> index into ``labels``), ``parent`` (unit -> parent unit index into the
        level above's ``labels``; None for the top level) and ``terms``: a list of
        ``(column names, z (n, k) array, has_intercept)``.

    Returns
    -------
    NestedDesign

    Examples
    --------
    >>> y = np.array([1.0, 2.0, 1.5, 3.0, 2.5, 2.0, 4.0, 3.5])
    >>> top = {"name": "g", "labels": np.array(["a", "b"]), "codes": np.repeat([0, 1], 4),
    ...        "parent": None, "terms": [(("(Intercept)",), np.ones((8, 1)), True)]}
    >>> inner = {"name": "g:h", "labels": np.array(["a:1", "a:2", "b:1", "b:2"]),
    ...          "codes": np.repeat([0, 1, 2, 3], 2), "parent": np.array([0, 0, 1, 1]),
    ...          "terms": [(("(Intercept)",), np.ones((8, 1)), True)]}
    >>> d = build_nested_design(y, np.ones((8, 1)), [top, inner])
    >>> d.n_random, [len(lv.labels) for lv in d.levels]
    (6, [2, 4])
    >>> round(nested_deviance(np.array([0.5, 0.5]), d), 4)
    20.9758
    """
    n, p = x.shape
    a_mat = np.eye(p)
    xs = np.empty_like(x, dtype=float)
    xs[:, 0] = 1.0
    for j in range(1, p):
        centre, scale = _centre_scale(x[:, j])
        xs[:, j] = (x[:, j] - centre) / scale
        a_mat[0, j] = -centre / scale
        a_mat[j, j] = 1.0 / scale
    y_center, y_scale = _centre_scale(y)
    ys = (y - y_center) / y_scale
    # internal unit order: sorted by the chain of ancestors, then by label
    internal: list[np.ndarray] = []  # per level: label index -> internal index
    zs: list[np.ndarray] = []
    transforms: list[np.ndarray] = []
    prepared = []
    for li, lv in enumerate(levels):
        n_units = len(lv["labels"])
        if li == 0:
            order = np.arange(n_units)
        else:
            parent_internal = internal[li - 1][lv["parent"]]
            order = np.lexsort((np.arange(n_units), parent_internal))
        rank = np.empty(n_units, dtype=np.intp)
        rank[order] = np.arange(n_units)
        internal.append(rank)
        cols, blocks = [], []
        for _names, z, has_intercept in lv["terms"]:
            k = z.shape[1]
            b = np.eye(k)
            zt = np.array(z, dtype=float)
            for c in range(k):
                if has_intercept and c > 0:
                    centre, scale = _centre_scale(z[:, c])
                    zt[:, c] = (z[:, c] - centre) / scale
                    b[0, c] = -centre / scale
                    b[c, c] = 1.0 / scale
                elif not (has_intercept and c == 0):
                    scale = float(np.sqrt(np.mean(z[:, c] ** 2))) or 1.0
                    zt[:, c] = z[:, c] / scale
                    b[c, c] = 1.0 / scale
            cols.append(zt)
            blocks.append(b)
        z_level = np.column_stack(cols)
        zs.append(z_level)
        q = z_level.shape[1]
        b_mat = np.zeros((q, q))
        o = 0
        for b in blocks:
            k = b.shape[0]
            b_mat[o : o + k, o : o + k] = b
            o += k
        transforms.append(b_mat)
        prepared.append((lv, order, rank))
    built = []
    for li, (lv, order, rank) in enumerate(prepared):
        codes = rank[np.asarray(lv["codes"])]
        n_units = len(order)
        # row vectors [z_own, z_parent, ..., z_top, x, y]
        aug = np.column_stack([*(zs[m] for m in range(li, -1, -1)), xs, ys])
        row_order = np.argsort(codes, kind="stable")
        sorted_codes = codes[row_order]
        seg = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
        zo = zs[li][row_order]
        ao = aug[row_order]
        cross = np.add.reduceat(zo[:, :, None] * ao[:, None, :], seg, axis=0)
        # every unit's ancestor (internal index) at each level above; units sorted by
        # their chain, so each ancestor's units are contiguous
        starts = []
        anc = np.arange(n_units)
        anc_by_level = {}
        for m in range(li - 1, -1, -1):
            child_order = prepared[m + 1][1]
            anc = internal[m][np.asarray(prepared[m + 1][0]["parent"])[child_order[anc]]]
            anc_by_level[m] = anc
        for m in range(li):
            a = anc_by_level[m]
            starts.append(np.flatnonzero(np.r_[True, a[1:] != a[:-1]]))
        labels = np.asarray(lv["labels"], dtype=object)[order]
        sizes = tuple(t[1].shape[1] for t in lv["terms"])
        built.append(
            Level(
                name=lv["name"],
                labels=labels,
                codes=codes,
                term_sizes=sizes,
                term_columns=tuple(tuple(t[0]) for t in lv["terms"]),
                q=int(sum(sizes)),
                z_transform=transforms[li],
                cross=np.ascontiguousarray(cross),
                starts=tuple(starts),
            )
        )
    log_det_a = math.log(abs(np.linalg.det(a_mat)))
    return NestedDesign(
        n=n,
        p=p,
        levels=tuple(built),
        xtx=xs.T @ xs,
        xty=xs.T @ ys,
        yty=float(ys @ ys),
        x_transform=a_mat,
        y_center=y_center,
        y_scale=y_scale,
        constant_reml=-2.0 * log_det_a + (n - p) * 2.0 * math.log(y_scale),
        constant_ml=n * 2.0 * math.log(y_scale),
    )


@functools.lru_cache(maxsize=64)
def _tri(k: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of a k x k lower triangle in lme4's column-major order."""
    rows, cols = np.tril_indices(k)
    order = np.lexsort((rows, cols))
    return rows[order], cols[order]


def factor_blocks(theta: np.ndarray, d: NestedDesign) -> list[np.ndarray]:
    """Per-level block-diagonal lower-triangular factors from theta (level, term order)."""
    theta = np.asarray(theta, dtype=float)
    out = []
    o = 0
    for lv in d.levels:
        lam = np.zeros((lv.q, lv.q))
        c0 = 0
        for k in lv.term_sizes:
            rows, cols = _tri(k)
            m = k * (k + 1) // 2
            lam[c0 + rows, c0 + cols] = theta[o : o + m]
            o += m
            c0 += k
        out.append(lam)
    return out


def theta_from_cov(psi: np.ndarray, tol: float = 1e-14) -> np.ndarray:
    """lme4's theta (column-major lower triangle, non-negative diagonal) of ``psi``.

    A Cholesky factorization that leaves a column zero where the remaining variance is
    zero (a semi-definite covariance), the form lme4 reports on the boundary.

    Examples
    --------
    >>> theta_from_cov(np.array([[4.0, 2.0], [2.0, 2.0]]))
    array([2., 1., 1.])
    """
    psi = np.atleast_2d(np.asarray(psi, dtype=float))
    k = psi.shape[0]
    c = np.zeros((k, k))
    scale = max(float(np.max(np.abs(np.diag(psi)))), 1e-300)
    for j in range(k):
        dj = psi[j, j] - float(c[j, :j] @ c[j, :j])
        if dj <= tol * scale:
            continue
        c[j, j] = math.sqrt(dj)
        for i in range(j + 1, k):
            c[i, j] = (psi[i, j] - float(c[i, :j] @ c[j, :j])) / c[j, j]
    rows, cols = np.tril_indices(k)
    order = np.lexsort((rows, cols))
    return c[rows[order], cols[order]]


def _chol_solve(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Batched Cholesky ``a = C C'`` (J, q, q) and ``W = C^-1 b`` (J, q, r), vectorised
    over units with loops over the small ``q`` only (numpy's batched LAPACK wrappers cost
    more per 2x2 matrix than the arithmetic)."""
    q = a.shape[1]
    if q == 1:
        c = np.sqrt(a[:, 0, 0])
        return c[:, None, None], b / c[:, None, None]
    c = np.zeros_like(a)
    w = np.empty_like(b)
    if q == 2:
        l00 = np.sqrt(a[:, 0, 0])
        l10 = a[:, 1, 0] / l00
        l11 = np.sqrt(a[:, 1, 1] - l10 * l10)
        c[:, 0, 0], c[:, 1, 0], c[:, 1, 1] = l00, l10, l11
        w0 = b[:, 0, :] / l00[:, None]
        w[:, 0, :] = w0
        w[:, 1, :] = (b[:, 1, :] - l10[:, None] * w0) / l11[:, None]
        return c, w
    for k in range(q):
        if k == 0:
            ckk = np.sqrt(a[:, 0, 0])
            c[:, 0, 0] = ckk
            c[:, 1:, 0] = a[:, 1:, 0] / ckk[:, None]
            w[:, 0, :] = b[:, 0, :] / ckk[:, None]
            continue
        ck = c[:, k, :k]
        ckk = np.sqrt(a[:, k, k] - np.sum(ck * ck, axis=1))
        c[:, k, k] = ckk
        if k + 1 < q:
            c[:, k + 1 :, k] = (
                a[:, k + 1 :, k] - np.matmul(c[:, k + 1 :, :k], ck[:, :, None])[:, :, 0]
            ) / ckk[:, None]
        w[:, k, :] = (b[:, k, :] - np.matmul(ck[:, None, :], w[:, :k, :])[:, 0, :]) / ckk[:, None]
    return c, w


def _lower_inverse(c: np.ndarray) -> np.ndarray:
    """Batched inverse of lower-triangular ``c`` (J, q, q)."""
    q = c.shape[1]
    eye = np.broadcast_to(np.eye(q), c.shape)
    return _chol_solve_given(c, eye)


def _chol_solve_given(c: np.ndarray, b: np.ndarray) -> np.ndarray:
    q = c.shape[1]
    w = np.empty(b.shape)
    for k in range(q):
        w[:, k, :] = (b[:, k, :] - np.einsum("jm,jmr->jr", c[:, k, :k], w[:, :k, :])) / c[
            :, k, k, None
        ]
    return w


def nested_state(factors: list[np.ndarray], d: NestedDesign) -> NestedState:
    """Profile out beta at per-level relative factors ``L`` (scaled design).

    Raises
    ------
    numpy.linalg.LinAlgError
        If ``X' V^-1 X`` is not positive definite.
    """
    p = d.p
    n_lv = len(d.levels)
    offsets = []
    for li in range(n_lv):
        # column offsets of [own, parent, ..., top, x, y] in level li's rows
        sizes = [d.levels[m].q for m in range(li, -1, -1)]
        offsets.append(np.concatenate([[0], np.cumsum(sizes)]))
    acc: list[np.ndarray | None] = [None] * n_lv
    xy = np.zeros((p + 1, p + 1))
    xy[:p, :p] = d.xtx
    xy[:p, p] = xy[p, :p] = d.xty
    xy[p, p] = d.yty
    logdet = 0.0
    chols: list[np.ndarray] = [np.empty(0)] * n_lv
    ws: list[np.ndarray] = [np.empty(0)] * n_lv
    for li in range(n_lv - 1, -1, -1):
        lv = d.levels[li]
        q = lv.q
        off = offsets[li]
        # Lambda' (Z_j' [Z, X, y]) blockdiag(Lambda_own, ..., Lambda_top, I), as BLAS
        # products on the stacked units (numpy's batched matmul of 2x2 blocks is slower)
        n_units = lv.cross.shape[0]
        r = np.tensordot(lv.cross, factors[li], axes=([1], [0])).transpose(0, 2, 1)
        r = np.ascontiguousarray(r)
        for pos, m in enumerate(range(li, -1, -1)):
            lo, hi = off[pos], off[pos + 1]
            block = r[:, :, lo:hi].reshape(n_units * q, hi - lo) @ factors[m]
            r[:, :, lo:hi] = block.reshape(n_units, q, hi - lo)
        r[:, :, :q] += np.eye(q)
        if acc[li] is not None:
            r += acc[li]
        c, w = _chol_solve(r[:, :, :q], r[:, :, q:])
        chols[li], ws[li] = c, w
        logdet += 2.0 * float(np.sum(np.log(np.diagonal(c, axis1=1, axis2=2))))
        # Schur complement onto the ancestors: level m's rows start at its offset in w
        for pos, m in enumerate(range(li - 1, -1, -1)):
            lo = off[pos + 1] - q
            qm = d.levels[m].q
            upd = w[:, 0, lo : lo + qm, None] * w[:, 0, None, lo:]
            for k in range(1, q):
                upd += w[:, k, lo : lo + qm, None] * w[:, k, None, lo:]
            summed = np.add.reduceat(upd, lv.starts[m], axis=0)
            acc[m] = -summed if acc[m] is None else acc[m] - summed
        wxy = w[:, :, -(p + 1) :].reshape(-1, p + 1)
        xy -= wxy.T @ wxy
    xax = xy[:p, :p]
    chol_x = np.linalg.cholesky(xax)
    beta = np.linalg.solve(xax, xy[:p, p])
    pwrss = float(xy[p, p] - beta @ xy[:p, p])
    return NestedState(
        logdet_m=logdet,
        logdet_xax=float(2.0 * np.sum(np.log(np.diag(chol_x)))),
        pwrss=pwrss,
        xax=xax,
        chol_x=chol_x,
        beta=beta,
        chol=tuple(chols),
        w=tuple(ws),
    )


def profiled_deviance(s: NestedState, d: NestedDesign, reml: bool) -> float:
    """lme4's profiled deviance (original data) from a :class:`NestedState`."""
    if not (s.pwrss > 0 and np.isfinite(s.pwrss)):
        return math.inf
    if reml:
        dof = d.n - d.p
        dev = s.logdet_m + s.logdet_xax + dof * (1.0 + math.log(2.0 * math.pi * s.pwrss / dof))
        return dev + d.constant_reml
    dev = s.logdet_m + d.n * (1.0 + math.log(2.0 * math.pi * s.pwrss / d.n))
    return dev + d.constant_ml


def nested_deviance(theta_scaled: np.ndarray, d: NestedDesign, reml: bool = True) -> float:
    """Profiled REML (or ML) deviance of the original data at scaled-design theta."""
    try:
        s = nested_state(factor_blocks(theta_scaled, d), d)
    except np.linalg.LinAlgError:
        return math.inf
    return profiled_deviance(s, d, reml)


def varpar_deviance(s: NestedState, sigma: float, d: NestedDesign, reml: bool) -> float:
    """lmerTest's ``devfun_vp``: the deviance at ``(theta, sigma)`` (original scale)."""
    sigma2 = sigma**2
    pwrss = s.pwrss * d.y_scale**2
    if reml:
        logdet_xax = s.logdet_xax - 2.0 * math.log(abs(np.linalg.det(d.x_transform)))
        return float(
            s.logdet_m
            + logdet_xax
            + pwrss / sigma2
            + (d.n - d.p) * math.log(2.0 * math.pi * sigma2)
        )
    return float(s.logdet_m + pwrss / sigma2 + d.n * math.log(2.0 * math.pi * sigma2))


def conditional_modes(
    factors: list[np.ndarray], s: NestedState, d: NestedDesign, sigma: float
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Conditional modes ``b = Lambda u`` and their conditional covariance blocks.

    Returns, per level, ``(modes (J, q), cov (J, q, q))`` on the original scale, with
    ``cov = sigma^2 Lambda (M^-1)_jj Lambda'`` (lme4's ``ranef(condVar = TRUE)``).
    Back-substitution and the selected inverse (Takahashi's recurrence) run from the top
    level inwards, each unit reading its ancestors' chain.
    """
    p = d.p
    n_lv = len(d.levels)
    beta_aug = np.append(-s.beta, 1.0)
    u_chain: list[np.ndarray] = []  # per level: (J, Q) u over [own, parent, ..., top]
    sig_chain: list[np.ndarray] = []  # per level: (J, Q, Q) M^-1 over the same chain
    out = []
    for li in range(n_lv):
        lv = d.levels[li]
        c, w = s.chol[li], s.w[li]
        rhs = w[:, :, -(p + 1) :] @ beta_aug  # (J, q): forward solution of the modes
        c_inv = _lower_inverse(c)  # (J, q, q)
        if li == 0:
            u = np.einsum("jki,jk->ji", c_inv, rhs)
            sig = np.einsum("jki,jkl->jil", c_inv, c_inv)
            u_full, sig_full = u, sig
        else:
            parent = _parent_index(d, li)
            u_anc = u_chain[li - 1][parent]
            s_anc = sig_chain[li - 1][parent]
            w_anc = w[:, :, : w.shape[2] - (p + 1)]
            u = np.einsum("jki,jk->ji", c_inv, rhs - np.einsum("jka,ja->jk", w_anc, u_anc))
            k_mat = np.einsum("jki,jka->jia", c_inv, w_anc)  # C^-T W_anc
            cross = -np.einsum("jia,jab->jib", k_mat, s_anc)
            sig = np.einsum("jki,jkl->jil", c_inv, c_inv) - np.einsum("jib,jlb->jil", cross, k_mat)
            u_full = np.concatenate([u, u_anc], axis=1)
            top = np.concatenate([sig, cross], axis=2)
            bottom = np.concatenate([np.transpose(cross, (0, 2, 1)), s_anc], axis=2)
            sig_full = np.concatenate([top, bottom], axis=1)
        u_chain.append(u_full)
        sig_chain.append(sig_full)
        lam_orig = lv.z_transform @ factors[li]  # Lambda on the original scale (not triangular)
        modes = u @ lam_orig.T * d.y_scale
        cov = sigma**2 * np.einsum("ab,jbc,dc->jad", lam_orig, sig, lam_orig)
        out.append((modes, cov))
    return out


def _parent_index(d: NestedDesign, li: int) -> np.ndarray:
    """Internal index of the parent (level ``li - 1``) of each unit of level ``li``."""
    starts = d.levels[li].starts[li - 1]
    n_units = len(d.levels[li].labels)
    parent = np.zeros(n_units, dtype=np.intp)
    parent[starts[1:]] = 1
    return np.cumsum(parent)
