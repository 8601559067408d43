"""The synthetic replica's tables: new tables with new ids drawn from the aggregates of
:func:`process_outcome.supplement.replica.synthetic_parameters`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from process_outcome.config import Measure
from process_outcome.data.analysis_table import covariate_design, split_within_between
from process_outcome.data.simulate import caseloads

__all__ = ["synthetic_ids", "synthetic_tables"]


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
