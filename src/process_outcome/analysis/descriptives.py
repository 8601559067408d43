"""Descriptive statistics, ICCs and correlations of the analysis sample."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from process_outcome.config import Measure

__all__ = [
    "DESCRIPTIVE_COLUMNS",
    "correlations",
    "describe",
    "descriptives",
    "icc1",
    "reliability",
    "reliability_table",
    "repeated_measures_correlations",
    "rm_corr",
]

DESCRIPTIVE_COLUMNS = [
    "level",
    "variable",
    "measure",
    "label",
    "n",
    "mean",
    "sd",
    "min",
    "max",
    "icc",
]


def icc1(patients: pd.DataFrame, column: str, group: str = "therapist") -> float:
    """ICC(1) of a patient-level variable across therapists.

    The share of variance between therapists, τ₀₀ / (τ₀₀ + σ²), from a REML
    random-intercept model ``column ~ 1 + (1 | group)``.
    """
    from process_outcome.mixed.fit import fit_mixed

    fit = fit_mixed(patients, column, terms=(), group=group)
    tau = fit.variance_components[f"{group}|(Intercept)|"]
    sigma2 = fit.variance_components["Residual||"]
    return float(tau / (tau + sigma2))


def describe(values: pd.Series) -> dict[str, float]:
    """n, mean, SD (n − 1), minimum and maximum of the non-missing values."""
    v = values.dropna().astype(float)
    return {
        "n": int(v.size),
        "mean": float(v.mean()) if v.size else float("nan"),
        "sd": float(v.std(ddof=1)) if v.size > 1 else float("nan"),
        "min": float(v.min()) if v.size else float("nan"),
        "max": float(v.max()) if v.size else float("nan"),
    }


def descriptives(
    sessions: pd.DataFrame,
    patients: pd.DataFrame,
    therapists: pd.DataFrame,
    outcomes: Sequence[Measure],
    processes: Sequence[Measure],
    moderators: Sequence[Measure],
    icc: Callable[[pd.DataFrame, str], float],
) -> pd.DataFrame:
    """Descriptive statistics of every measure at session, patient and therapist level.

    Parameters
    ----------
    sessions : DataFrame
        Cleaned session rows of the analysis sample.
    patients : DataFrame
        The patient-level table (:func:`process_outcome.data.analysis_table.patient_table`).
    therapists : DataFrame
        Cleaned therapist rows of the sample, moderators on their original scale.
    outcomes, processes, moderators : sequence of Measure
        The configured measures.
    icc : callable
        ``icc(patients, column)`` giving ICC(1) of a patient-level variable across
        therapists, normally :func:`icc1`.

    Returns
    -------
    DataFrame
        Columns ``level, variable, measure, label, n, mean, sd, min, max, icc``; ICC only
        at patient level; moderators on their original (uncentred) scale.
    """
    rows = []
    for m in [*outcomes, *processes]:
        rows.append(
            {"level": "session", "variable": m.key, "measure": m.key, "label": m.label}
            | describe(sessions[m.key])
        )
    patient_vars: list[tuple[str, Measure, str]] = []
    for o in outcomes:
        patient_vars.append((f"baseline_{o.key}", o, f"{o.label}, baseline"))
        patient_vars.append((f"post_{o.key}", o, f"{o.label}, post"))
    for p in processes:
        patient_vars.append((f"{p.key}_mean", p, f"{p.label}, patient mean"))
    for col, m, label in patient_vars:
        rows.append(
            {"level": "patient", "variable": col, "measure": m.key, "label": label}
            | describe(patients[col])
            | {"icc": icc(patients, col)}
        )
    # The post-treatment score is each patient's last available one: when it came, and
    # whether it came before the study's last assessment occasion.
    last = sessions["session"].max()
    for o in outcomes:
        occasion = sessions.dropna(subset=[o.key]).groupby("patient", sort=True)["session"].max()
        rows.append(
            {
                "level": "patient",
                "variable": f"post_occasion_{o.key}",
                "measure": o.key,
                "label": f"{o.label}, occasion of post",
            }
            | describe(occasion)
        )
        rows.append(
            {
                "level": "patient",
                "variable": f"post_early_{o.key}",
                "measure": o.key,
                "label": f"{o.label}, post before occasion {last:g}",
            }
            | describe((occasion < last).astype(float))
        )
    therapist = patients.groupby("therapist", sort=True)
    caseload = therapist.size()
    rows.append(
        {
            "level": "therapist",
            "variable": "caseload",
            "measure": "",
            "label": "Patients per therapist",
        }
        | describe(caseload)
    )
    for m in moderators:
        rows.append(
            {"level": "therapist", "variable": m.key, "measure": m.key, "label": m.label}
            | describe(therapists[m.key])
        )
    return pd.DataFrame(rows, columns=DESCRIPTIVE_COLUMNS)


def correlations(patients: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Pairwise Pearson correlations of patient-level variables, with p values.

    Returns
    -------
    DataFrame
        Columns ``x, y, n, r, ci_low, ci_high, p`` (pingouin ``pairwise_corr``). The 95%
        CI is recomputed unrounded by Fisher's z (pingouin's ``CI95`` column is rounded
        to two decimals for display).

    Examples
    --------
    >>> d = pd.DataFrame({"a": [1.0, 2, 3, 4, 5], "b": [2.0, 1, 4, 3, 6]})
    >>> row = correlations(d, ["a", "b"]).iloc[0]
    >>> round(float(row["r"]), 3), round(float(row["ci_low"]), 4)
    (0.822, -0.2193)
    """
    import pingouin as pg  # seconds to import; only these steps need it

    res = pg.pairwise_corr(patients, columns=list(columns), method="pearson")
    ci = [
        pg.compute_esci(stat=r, nx=n, ny=n, eftype="r", decimals=15)
        if abs(r) < 1
        else np.array([r, r])
        for r, n in zip(res["r"].astype(float), res["n"].astype(int), strict=True)
    ]
    return pd.DataFrame(
        {
            "x": res["X"],
            "y": res["Y"],
            "n": res["n"].astype(int),
            "r": res["r"],
            "ci_low": [float(c[0]) for c in ci],
            "ci_high": [float(c[1]) for c in ci],
            "p": res["p_unc"] if "p_unc" in res else res["p-unc"],
        }
    )


def rm_corr(data: pd.DataFrame, x: str, y: str, subject: str) -> dict[str, float]:
    """Repeated-measures correlation by within-subject centring (Bakdash & Marusich, 2017).

    The same r, df, p and 95% CI as ``pingouin.rm_corr``, whose ANCOVA builds a dense
    subject-dummy design (rows x subjects: 18 GB at 120,000 sessions and 20,000
    patients). Centring each subject's x and y at their means gives the same slope and
    sums of squares in O(rows) memory: ``r = Sxy / sqrt(Sxx Syy)`` over centred values,
    ``df = N - k - 1`` (k subjects), ``p`` from ``F = r^2 df / (1 - r^2)`` on (1, df),
    CI by Fisher's z with ``n = df + 2`` as pingouin (unrounded).

    Parameters
    ----------
    data : pandas.DataFrame
        One row per observation; rows missing x, y or subject are dropped.
    x, y, subject : str
        Column names.

    Returns
    -------
    dict
        ``r, dof, p, ci_low, ci_high``.

    Examples
    --------
    >>> d = pd.DataFrame({"s": [1, 1, 1, 2, 2, 2], "x": [1, 2, 3, 1, 2, 3],
    ...                   "y": [1.0, 2.5, 2.9, 4.0, 4.2, 5.1]})
    >>> round(float(rm_corr(d, "x", "y", "s")["r"]), 3)
    0.914
    """
    from pingouin import compute_esci
    from scipy import special

    d = data[[subject, x, y]].dropna()
    by = d.groupby(subject, sort=False)
    xc = d[x].to_numpy(float) - by[x].transform("mean").to_numpy(float)
    yc = d[y].to_numpy(float) - by[y].transform("mean").to_numpy(float)
    sxx, syy, sxy = float(xc @ xc), float(yc @ yc), float(xc @ yc)
    dof = len(d) - by.ngroups - 1
    r = sxy / np.sqrt(sxx * syy) if sxx > 0 and syy > 0 else float("nan")
    nan = float("nan")
    if not np.isfinite(r) or dof < 1:
        return {"r": r, "dof": dof, "p": nan, "ci_low": nan, "ci_high": nan}
    f_stat = r * r * dof / (1.0 - r * r) if abs(r) < 1 else float("inf")
    p = float(special.fdtrc(1, dof, f_stat))
    ci = compute_esci(stat=r, nx=dof + 2, eftype="pearson", decimals=15) if abs(r) < 1 else [r, r]
    return {"r": float(r), "dof": dof, "p": p, "ci_low": float(ci[0]), "ci_high": float(ci[1])}


def repeated_measures_correlations(
    sessions: pd.DataFrame, outcomes: Sequence[Measure], processes: Sequence[Measure]
) -> pd.DataFrame:
    """Repeated-measures correlation of session process ratings with the same session's outcome.

    Returns
    -------
    DataFrame
        Columns ``outcome, process, r, dof, p, ci_low, ci_high, n_patients, n_sessions``
        (:func:`rm_corr`, patients as subjects; patients with fewer than two rated
        sessions are left out, as pingouin requires).
    """
    rows = []
    for o in outcomes:
        for p in processes:
            d = sessions[["patient", o.key, p.key]].dropna()
            d = d[d.groupby("patient")["patient"].transform("size") >= 2]
            res = rm_corr(d, x=p.key, y=o.key, subject="patient")
            rows.append(
                {
                    "outcome": o.key,
                    "process": p.key,
                    "r": res["r"],
                    "dof": int(res["dof"]),
                    "p": res["p"],
                    "ci_low": res["ci_low"],
                    "ci_high": res["ci_high"],
                    "n_patients": int(d["patient"].nunique()),
                    "n_sessions": len(d),
                }
            )
    return pd.DataFrame(rows)


def reliability(items: pd.DataFrame) -> dict[str, float]:
    """Internal consistency of an item-scored measure.

    Parameters
    ----------
    items : DataFrame
        Item responses, one column per item (reverse-keyed items already reversed).
        Only rows with every item answered are used.

    Returns
    -------
    dict
        ``n`` (complete rows), ``n_items``, Cronbach's ``alpha`` with its 95% CI
        (pingouin ``cronbach_alpha``), and McDonald's ``omega`` (total) from a
        one-factor maximum-likelihood factor model (scikit-learn ``FactorAnalysis``):
        ω = (Σλ)² / ((Σλ)² + Σψ).
    """
    import pingouin as pg
    from sklearn.decomposition import FactorAnalysis

    complete = items.dropna().astype(float)
    out = {"n": len(complete), "n_items": int(items.shape[1])}
    if len(complete) < 3 or items.shape[1] < 2:
        return out | dict.fromkeys(
            ("alpha", "alpha_ci_low", "alpha_ci_high", "omega"), float("nan")
        )
    alpha, ci = pg.cronbach_alpha(data=complete)
    fa = FactorAnalysis(n_components=1, random_state=0).fit(complete.to_numpy())
    loadings = fa.components_[0]
    common = float(np.sum(loadings) ** 2)
    omega = common / (common + float(np.sum(fa.noise_variance_)))
    return out | {
        "alpha": float(alpha),
        "alpha_ci_low": float(ci[0]),
        "alpha_ci_high": float(ci[1]),
        "omega": omega,
    }


def reliability_table(items: Mapping[str, pd.DataFrame], labels: Mapping[str, str]) -> pd.DataFrame:
    """One row of :func:`reliability` per item-scored measure."""
    rows = [
        {"measure": key, "label": labels.get(key, key)} | reliability(df)
        for key, df in items.items()
    ]
    return pd.DataFrame(
        rows,
        columns=[
            "measure",
            "label",
            "n",
            "n_items",
            "alpha",
            "alpha_ci_low",
            "alpha_ci_high",
            "omega",
        ],
    )
