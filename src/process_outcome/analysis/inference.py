"""How the aims' fixed effects are tested: the denominator-df method and the therapist bound.

Two rules, applied to every reported fixed effect of the aim 1-3 models:

* **Denominator df.** Satterthwaite (lmerTest's method, the engine's default) or
  Kenward-Roger (``pbkrtest``), chosen by the config key ``inference.ddf``
  (:data:`DDF_METHODS`).
* **Therapist bound.** A test whose information comes from differences *between
  therapists* never gets more df than the therapists give: for a therapist-level term
  (constant within therapist, e.g. ``p_between`` or a moderator), a cross-level
  interaction (a product with such a term) and the average slope of a process whose
  slope varies by therapist, the df are at most ``J - q - 1``, with ``J`` therapists and
  ``q`` therapist-level predictors in the model (Snijders & Bosker, 2012, section 6.1).
  On a regular fit Satterthwaite's df for these terms lie near this bound anyway; on a
  singular fit (a slope variance at its boundary) they jump to patient-level values
  (t(156.7) with 42 therapists) because the variance component that carries the
  therapist information has vanished, and the bound keeps such a test from borrowing
  precision the design does not have. Rows whose df were bounded say so in
  ``df_method`` (``"... , therapist bound"``).

Examples
--------
>>> import pandas as pd
>>> d = pd.DataFrame({"g": list("aabbccdd"), "x": [0, 1] * 4, "w": [0, 0, 1, 1, 0, 0, 1, 1],
...                   "y": [1.0, 2.1, 1.4, 2.0, 0.7, 1.9, 1.2, 2.6]})
>>> sorted(therapist_level_terms(d, ("(Intercept)", "x", "w", "x:w"), "g", None))
['w', 'x:w']
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from process_outcome import mixed
from process_outcome.mixed.results import INTERCEPT, MixedFit
from process_outcome.mixed.satterthwaite import CONTRAST_COLUMNS, contrast, t_test_row

__all__ = [
    "DDF_METHODS",
    "REPORTED_COLUMNS",
    "between_df",
    "bounded_contrast",
    "reported_coefficients",
    "therapist_level_terms",
]

DDF_METHODS = ("satterthwaite", "kenward_roger")
REPORTED_COLUMNS = ["term", *CONTRAST_COLUMNS, "df_method"]
BOUND_NOTE = "therapist bound"


def _column(data: pd.DataFrame, term: str) -> np.ndarray:
    value = np.ones(len(data))
    for part in term.split(":"):
        value = value * data[part].to_numpy(dtype=float)
    return value


def _used(
    data: pd.DataFrame, terms: Sequence[str], group: str, extra: Sequence[str] = ()
) -> pd.DataFrame:
    names = {p for t in terms if t != INTERCEPT for p in t.split(":")} | {group, *extra}
    columns = list(names)
    return data.loc[data[columns].notna().all(axis=1), columns]


def _constant_within(rows: pd.DataFrame, term: str, codes: np.ndarray, n_groups: int) -> bool:
    """The term's values do not vary within any group (up to rounding)."""
    values = _column(rows, term)
    if values.size == 0:
        return True
    counts = np.bincount(codes, minlength=n_groups)
    means = np.bincount(codes, values, minlength=n_groups) / np.maximum(counts, 1)
    scale = max(float(np.abs(values).max()), 1.0)
    return bool(np.abs(values - means[codes]).max() <= 1e-10 * scale)


def _classify(
    rows: pd.DataFrame, terms: Sequence[str], group: str, slope: str | None
) -> tuple[dict[str, str], int]:
    codes, uniques = pd.factorize(rows[group])
    n_groups = len(uniques)
    used = [t for t in terms if t != INTERCEPT]
    parts = {p for t in used for p in t.split(":")}
    constant = {p: _constant_within(rows, p, codes, n_groups) for p in parts}
    level2 = {t for t in used if ":" not in t and constant[t]}
    out: dict[str, str] = {}
    for t in used:
        factors = t.split(":")
        if t in level2:
            out[t] = "therapist-level"
        elif len(factors) > 1 and any(constant[p] for p in factors):
            out[t] = "cross-level"
        elif slope is not None and t == slope:
            out[t] = "random slope"
    return out, len(level2)


def therapist_level_terms(
    data: pd.DataFrame, terms: Sequence[str], group: str, slope: str | None
) -> dict[str, str]:
    """Fixed terms whose test rests on between-therapist information, and why.

    Parameters
    ----------
    data : pandas.DataFrame
        The model's rows (rows with a missing value in a used column are ignored).
    terms : sequence of str
        Fixed terms (``"a:b"`` for products); the intercept is skipped.
    group : str
        Therapist column.
    slope : str, optional
        The term with a random slope.

    Returns
    -------
    dict of str to str
        ``term -> "therapist-level" | "cross-level" | "random slope"``.
    """
    return _classify(_used(data, terms, group), terms, group, slope)[0]


def _model_rows(data: pd.DataFrame, fit: MixedFit) -> pd.DataFrame:
    extra = [fit.response, *([fit.random_slope] if fit.random_slope else [])]
    return _used(data, fit.terms, fit.group, extra)


def between_df(data: pd.DataFrame, fit: MixedFit) -> float:
    """``J - q - 1``: therapists minus therapist-level predictors minus one.

    Parameters
    ----------
    data : pandas.DataFrame
        The data the model was fitted to.
    fit : MixedFit
        The model.

    Returns
    -------
    float
        At least 1.
    """
    _, q = _classify(_model_rows(data, fit), fit.terms, fit.group, fit.random_slope)
    return float(max(fit.n_groups - q - 1, 1))


def _engine_row(fit: MixedFit, weights: np.ndarray, ddf: str) -> dict[str, float]:
    if ddf == "satterthwaite":
        return contrast(fit, weights).iloc[0].to_dict()
    if ddf == "kenward_roger":
        # The engine's Kenward-Roger contrast (pbkrtest's method; adjusted SE and df),
        # ``process_outcome.mixed.fixed_contrast(fit, L, ddf="KR")``, where this version
        # of the engine has it.
        fixed_contrast = getattr(mixed, "fixed_contrast", None)
        if fixed_contrast is None:
            raise ValueError(
                "inference.ddf: kenward_roger needs Kenward-Roger df in the mixed-model "
                "engine (process_outcome.mixed.fixed_contrast), which this version does "
                "not have. Set inference.ddf to satterthwaite."
            )
        return fixed_contrast(fit, weights, ddf="KR").iloc[0].to_dict()
    raise ValueError(f"inference.ddf must be one of {DDF_METHODS}, not {ddf!r}")


def bounded_contrast(
    fit: MixedFit,
    weights: Mapping[str, float] | Sequence[float] | np.ndarray,
    bound: float | None,
    ddf: str = "satterthwaite",
) -> dict[str, Any]:
    """t test of ``L beta`` with its df capped at ``bound`` (None: no cap).

    Returns
    -------
    dict
        ``estimate, se, df, t, p, ci_low, ci_high, df_method``.
    """
    if isinstance(weights, Mapping):
        vec = np.array([float(weights.get(t, 0.0)) for t in fit.terms])
        unknown = set(weights) - set(fit.terms)
        if unknown:
            raise KeyError(f"terms not in the model: {sorted(unknown)}")
    else:
        vec = np.asarray(weights, dtype=float)
    row = _engine_row(fit, vec, ddf)
    method = ddf
    df = float(row["df"])
    if bound is not None and (not math.isfinite(df) or df > bound):
        row = t_test_row(float(row["estimate"]), float(row["se"]) ** 2, float(bound))
        method = f"{ddf}, {BOUND_NOTE}"
    return {k: float(row[k]) for k in CONTRAST_COLUMNS} | {"df_method": method}


def reported_coefficients(
    fit: MixedFit, data: pd.DataFrame, ddf: str = "satterthwaite"
) -> pd.DataFrame:
    """The fit's coefficient table as reported: ``ddf`` df, therapist bound applied.

    Parameters
    ----------
    fit : MixedFit
        The model.
    data : pandas.DataFrame
        The data it was fitted to.
    ddf : {"satterthwaite", "kenward_roger"}
        Denominator-df method.

    Returns
    -------
    pandas.DataFrame
        :data:`REPORTED_COLUMNS`, one row per term of ``fit.terms``.
    """
    if ddf not in DDF_METHODS:
        raise ValueError(f"inference.ddf must be one of {DDF_METHODS}, not {ddf!r}")
    bounded, q = _classify(_model_rows(data, fit), fit.terms, fit.group, fit.random_slope)
    bound = float(max(fit.n_groups - q - 1, 1))
    rows = []
    for i, term in enumerate(fit.terms):
        if ddf == "satterthwaite" and term not in bounded:
            # the engine's own table, unchanged (lmerTest parity)
            c = fit.coefficients.iloc[i]
            rows.append({"term": term, **{k: float(c[k]) for k in CONTRAST_COLUMNS}})
            rows[-1]["df_method"] = ddf
            continue
        vec = np.zeros(len(fit.terms))
        vec[i] = 1.0
        rows.append(
            {"term": term} | bounded_contrast(fit, vec, bound if term in bounded else None, ddf)
        )
    return pd.DataFrame(rows, columns=REPORTED_COLUMNS)
