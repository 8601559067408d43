"""The synthetic replica of the input tables: its parameters and its tables.

:func:`synthetic_parameters` reduces the input tables, descriptives and fitted models to
aggregates (no record survives); :func:`synthetic_tables` draws new tables with new ids
from them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from process_outcome.config import Measure, measures, measures_of
from process_outcome.data.analysis_table import covariate_design, split_within_between
from process_outcome.data.simulate import caseloads
from process_outcome.errors import InputError
from process_outcome.supplement.dictionary import (
    as_numeric,
    column_profile,
    decimal_places,
    measure_bounds,
)

__all__ = ["measure_score", "synthetic_ids", "synthetic_parameters", "synthetic_tables"]


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


def synthetic_ids(prefix: str, letter: str, n: int, width: int) -> list[str]:
    """``n`` synthetic ids, each one word: prefix, letter and a zero-padded number.

    No study id can be a word of them unless it rules out the prefix (see
    :func:`process_outcome.data.pseudonyms.synthetic_prefix`).

    Examples
    --------
    >>> synthetic_ids("SYN", "T", 2, 2)
    ['SYNT01', 'SYNT02']
    """
    return [f"{prefix}{letter}{i + 1:0{width}d}" for i in range(n)]


def _sessions_per_patient(
    histogram: Mapping[str, int], n_patients: int, total: int, rng: np.random.Generator
) -> np.ndarray:
    # Drawn from the observed distribution, then nudged one session at a time until the
    # total number of rows is the input's.
    ks = np.array([int(k) for k in histogram])
    probs = np.array([histogram[k] for k in histogram], dtype=float)
    counts = rng.choice(ks, size=n_patients, p=probs / probs.sum())
    lo, hi = 1, int(ks.max())
    total = min(max(total, n_patients * lo), n_patients * hi)
    # Each pass moves at least one session (total lies within the reachable range), so
    # |diff| passes suffice.
    for _ in range(abs(total - int(counts.sum()))):
        diff = total - int(counts.sum())
        if diff == 0:
            break
        step = 1 if diff > 0 else -1
        room = np.flatnonzero(counts < hi) if step > 0 else np.flatnonzero(counts > lo)
        pick = rng.choice(room, size=min(abs(diff), len(room)), replace=False)
        counts[pick] += step
    return counts


def _missing(rng: np.random.Generator, n: int, share: float) -> np.ndarray:
    return rng.random(n) < share


def _labels(entry: Mapping[str, Any], n: int, rng: np.random.Generator, name: str) -> pd.Series:
    counts = np.asarray(entry.get("counts") or [1], dtype=float)
    labels = entry.get("labels") or [f"{name}_{i + 1}" for i in range(len(counts))]
    values = pd.Series(rng.choice(np.asarray(labels, dtype=object), n, p=counts / counts.sum()))
    return values.where(~_missing(rng, n, entry.get("missing_share", 0.0)))


def _other_column(
    entry: Mapping[str, Any], n: int, rng: np.random.Generator, session: np.ndarray | None
) -> pd.Series:
    kind = entry["type"]
    if kind == "string":
        return _labels(entry, n, rng, entry["name"])
    if kind == "boolean":
        values = pd.Series(rng.random(n) < (entry.get("mean") or 0.5))
        return values.astype("boolean").where(~_missing(rng, n, entry["missing_share"]))
    if session is not None and "by_session" in entry:
        fit = entry["by_session"]
        raw = fit["intercept"] + fit["slope"] * session + rng.normal(0, fit["resid_sd"], n)
    else:
        raw = rng.normal(entry.get("mean") or 0.0, entry.get("sd") or 0.0, n)
    return _finish(raw, entry.get("min"), entry.get("max"), entry, rng)


def _finish(
    raw: np.ndarray,
    lo: float | None,
    hi: float | None,
    entry: Mapping[str, Any],
    rng: np.random.Generator,
) -> pd.Series:
    values = np.clip(raw, lo if lo is not None else -np.inf, hi if hi is not None else np.inf)
    decimals = int(entry.get("decimals", 3))
    values = np.round(values, decimals)
    out = pd.Series(values)
    out = out.where(~_missing(rng, len(values), entry.get("missing_share", 0.0)))
    if entry.get("type") == "integer" or decimals == 0:
        return out.astype("Int64")
    return out


def _items_from_scores(
    score: np.ndarray, ip: Mapping[str, Any], rng: np.random.Generator
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    # Item responses scattered around the occasion's score; returns them and the score
    # the analysis will compute from them.
    k = len(ip["columns"])
    lo, hi = ip["low"], ip["high"]
    target = score / k if ip["scoring"] == "sum" else score
    items: dict[str, np.ndarray] = {}
    keyed = []
    for c in ip["columns"]:
        v = np.clip(target + rng.normal(0, ip["noise_sd"], len(score)), lo, hi)
        v = np.round(v, ip["decimals"])
        v = np.where(np.isnan(score) | _missing(rng, len(score), ip["missing_share"][c]), np.nan, v)
        keyed.append(v)
        items[c] = lo + hi - v if c in ip["reverse"] else v
    with np.errstate(all="ignore"):
        stacked = np.vstack(keyed)
        rescored = np.nanmean(np.where(np.isnan(stacked), np.nan, stacked), axis=0)
    if ip["scoring"] == "sum":
        rescored = rescored * k
    return items, np.where(np.isnan(score), np.nan, rescored)


def synthetic_tables(
    params: Mapping[str, Any], seed: int, prefix: str = "SYN"
) -> dict[str, pd.DataFrame]:
    """Draw synthetic input tables from :func:`synthetic_parameters`.

    Same tables, columns (names and order), column types and numbers of therapists,
    patients and session rows as the input; new ids, each one word (``prefix``, ``T``
    or ``P`` and a zero-padded number: ``SYNT01``, ``SYNP0001``).
    Process ratings are therapist + patient + occasion components around the observed
    growth line, on the measure's scale (as item responses if the measure is scored
    from items); the post-treatment outcome follows the aim 1 joint model (covariates
    included) with the aim 2 therapist slope SDs, computed from the process components
    exactly as the analysis computes them; intermediate outcome assessments lie on a
    noisy line from baseline to post. Aim 3 moderation is not built in.

    Parameters
    ----------
    params : mapping
        The output of :func:`synthetic_parameters`.
    seed : int
        Seed of the random generator.
    prefix : str
        First part of every synthetic id
        (:func:`process_outcome.data.pseudonyms.synthetic_prefix`
        chooses one that no study id can be a word of).

    Returns
    -------
    dict of DataFrame
        ``sessions``, ``therapists`` and, if the input had one, ``patients``.
    """
    rng = np.random.default_rng(seed)
    cols = params["columns"]
    design = params["design"]
    tabs = params["tables"]
    n_t_table = max(tabs["therapists"]["units"], design["therapists_with_sessions"])
    n_t = design["therapists_with_sessions"]
    n_p = design["patients_with_sessions"]
    n_p_table = max(tabs["patients"]["units"], n_p) if "patients" in tabs else n_p
    therapist_ids = synthetic_ids(prefix, "T", n_t_table, max(2, len(str(n_t_table))))
    patient_ids = synthetic_ids(prefix, "P", n_p_table, max(4, len(str(n_p_table))))

    load = caseloads(n_t, n_p, rng)
    p_therapist = np.repeat(np.arange(n_t), load)
    n_occ = _sessions_per_patient(design["sessions_per_patient"], n_p, design["session_rows"], rng)
    row_p = np.repeat(np.arange(n_p), n_occ)
    row_t = p_therapist[row_p]
    occasion = np.concatenate([np.arange(k) for k in n_occ])
    session = design["first_session"] + occasion
    first = occasion == 0
    last = occasion == (n_occ[row_p] - 1)
    n_rows = len(row_p)
    window = design.get("process_window")
    in_window = (session >= window[0]) & (session <= window[1]) if window else np.ones(n_rows, bool)

    values: dict[str, Any] = {}
    scores: dict[str, np.ndarray] = {}
    for key, pp in params["processes"].items():
        raw = (
            pp["intercept"]
            + pp["growth"] * session
            + rng.normal(0, pp["therapist_sd"], n_t)[row_t]
            + rng.normal(0, pp["patient_sd"], n_p)[row_p]
            + rng.normal(0, pp["occasion_sd"], n_rows)
        )
        v = np.round(np.clip(raw, pp["low"], pp["high"]), pp["decimals"])
        v = np.where(_missing(rng, n_rows, pp["missing_share"]), np.nan, v)
        if pp["items"]:
            items, v = _items_from_scores(v, pp["items"], rng)
            values.update(items)
        else:
            values[pp["column"]] = v
        scores[key] = v

    # Outcome missingness is confined to intermediate assessments, so the first and last
    # are the baseline and post values the models use.
    outcome_missing = {
        key: _missing(rng, n_rows, op["missing_share"]) & ~first & ~last
        for key, op in params["outcomes"].items()
    }
    pt = pd.DataFrame({"therapist": p_therapist, "n_occ": n_occ})
    for key, v in scores.items():
        windowed = pd.Series(np.where(in_window, v, np.nan))
        pt[f"{key}_mean"] = windowed.groupby(row_p).mean().reindex(range(n_p)).to_numpy()
    in_sample = (pt["n_occ"] >= 2) & pt[[f"{k}_mean" for k in scores]].notna().all(axis=1)
    sample = pt[in_sample].copy()
    for key in scores:
        parts = split_within_between(sample, f"{key}_mean", group="therapist")
        sample[f"{key}_within"] = parts["within"]
        sample[f"{key}_between"] = parts["between"]
    st = sample["therapist"].to_numpy()

    patient_values: dict[str, Any] = {cols["patient"]: patient_ids}
    design_columns: dict[str, np.ndarray] = {}
    for key, cp in params.get("covariates", {}).items():
        if cp["type"] == "categorical":
            col = _labels(cp, n_p_table, rng, key)
        else:
            raw = rng.normal(cp["mean"] or 0.0, cp["sd"] or 0.0, n_p_table)
            col = _finish(raw, cp["low"], cp["high"], cp, rng)
        patient_values[cp["column"]] = col
        measure = Measure(
            key=key,
            column=cp["column"],
            label=key,
            kind="covariate",
            table="patients",
            type=cp["type"],
            reference=cp.get("reference"),
        )
        in_model = col.iloc[sample.index.to_numpy()].reset_index(drop=True)
        if cp["type"] != "categorical":
            in_model = in_model.astype(float)
        for term, column in covariate_design(in_model, measure).items():
            design_columns[term] = column.fillna(0.0).to_numpy(dtype=float)

    for key, op in params["outcomes"].items():
        baseline = rng.normal(op["baseline_mean"], op["baseline_sd"], n_p)
        base_c = baseline[sample.index] - baseline[sample.index].mean()
        post_sample = (
            op["intercept"]
            + op["baseline_slope"] * base_c
            + rng.normal(0, op["intercept_sd"], n_t)[st]
            + rng.normal(0, op["residual_sd"], len(sample))
        )
        for term, effect in op.get("covariates", {}).items():
            if term in design_columns:
                post_sample = post_sample + effect * design_columns[term]
        for proc in scores:
            slopes = rng.normal(0, op["slope_sd"][proc], n_t)
            within = sample[f"{proc}_within"].to_numpy()
            post_sample = post_sample + (op["within"][proc] + slopes[st]) * within
            post_sample = post_sample + op["between"][proc] * sample[f"{proc}_between"].to_numpy()
        post = baseline.copy()
        post[sample.index] = post_sample
        frac = occasion / np.maximum(n_occ[row_p] - 1, 1)
        path = baseline[row_p] + (post[row_p] - baseline[row_p]) * frac
        path = path + rng.normal(0, op["occasion_sd"], n_rows) * (~first & ~last)
        lo, hi = op["range"] if op["range"] else (-np.inf, np.inf)
        v = np.where(outcome_missing[key], np.nan, np.clip(path, lo, hi))
        if op["items"]:
            items, _ = _items_from_scores(v, op["items"], rng)
            values.update(items)
        else:
            values[op["column"]] = np.round(v, op["decimals"])

    sessions = _assemble(
        tabs["sessions"],
        n_rows,
        rng,
        session,
        {
            cols["patient"]: np.asarray(patient_ids, dtype=object)[row_p],
            cols["therapist"]: np.asarray(therapist_ids, dtype=object)[row_t],
            cols["session"]: session,
        }
        | values,
    )

    therapist_values: dict[str, Any] = {cols["therapist"]: therapist_ids}
    for mp in params["moderators"].values():
        if mp["type"] == "binary":
            raw = (rng.random(n_t_table) < mp["mean"]).astype(float)
        else:
            raw = rng.normal(mp["mean"], mp["sd"], n_t_table)
        therapist_values[mp["column"]] = _finish(raw, mp["low"], mp["high"], mp, rng)
    out = {
        "sessions": sessions,
        "therapists": _assemble(tabs["therapists"], n_t_table, rng, None, therapist_values),
    }
    if "patients" in tabs:
        out["patients"] = _assemble(tabs["patients"], n_p_table, rng, None, patient_values)
    return out


def _assemble(
    table: Mapping[str, Any],
    n: int,
    rng: np.random.Generator,
    session: np.ndarray | None,
    known: Mapping[str, Any],
) -> pd.DataFrame:
    data = {}
    for entry in table["columns"]:
        name = entry["name"]
        if name in known:
            col = pd.Series(known[name]).reset_index(drop=True)
            if entry["type"] == "integer":
                col = pd.to_numeric(col).astype("Float64").round().astype("Int64")
            data[name] = col
        else:
            data[name] = _other_column(entry, n, rng, session)
    return pd.DataFrame(data)
