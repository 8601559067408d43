"""Fitting nested linear mixed models (lme4's nested class) and what a fit holds.

:func:`fit_nested` takes numeric arrays (a fixed-effect design and random-effect terms
with their grouping labels), checks that the design is one the engine fits and that the
data identify it, orders the grouping factors outer to inner, optimizes lme4's profiled
REML (or ML) deviance of :mod:`process_outcome.mixed.nested` and returns a
:class:`LinearMixedModel` with lmerTest's Satterthwaite t tests, variance components,
conditional modes with their conditional SDs, singularity and convergence.
:func:`process_outcome.mixed.formula.lmer` builds those arrays from an lme4 formula.

The optimizer works on the scaled design: bounded L-BFGS-B (central-difference gradient)
from lme4's start, restarts off any zero variance (both signs of the off-diagonal
elements), then the scale-free second-order check of :mod:`process_outcome.mixed.optimize`
(Newton decrement below ``DECREMENT_TOL`` log-likelihood, no negative curvature); when the
optimum is not confirmed, Nelder-Mead and Powell from the best point, then L-BFGS-B again.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize
from threadpoolctl import threadpool_limits

from process_outcome.errors import ModelSpecificationError
from process_outcome.files import json_float, json_records
from process_outcome.mixed.derivatives import richardson_hessian, richardson_jacobian
from process_outcome.mixed.nested import (
    NestedDesign,
    NestedState,
    build_nested_design,
    conditional_modes,
    factor_blocks,
    nested_state,
    profiled_deviance,
    theta_from_cov,
    varpar_deviance,
)
from process_outcome.mixed.optimize import CURVATURE_TOL, DECREMENT_TOL, central_hessian
from process_outcome.mixed.results import (
    CORRELATION_LIMIT,
    HESSIAN_EIGEN_TOL,
    INTERCEPT,
    SINGULAR_TOL,
    FitAttempt,
)
from process_outcome.mixed.satterthwaite import coefficient_table

__all__ = ["LinearMixedModel", "RandomTerm", "fit_nested"]


LBFGSB_FTOL = 1e-12
GRADIENT = "2-point"


@dataclass(frozen=True)
class RandomTerm:
    """One random-effect term ``(columns | group)`` as numeric data.

    Attributes
    ----------
    group : str
        lme4's name of the grouping factor (``"therapist:patient"`` for a nested one).
    labels : numpy.ndarray
        Group label of every row (strings).
    columns : tuple of str
        Names of the random-effect columns (``"(Intercept)"`` first if present).
    z : numpy.ndarray
        Their values (n, k).
    """

    group: str
    labels: np.ndarray
    columns: tuple[str, ...]
    z: np.ndarray

    @property
    def intercept(self) -> bool:
        """Whether the term's first column is an intercept."""
        return bool(self.columns) and self.columns[0] == INTERCEPT


@dataclass(frozen=True, eq=False)
class LinearMixedModel:
    """A fitted nested linear mixed model, with lme4/lmerTest-equivalent summaries.

    Attributes
    ----------
    formula : str
        The model (lme4 notation).
    response : str
        Response name.
    terms : tuple of str
        Fixed-effect names (lme4's: ``"(Intercept)"``, ``"a:b"``, ``"femaleMale"``).
    reml : bool
        REML (True) or ML.
    coefficients : pandas.DataFrame
        ``term, estimate, se, df, t, p, ci_low, ci_high`` (Satterthwaite, as lmerTest).
    vcov, fixed_effects : numpy.ndarray
        Fixed effects and their covariance.
    theta, theta_names : numpy.ndarray, tuple of str
        lme4's theta in lme4's order (terms by decreasing number of groups).
    sigma : float
        Residual SD.
    variance_components : dict
        ``<group>|<var1>|<var2>`` as lme4's ``as.data.frame(VarCorr())`` (``var2``
        empty for a variance), ``Residual||``.
    loglik : float
        REML or ML log-likelihood.
    converged, singular : bool
        Optimum confirmed; lme4's ``isSingular`` or a correlation beyond 0.999.
    n_obs : int
        Rows used.
    n_groups : dict
        Units per grouping factor.
    random_effects : dict of str to pandas.DataFrame
        Per grouping factor: ``group, n_obs`` and per column its conditional mode and
        ``<column>_cond_sd`` (lme4's ``ranef(condVar = TRUE)``), sorted by label.
    varpar_vcov, vcov_jacobian : numpy.ndarray
        lmerTest's Satterthwaite ingredients over ``(theta, sigma)``.
    attempts : tuple of FitAttempt
        Optimizer runs.
    escalation : tuple of str
        Why the optimizer went beyond its routine runs.
    newton_decrement : float
        The optimum check's Newton decrement.
    """

    formula: str
    response: str
    terms: tuple[str, ...]
    reml: bool
    coefficients: pd.DataFrame
    vcov: np.ndarray
    fixed_effects: np.ndarray
    theta: np.ndarray
    theta_names: tuple[str, ...]
    sigma: float
    variance_components: dict[str, float]
    loglik: float
    converged: bool
    singular: bool
    n_obs: int
    n_groups: dict[str, int]
    random_effects: dict[str, pd.DataFrame]
    varpar_vcov: np.ndarray
    vcov_jacobian: np.ndarray
    attempts: tuple[FitAttempt, ...] = ()
    escalation: tuple[str, ...] = ()
    newton_decrement: float = math.nan
    predictor: Any = field(default=None, repr=False)

    @property
    def n_parameters(self) -> int:
        """Fixed effects, theta and sigma (lme4's ``df`` of ``logLik``)."""
        return len(self.terms) + len(self.theta) + 1

    @property
    def aic(self) -> float:
        """``-2 logLik + 2 npar`` (of the REML criterion for a REML fit, as lme4)."""
        return -2.0 * self.loglik + 2.0 * self.n_parameters

    @property
    def bic(self) -> float:
        """``-2 logLik + log(n) npar``."""
        return -2.0 * self.loglik + math.log(self.n_obs) * self.n_parameters

    @property
    def varpar(self) -> np.ndarray:
        """lmerTest's ``(theta, sigma)``."""
        return np.append(self.theta, self.sigma)

    def coef_table(self) -> pd.DataFrame:
        """The fixed-effect table (a copy of :attr:`coefficients`)."""
        return self.coefficients.copy()

    def predict(self, newdata: pd.DataFrame | None = None, random: bool = True) -> np.ndarray:
        """Predictions ``X beta`` (+ ``Z b`` with ``random``) for ``newdata`` (default: the
        fitted rows). Groups not in the fit contribute no random effect (lme4's
        ``allow.new.levels = TRUE``)."""
        if self.predictor is None:
            raise ModelSpecificationError("this fit was made from arrays: give predictions by hand")
        return self.predictor(self, newdata, random)

    def summary(self) -> str:
        """A plain-text summary in lme4/lmerTest's layout."""
        crit = "REML criterion at convergence" if self.reml else "deviance"
        lines = [
            f"Linear mixed model fit by {'REML' if self.reml else 'maximum likelihood'}"
            " (Satterthwaite's t tests)",
            f"Formula: {self.formula}",
            f"{crit}: {-2.0 * self.loglik:.4f}   AIC: {self.aic:.4f}   BIC: {self.bic:.4f}",
            "",
            "Random effects:",
        ]
        for key, value in self.variance_components.items():
            grp, v1, v2 = key.split("|")
            if v2:
                continue
            name = "Residual" if grp == "Residual" else f"{grp} {v1}"
            lines.append(
                f"  {name:<40} variance {value:12.6g}  SD {math.sqrt(max(value, 0)):10.6g}"
            )
        groups = ", ".join(f"{k}, {v}" for k, v in self.n_groups.items())
        lines.append(f"Number of obs: {self.n_obs}, groups: {groups}")
        lines += ["", "Fixed effects:"]
        lines.append(self.coefficients.to_string(index=False, float_format=lambda v: f"{v:.6g}"))
        if self.singular:
            lines.append("boundary (singular) fit: see isSingular")
        if not self.converged:
            lines.append("optimum not confirmed (see escalation)")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable summary (no per-group values)."""
        return {
            "formula": self.formula,
            "reml": self.reml,
            "terms": list(self.terms),
            "loglik": json_float(self.loglik),
            "aic": json_float(self.aic),
            "bic": json_float(self.bic),
            "theta": [json_float(v) for v in self.theta],
            "theta_names": list(self.theta_names),
            "sigma": json_float(self.sigma),
            "variance_components": {k: json_float(v) for k, v in self.variance_components.items()},
            "coefficients": json_records(self.coefficients),
            "converged": bool(self.converged),
            "singular": bool(self.singular),
            "n_obs": int(self.n_obs),
            "n_groups": {k: int(v) for k, v in self.n_groups.items()},
            "attempts": [a.to_dict() for a in self.attempts],
            "escalation": list(self.escalation),
            "newton_decrement": json_float(self.newton_decrement),
        }


def _levels_from_terms(terms: Sequence[RandomTerm], n: int) -> list[dict]:
    """Group the terms by grouping factor, order the factors outer to inner and check
    that each is nested in the next outer one (else: crossed, not supported)."""
    by_group: dict[str, list[RandomTerm]] = {}
    for t in terms:
        by_group.setdefault(t.group, []).append(t)
    info = []
    for name, ts in by_group.items():
        labels = np.asarray(ts[0].labels).astype(str)
        uniq, codes = np.unique(labels, return_inverse=True)
        info.append((len(uniq), name, uniq, codes, ts))
    info.sort(key=lambda r: r[0])
    levels: list[dict] = []
    for i, (n_units, name, uniq, codes, ts) in enumerate(info):
        if n_units < 2:
            raise ModelSpecificationError(
                f"grouping factor {name!r} has a single group ({uniq[0]!r}) in the rows used: "
                "a random effect needs at least two groups (lme4 refuses this too); drop the "
                f"term ( ... | {name}) or use data with more {name} groups"
            )
        if n_units == n:
            raise ModelSpecificationError(
                f"grouping factor {name!r} has one row per group ({n} groups, {n} rows): "
                "its random effects cannot be told from the residual; drop the term or use "
                "repeated observations per group"
            )
        for t in ts:
            k = t.z.shape[1]
            if n <= k * n_units:
                raise ModelSpecificationError(
                    f"rows ({n}) <= random effects ({k} x {n_units} groups) of the term "
                    f"({' + '.join(t.columns)} | {name}): the random effects and the "
                    "residual variance are not identified; use a simpler random part"
                )
        parent = None
        if i > 0:
            above = levels[-1]
            pairs = np.unique(np.stack([codes, above["codes"]]), axis=1)
            if pairs.shape[1] != n_units:
                raise ModelSpecificationError(
                    f"grouping factors {above['name']!r} and {name!r} are crossed (some groups "
                    f"of one occur in more than one group of the other): only random effects "
                    "nested in one top-level factor are supported. If one is nested in the "
                    "other but its ids repeat across the outer groups, name the inner factor "
                    f"by both, outer first: ( ... | {above['name']}:{name}) or "
                    f"( ... | {name}:{above['name']})"
                )
            parent = np.empty(n_units, dtype=np.intp)
            parent[pairs[0]] = pairs[1]
        levels.append(
            {
                "name": name,
                "labels": uniq,
                "codes": codes,
                "parent": parent,
                "terms": [(t.columns, np.asarray(t.z, dtype=float), t.intercept) for t in ts],
                "raw_terms": ts,
            }
        )
    return levels


def _lme4_term_order(d: NestedDesign) -> list[tuple[int, int]]:
    """(level, term) pairs in lme4's order: decreasing number of groups, stable."""
    pairs = [(li, ti) for li, lv in enumerate(d.levels) for ti in range(len(lv.term_sizes))]
    return sorted(pairs, key=lambda p: -len(d.levels[p[0]].labels))


def _term_slices(d: NestedDesign) -> dict[tuple[int, int], slice]:
    out = {}
    o = 0
    for li, lv in enumerate(d.levels):
        for ti, k in enumerate(lv.term_sizes):
            m = k * (k + 1) // 2
            out[li, ti] = slice(o, o + m)
            o += m
    return out


def _term_blocks(d: NestedDesign) -> dict[tuple[int, int], slice]:
    out = {}
    for li, lv in enumerate(d.levels):
        o = 0
        for ti, k in enumerate(lv.term_sizes):
            out[li, ti] = slice(o, o + k)
            o += k
    return out


def _to_lme4_theta(theta_s: np.ndarray, d: NestedDesign) -> np.ndarray:
    """Scaled-design theta (level-major) -> lme4's theta (lme4's term order)."""
    factors = factor_blocks(theta_s, d)
    blocks = _term_blocks(d)
    parts = []
    for li, ti in _lme4_term_order(d):
        sl = blocks[li, ti]
        lam = d.levels[li].z_transform[sl, sl] @ factors[li][sl, sl]
        parts.append(theta_from_cov(lam @ lam.T))
    return np.concatenate(parts)


def _scaled_factors(theta: np.ndarray, d: NestedDesign) -> list[np.ndarray]:
    """lme4's theta -> per-level factors acting on the scaled design (``B^-1 Lambda``)."""
    slices = _term_slices(d)
    internal = np.empty(sum(s.stop - s.start for s in slices.values()))
    o = 0
    for li, ti in _lme4_term_order(d):
        sl = slices[li, ti]
        m = sl.stop - sl.start
        internal[sl] = theta[o : o + m]
        o += m
    factors = factor_blocks(internal, d)
    return [np.linalg.solve(lv.z_transform, f) for lv, f in zip(d.levels, factors, strict=True)]


def _bounds(d: NestedDesign) -> list[tuple[float | None, float | None]]:
    out: list[tuple[float | None, float | None]] = []
    for lv in d.levels:
        for k in lv.term_sizes:
            for c in range(k):
                for r in range(c, k):
                    out.append((0.0, None) if r == c else (None, None))
    return out


def _diagonal_index(d: NestedDesign) -> np.ndarray:
    return np.array([i for i, b in enumerate(_bounds(d)) if b[0] == 0.0])


def _canonical(theta_s: np.ndarray, d: NestedDesign) -> np.ndarray:
    """Same covariance, non-negative diagonal (a negative diagonal flips a column)."""
    factors = factor_blocks(theta_s, d)
    blocks = _term_blocks(d)
    parts = []
    for li, lv in enumerate(d.levels):
        for ti in range(len(lv.term_sizes)):
            sl = blocks[li, ti]
            lam = factors[li][sl, sl]
            parts.append(theta_from_cov(lam @ lam.T))
    return np.concatenate(parts)


@dataclass(frozen=True)
class _Check:
    decrement: float
    min_eigenvalue: float
    confirmed: bool
    direction: np.ndarray
    newton_step: np.ndarray = field(default_factory=lambda: np.empty(0))


def _check(fun: Callable[[np.ndarray], float], x: np.ndarray) -> _Check:
    """The Newton-decrement check of :func:`process_outcome.mixed.optimize.check_optimum`
    on any deviance (gradient by central differences)."""
    if not np.isfinite(fun(x)):
        return _Check(math.inf, -math.inf, False, np.empty(0))
    grad = _central_gradient(fun, x, 1e-5)
    hess = central_hessian(fun, x, 1e-3)
    if not (np.all(np.isfinite(grad)) and np.all(np.isfinite(hess))):
        return _Check(math.inf, -math.inf, False, np.empty(0))
    evals, evecs = np.linalg.eigh(hess)
    pos = evals > CURVATURE_TOL
    step = evecs[:, pos].T @ grad
    decrement = float(np.sum(step**2 / evals[pos]) / 4.0)
    flat = evecs[:, ~pos].T @ grad
    flat_gain = float(np.max(np.abs(flat))) if flat.size else 0.0
    confirmed = decrement < DECREMENT_TOL and evals[0] > -CURVATURE_TOL and flat_gain < 1e-3
    newton = -(evecs[:, pos] @ (step / evals[pos]))
    return _Check(decrement, float(evals[0]), bool(confirmed), evecs[:, 0].copy(), newton)


def _central_gradient(fun: Callable[[np.ndarray], float], x: np.ndarray, step: float) -> np.ndarray:
    g = np.empty(x.size)
    for i in range(x.size):
        e = np.zeros(x.size)
        e[i] = step * max(1.0, abs(x[i]))
        g[i] = (fun(x + e) - fun(x - e)) / (2.0 * e[i])
    return g


def _optimize(d: NestedDesign, reml: bool) -> tuple[np.ndarray, list[FitAttempt], _Check, list]:
    bounds = _bounds(d)
    diag = _diagonal_index(d)

    def fun(t: np.ndarray) -> float:
        try:
            return profiled_deviance(nested_state(factor_blocks(t, d), d), d, reml)
        except (np.linalg.LinAlgError, FloatingPointError, ValueError):
            return math.inf

    attempts: list[FitAttempt] = []
    thetas: list[np.ndarray] = []

    def run(name: str, method: str, x0: np.ndarray) -> None:
        options: dict[str, Any] = {
            "L-BFGS-B": {"ftol": LBFGSB_FTOL, "gtol": 1e-7, "maxiter": 1000},
            "Nelder-Mead": {"xatol": 1e-9, "fatol": 1e-10, "maxiter": 5000},
            "Powell": {"xtol": 1e-9, "ftol": 1e-13, "maxiter": 5000},
        }[method]
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            try:
                res = optimize.minimize(
                    fun,
                    x0,
                    method=method,
                    jac=GRADIENT if method == "L-BFGS-B" else None,
                    bounds=bounds if method in {"L-BFGS-B", "Powell"} else None,
                    options=options,
                )
                theta = _canonical(np.asarray(res.x, dtype=float), d)
                dev = fun(theta)
                ll = -0.5 * dev if np.isfinite(dev) else -math.inf
                attempts.append(FitAttempt(name, float(ll), bool(res.success), str(res.message)))
            except Exception as err:  # a failing optimizer is recorded, not fatal
                theta = np.full(len(bounds), np.nan)
                attempts.append(FitAttempt(name, -math.inf, False, f"{type(err).__name__}: {err}"))
        thetas.append(theta)

    def best() -> int:
        lls = [a.loglik for a in attempts]
        return int(np.argmax(lls))

    start = np.zeros(len(bounds))
    start[diag] = 1.0
    run("lbfgsb(default)", "L-BFGS-B", start)
    reasons: list[str] = []
    b = best()
    if not np.isfinite(attempts[b].loglik):
        raise RuntimeError("no optimizer reached a finite log-likelihood")
    theta = thetas[b]
    # restarts off each zero variance (with the off-diagonal elements' signs flipped too:
    # on the boundary their sign is not identified and a bounded optimizer can stop on
    # the wrong side)
    zero = [i for i in diag if abs(theta[i]) < SINGULAR_TOL]
    offdiag = [j for j in range(len(theta)) if j not in set(diag) and abs(theta[j]) > SINGULAR_TOL]
    for i in zero:
        t = theta.copy()
        t[i] = 0.1
        run(f"lbfgsb(off-boundary {i})", "L-BFGS-B", t)
        if offdiag:
            t = t.copy()
            t[offdiag] = -t[offdiag]
            run(f"lbfgsb(off-boundary {i}, flipped)", "L-BFGS-B", t)
    b = best()
    check = _check(fun, thetas[b])
    if not check.confirmed:
        reasons.append(
            f"optimum not confirmed (Newton decrement {check.decrement:.3g} logLik, "
            f"smallest Hessian eigenvalue {check.min_eigenvalue:.3g})"
        )
        if check.direction.size and check.min_eigenvalue < -CURVATURE_TOL:
            for sign in (1.0, -1.0):
                run(
                    f"lbfgsb(negative curvature {sign:+g})",
                    "L-BFGS-B",
                    thetas[b] + sign * 0.2 * check.direction,
                )
        run("neldermead(best)", "Nelder-Mead", thetas[best()])
        run("powell(best)", "Powell", thetas[best()])
        run("lbfgsb(escalated)", "L-BFGS-B", thetas[best()])
        b = best()
        check = _check(fun, thetas[b])
    theta = thetas[b]
    if check.confirmed and check.newton_step.size:
        # the check's gradient and Hessian give a Newton step for free: it finishes the
        # last digits the finite-difference gradient leaves (kept only if it gains)
        t = _canonical(theta + check.newton_step, d)
        if np.all(np.isfinite(t)) and fun(t) < fun(theta):
            theta = t
            attempts.append(FitAttempt("newton(check)", -0.5 * fun(t), True, "Newton step"))
    return theta, attempts, check, reasons


def fit_nested(
    y: np.ndarray,
    x: np.ndarray,
    fixed_names: Sequence[str],
    random: Sequence[RandomTerm],
    *,
    reml: bool = True,
    response: str = "y",
    formula: str = "",
) -> LinearMixedModel:
    """Fit a linear mixed model with random terms nested in one top-level factor.

    Parameters
    ----------
    y : numpy.ndarray
        Response (n,), no missing values.
    x : numpy.ndarray
        Fixed-effect design (n, p), intercept first.
    fixed_names : sequence of str
        Names of the columns of ``x``.
    random : sequence of RandomTerm
        Random-effect terms; terms on the same grouping factor are uncorrelated blocks.
    reml : bool, default True
        REML (lme4's default) or ML.
    response, formula : str
        Labels kept on the fit.

    Returns
    -------
    LinearMixedModel

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> g = np.repeat(np.arange(8), 6).astype(str)
    >>> y = rng.normal(size=48) + np.repeat(rng.normal(size=8), 6)
    >>> term = RandomTerm("g", g, ("(Intercept)",), np.ones((48, 1)))
    >>> fit = fit_nested(y, np.ones((48, 1)), ["(Intercept)"], [term])
    >>> fit.converged, fit.n_groups
    (True, {'g': 8})
    """
    y = np.asarray(y, dtype=float)
    x = np.asarray(x, dtype=float)
    n = len(y)
    if not random:
        raise ModelSpecificationError(
            "the model has no random-effect term: use ordinary regression"
        )
    if x.shape[1] == 0 or not np.allclose(x[:, 0], 1.0):
        raise ModelSpecificationError(
            "the fixed part must have an intercept (a model without one is not supported)"
        )
    if np.linalg.matrix_rank(x) < x.shape[1]:
        raise ModelSpecificationError(
            f"the fixed-effect design ({', '.join(fixed_names)}) is rank deficient: a column "
            "is constant or a combination of others in the rows used; drop it"
        )
    if n <= x.shape[1]:
        raise ModelSpecificationError(f"{n} rows for {x.shape[1]} fixed effects")
    levels = _levels_from_terms(random, n)
    with threadpool_limits(limits=1, user_api="blas"):
        d = build_nested_design(y, x, levels)
        theta_s, attempts, check, reasons = _optimize(d, reml)
        return _assemble(
            d, theta_s, levels, reml, attempts, check, reasons, fixed_names, response, formula
        )


def _assemble(
    d: NestedDesign,
    theta_s: np.ndarray,
    levels: list[dict],
    reml: bool,
    attempts: list[FitAttempt],
    check: _Check,
    reasons: list[str],
    fixed_names: Sequence[str],
    response: str,
    formula: str,
) -> LinearMixedModel:
    theta = _to_lme4_theta(theta_s, d)
    factors = _scaled_factors(theta, d)
    s = nested_state(factors, d)
    dof = d.n - d.p if reml else d.n
    sigma = d.y_scale * math.sqrt(s.pwrss / dof)
    a_mat = d.x_transform
    beta = d.y_scale * (a_mat @ s.beta)
    beta[0] += d.y_center
    vcov = sigma**2 * a_mat @ np.linalg.inv(s.xax) @ a_mat.T
    loglik = -0.5 * profiled_deviance(s, d, reml)
    order = _lme4_term_order(d)
    names: list[str] = []
    vc: dict[str, float] = {}
    seen: dict[str, int] = {}
    singular = False
    o = 0
    for li, ti in order:
        lv = d.levels[li]
        cols = lv.term_columns[ti]
        k = len(cols)
        grp = lv.name
        if grp in seen:
            seen[grp] += 1
            grp = f"{grp}.{seen[lv.name]}"
        else:
            seen[grp] = 0
        th = theta[o : o + k * (k + 1) // 2]
        o += k * (k + 1) // 2
        rows, cs = np.tril_indices(k)
        tri = np.lexsort((rows, cs))
        lam = np.zeros((k, k))
        lam[rows[tri], cs[tri]] = th
        # theta is named by the factor (lme4's getME), the variance components by the
        # term ("g", "g.1" for a second term on g: lme4's VarCorr)
        names += [
            f"{lv.name}.{cols[c]}" if r == c else f"{lv.name}.{cols[r]}.{cols[c]}"
            for r, c in zip(rows[tri], cs[tri], strict=True)
        ]
        g = sigma**2 * lam @ lam.T
        for c in range(k):
            vc[f"{grp}|{cols[c]}|"] = float(g[c, c])
        for c in range(k):
            for r in range(c + 1, k):
                vc[f"{grp}|{cols[c]}|{cols[r]}"] = float(g[r, c])
                denom = math.sqrt(g[r, r] * g[c, c])
                if denom > 0 and abs(g[r, c] / denom) > CORRELATION_LIMIT:
                    singular = True
        if np.any(np.diag(lam) < SINGULAR_TOL):
            singular = True
    vc["Residual||"] = float(sigma**2)
    varpar = np.append(theta, sigma)
    varpar_vcov, jac = _satterthwaite_ingredients(varpar, d, reml)
    coefficients = coefficient_table(tuple(fixed_names), beta, vcov, jac, varpar_vcov)
    # conditional modes per grouping factor, in label order
    modes = conditional_modes(factors, s, d, sigma)
    random_effects = {}
    for li, lv in enumerate(d.levels):
        b, cov = modes[li]
        order_labels = np.argsort(lv.labels.astype(str), kind="stable")
        frame: dict[str, Any] = {
            "group": lv.labels[order_labels].astype(str),
            "n_obs": np.bincount(lv.codes, minlength=len(lv.labels))[order_labels],
        }
        cols = [c for ts in lv.term_columns for c in ts]
        for c, col in enumerate(cols):
            frame[col] = b[order_labels, c]
            frame[f"{col}_cond_sd"] = np.sqrt(np.clip(cov[order_labels, c, c], 0, None))
        random_effects[lv.name] = pd.DataFrame(frame)
    converged = bool(np.isfinite(loglik) and check.confirmed)
    return LinearMixedModel(
        formula=formula,
        response=response,
        terms=tuple(fixed_names),
        reml=reml,
        coefficients=coefficients,
        vcov=vcov,
        fixed_effects=beta.copy(),
        theta=theta,
        theta_names=tuple(names),
        sigma=float(sigma),
        variance_components=vc,
        loglik=float(loglik),
        converged=converged,
        singular=bool(singular),
        n_obs=int(d.n),
        n_groups={lv.name: len(lv.labels) for lv in d.levels},
        random_effects=random_effects,
        varpar_vcov=varpar_vcov,
        vcov_jacobian=jac,
        attempts=tuple(attempts),
        escalation=tuple(reasons),
        newton_decrement=float(check.decrement),
    )


def _satterthwaite_ingredients(
    varpar: np.ndarray, d: NestedDesign, reml: bool
) -> tuple[np.ndarray, np.ndarray]:
    """lmerTest's ``vcov_varpar`` (2 H^+) and ``Jac_list`` of the deviance in (theta, sigma)."""
    # numerical derivatives visit each theta with several sigmas: keep each theta's
    # solution, without its per-unit arrays (hundreds of thetas at 20,000 units)
    cache: dict[bytes, NestedState] = {}

    def state(theta: np.ndarray) -> NestedState:
        key = np.asarray(theta, dtype=float).tobytes()
        if key not in cache:
            s = nested_state(_scaled_factors(theta, d), d)
            cache[key] = dataclasses.replace(s, chol=(), w=())
        return cache[key]

    def dev(vp: np.ndarray) -> float:
        return varpar_deviance(state(vp[:-1]), vp[-1], d, reml)

    a_mat = d.x_transform

    def cov(vp: np.ndarray) -> np.ndarray:
        s = state(vp[:-1])
        return (vp[-1] ** 2 * a_mat @ np.linalg.inv(s.xax) @ a_mat.T).ravel()

    hess = richardson_hessian(dev, varpar)
    evals, evecs = np.linalg.eigh(hess)
    pos = evals > HESSIAN_EIGEN_TOL
    h_inv = (evecs[:, pos] / evals[pos]) @ evecs[:, pos].T
    jac = richardson_jacobian(cov, varpar)
    p = d.p
    jac_list = np.stack([jac[:, k].reshape(p, p) for k in range(varpar.size)])
    return 2.0 * h_inv, jac_list
