"""The parameters of the synthetic replica: the input tables, descriptives and fitted
models reduced to aggregates (no record survives), from which
:mod:`process_outcome.supplement.synthetic` draws the replica's tables.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from process_outcome.config import Measure, measures, measures_of
from process_outcome.errors import InputError
from process_outcome.supplement.dictionary import (
    as_numeric,
    column_profile,
    decimal_places,
    measure_bounds,
)

__all__ = ["measure_score", "synthetic_parameters"]


def _linear_in_session(values: pd.Series, session: pd.Series) -> dict[str, float]:
    # Intercept, slope and residual SD of a session-level variable on session number:
    # three numbers that keep time-like columns (week) and growth without any record.
    ok = values.notna() & session.notna()
    x = session[ok].to_numpy(dtype=float)
    y = values[ok].to_numpy(dtype=float)
    if len(y) < 3 or np.ptp(x) == 0:
        mean = float(np.mean(y)) if len(y) else 0.0
        return {"intercept": mean, "slope": 0.0, "resid_sd": float(np.std(y)) if len(y) else 0.0}
    slope, intercept = np.polyfit(x, y, 1)
    resid = y - (intercept + slope * x)
    return {
        "intercept": float(intercept),
        "slope": float(slope),
        "resid_sd": float(np.sqrt(np.sum(resid**2) / (len(y) - 2))),
    }


def _fixed_effects(summary: Mapping[str, Any]) -> dict[str, float]:
    return {c["term"]: float(c["estimate"]) for c in summary["fit"]["coefficients"]}


def _descriptive(desc: pd.DataFrame, level: str, variable: str) -> dict[str, Any] | None:
    rows = desc[(desc["level"] == level) & (desc["variable"] == variable)]
    return None if rows.empty else rows.iloc[0].to_dict()


def _item_responses(df: pd.DataFrame, m: Measure) -> pd.DataFrame:
    # Item responses on the item scale, out-of-range ones missing, reverse-keyed reversed.
    lo, hi = m.item_range or (-np.inf, np.inf)
    resp = pd.DataFrame({c: as_numeric(df[c]) for c in m.items}, index=df.index)
    resp = resp.where((resp >= lo) & (resp <= hi))
    for c in m.reverse_items:
        resp[c] = lo + hi - resp[c]
    return resp


def measure_score(df: pd.DataFrame, m: Measure) -> pd.Series:
    """A measure's score in each row of an input table, as the cleaning scores it."""
    if not m.items:
        values = as_numeric(df[str(m.column)])
        return values if values is not None else pd.Series(np.nan, index=df.index)
    resp = _item_responses(df, m)
    score = resp.mean(axis=1)
    if m.scoring == "sum":
        score = score * len(m.items)
    return score.where(resp.notna().sum(axis=1) >= m.min_answered * len(m.items))


def _item_parameters(df: pd.DataFrame, m: Measure, score: pd.Series) -> dict[str, Any] | None:
    if not m.items:
        return None
    resp = _item_responses(df, m)
    # Spread of the items around their row mean: how much the items of one occasion
    # disagree.
    spread = resp.sub(resp.mean(axis=1), axis=0).to_numpy(dtype=float)
    noise = float(np.nanstd(spread)) if np.isfinite(spread).any() else 0.0
    scored = score.notna()
    lo, hi = m.item_range or (float(np.nanmin(resp)), float(np.nanmax(resp)))
    return {
        "columns": list(m.items),
        "reverse": list(m.reverse_items),
        "low": float(lo),
        "high": float(hi),
        "decimals": decimal_places(pd.Series(resp.to_numpy(dtype=float).ravel())),
        "noise_sd": noise,
        "scoring": m.scoring,
        "missing_share": {
            c: float(resp.loc[scored, c].isna().mean()) if scored.any() else 0.0 for c in m.items
        },
    }


def synthetic_parameters(
    config: Mapping[str, Any],
    tables: Mapping[str, pd.DataFrame],
    descriptives: pd.DataFrame,
    aim1_joint: Mapping[str, Mapping[str, Any]],
    aim2: Mapping[tuple[str, str], Mapping[str, Any]],
) -> dict[str, Any]:
    """Aggregates from which the synthetic replica is drawn; no record survives.

    Parameters
    ----------
    config : mapping
        The validated config.
    tables : mapping
        The input tables as read (``sessions``, ``therapists``, optional ``patients``).
    descriptives : DataFrame
        ``results/tables/descriptives.csv`` (means, SDs, ranges and ICCs of the sample).
    aim1_joint : mapping
        Outcome -> the aim 1 joint model summary: fixed effects (covariates included),
        therapist intercept and residual variance.
    aim2 : mapping
        (outcome, process) -> the aim 2 model summary: the therapist slope SD.

    Returns
    -------
    dict
        JSON-ready: per table its row count and per column its role and aggregates
        (counts, mean, SD, range, decimals, share missing; category labels only for
        categorical covariates and ``supplement.keep_labels``); the design (numbers of
        therapists and patients with sessions, distribution of sessions per patient);
        the generating model of each process, outcome, moderator and covariate.
    """
    cols = config["data"]["columns"]
    pid, tid, sid = cols["patient"], cols["therapist"], cols["session"]
    keep = set(config.get("supplement", {}).get("keep_labels", []))
    by_column: dict[tuple[str, str], Measure] = {}
    for m in measures(config):
        for c in m.source_columns:
            by_column[(m.table, c)] = m
    s = tables["sessions"]
    session = as_numeric(s[sid])
    if session is None:
        raise InputError(
            f"sessions table, column '{sid}' (data.columns.session) is not numeric; the "
            "workflow's cleaning step says which rows."
        )

    out_tables: dict[str, Any] = {}
    for table, df in tables.items():
        columns = []
        for col in df.columns:
            entry: dict[str, Any] = {"name": col}
            m = by_column.get((table, col))
            if col == pid:
                entry["role"] = "patient id"
            elif col == tid:
                entry["role"] = "therapist id"
            elif table == "sessions" and col == sid:
                entry["role"] = "session"
            elif m is not None:
                entry["role"] = f"{m.kind} item" if m.items else m.kind
                entry["measure"] = m.key
            else:
                entry["role"] = "other"
            is_id = entry["role"] in {"patient id", "therapist id"}
            # Levels of a categorical covariate name model terms (and its reference
            # level is in the config), so they are results, not records.
            labels = col in keep or (m is not None and m.kind == "covariate")
            profile = column_profile(df[col], keep_labels=labels and not is_id)
            entry["type"] = "string" if is_id else profile["type"]
            entry["n_missing"] = profile["n_missing"]
            entry["missing_share"] = profile["n_missing"] / max(len(df), 1)
            if not is_id:
                for key in ("mean", "sd", "min", "max", "decimals", "counts", "labels"):
                    if key in profile:
                        entry[key] = profile[key]
            numeric = profile["type"] in {"integer", "number"}
            if table == "sessions" and entry["role"] == "other" and numeric:
                entry["by_session"] = _linear_in_session(as_numeric(df[col]), session)
            columns.append(entry)
        ids = df[tid] if table == "therapists" else df[pid] if table == "patients" else None
        out_tables[table] = {
            "rows": len(df),
            "units": int(ids.nunique()) if ids is not None else None,
            "columns": columns,
        }

    # Distinct occasions per patient: duplicated rows are not extra sessions.
    per_patient = (
        s.assign(_session=session)
        .drop_duplicates([pid, "_session"])
        .groupby(pid, sort=False)
        .size()
    )
    histogram = per_patient.value_counts().sort_index()
    window = config.get("analysis", {}).get("process_sessions")
    design = {
        "session_rows": int(per_patient.sum()),
        "patients_with_sessions": int(s[pid].nunique()),
        "therapists_with_sessions": int(s[tid].nunique()),
        "first_session": int(session.min()),
        "sessions_per_patient": {str(int(k)): int(v) for k, v in histogram.items()},
        "process_window": list(window) if window else None,
    }

    processes: dict[str, Any] = {}
    for p in measures_of(config, "process"):
        score = measure_score(s, p)
        ses = _descriptive(descriptives, "session", p.key) or {
            "sd": score.std(),
            "min": score.min(),
            "max": score.max(),
        }
        lo, hi = measure_bounds(p, (ses["min"], ses["max"]))
        valid = score.where((score >= lo) & (score <= hi))
        sd_session = float(ses["sd"]) if pd.notna(ses["sd"]) else 0.0
        pm = _descriptive(descriptives, "patient", f"{p.key}_mean") or {}
        icc = pm.get("icc")
        icc = min(max(float(icc), 0.0), 1.0) if icc is not None and pd.notna(icc) else 0.1
        sd_mean = float(pm["sd"]) if pd.notna(pm.get("sd")) else 0.7 * sd_session
        trend = _linear_in_session(valid, session)
        # Patient means vary by therapist (the ICC's share) and by patient; what the
        # session-level SD holds beyond them is occasion-to-occasion noise.
        occasion_var = sd_session**2 - sd_mean**2
        processes[p.key] = {
            "column": p.column,
            "items": _item_parameters(s, p, score),
            "intercept": trend["intercept"],
            "growth": trend["slope"],
            "therapist_sd": float(np.sqrt(icc) * sd_mean),
            "patient_sd": float(np.sqrt(1 - icc) * sd_mean),
            "occasion_sd": float(np.sqrt(max(occasion_var, (0.1 * sd_session) ** 2))),
            "low": lo,
            "high": hi,
            "decimals": decimal_places(valid),
            "missing_share": float(score.isna().mean()),
        }

    process_keys = [p.key for p in measures_of(config, "process")]
    outcomes: dict[str, Any] = {}
    for o in measures_of(config, "outcome"):
        joint = aim1_joint[o.key]
        fx = _fixed_effects(joint)
        known = {"(Intercept)", f"baseline_{o.key}_c"}
        known |= {f"{p}_{part}" for p in process_keys for part in ("within", "between")}
        vc = joint["fit"]["variance_components"]
        score = measure_score(s, o)
        base = _descriptive(descriptives, "patient", f"baseline_{o.key}") or {
            "mean": score.mean(),
            "sd": score.std(),
        }
        residual_sd = float(np.sqrt(vc["Residual||"]))
        outcomes[o.key] = {
            "column": o.column,
            "items": _item_parameters(s, o, score),
            "baseline_mean": float(base["mean"]),
            "baseline_sd": float(base["sd"]),
            "intercept": fx["(Intercept)"],
            "baseline_slope": fx[f"baseline_{o.key}_c"],
            "within": {p: fx[f"{p}_within"] for p in process_keys},
            "between": {p: fx[f"{p}_between"] for p in process_keys},
            "covariates": {term: value for term, value in fx.items() if term not in known},
            "intercept_sd": _finite(np.sqrt(vc.get("therapist|(Intercept)|", 0.0))),
            "slope_sd": {p: _finite(aim2[(o.key, p)].get("slope_sd")) for p in process_keys},
            "residual_sd": residual_sd,
            # The models say nothing about the path between baseline and post; half the
            # residual SD keeps intermediate assessments plausibly noisy.
            "occasion_sd": 0.5 * residual_sd,
            "range": list(measure_bounds(o, (-np.inf, np.inf))) if (o.range or o.items) else None,
            "decimals": decimal_places(score),
            "missing_share": float(score.isna().mean()),
        }

    moderators: dict[str, Any] = {}
    for m in measures_of(config, "moderator"):
        values = as_numeric(tables["therapists"][m.column])
        assert values is not None
        d = _descriptive(descriptives, "therapist", m.key) or column_profile(values)
        lo, hi = measure_bounds(m, (d["min"], d["max"]))
        moderators[m.key] = {
            "column": m.column,
            "type": m.type,
            "mean": float(d["mean"]),
            "sd": float(d["sd"]) if pd.notna(d["sd"]) else 0.0,
            "low": lo,
            "high": hi,
            "decimals": decimal_places(values),
            "missing_share": float(values.isna().mean()),
        }

    covariates: dict[str, Any] = {}
    for c in measures_of(config, "covariate"):
        values = tables["patients"][c.column]
        profile = column_profile(values, keep_labels=True)
        entry = {"column": c.column, "type": c.type, "reference": c.reference}
        entry["missing_share"] = profile["n_missing"] / max(len(values), 1)
        if c.type == "categorical":
            labels = profile.get("labels") or [str(v) for v in profile.get("counts", [])]
            if profile["type"] != "string":
                counts = values.dropna().map(_level_text).value_counts()
                labels = sorted(counts.index, key=lambda k: (-counts[k], k))
                profile["counts"] = [int(counts[k]) for k in labels]
            entry.update(labels=list(labels), counts=profile["counts"])
        else:
            entry.update(
                mean=profile["mean"],
                sd=profile["sd"],
                low=measure_bounds(c, (profile["min"], profile["max"]))[0],
                high=measure_bounds(c, (profile["min"], profile["max"]))[1],
                decimals=profile["decimals"],
            )
        covariates[c.key] = entry

    return {
        "columns": {"patient": pid, "therapist": tid, "session": sid},
        "tables": out_tables,
        "design": design,
        "processes": processes,
        "outcomes": outcomes,
        "moderators": moderators,
        "covariates": covariates,
    }


def _finite(value: Any, default: float = 0.0) -> float:
    # A failed or degenerate fit must not turn the whole replica into NaN.
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return number if np.isfinite(number) else default


def _level_text(value: Any) -> str:
    # Numeric category codes as the covariate's model terms name them (2, not 2.0).
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
