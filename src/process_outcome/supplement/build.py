"""The journal supplementary-material package: everything but the patients' records.

The package (``results/supplement/``, zipped as ``results/supplement.zip``) holds the
report, results tables and figures, the workflow as run, a data dictionary, a synthetic
replica of the input tables, provenance, citation and RO-Crate metadata and SHA-256
sums. Its privacy rests on one boundary: the input tables are only ever reduced to
aggregates (:func:`synthetic_parameters`, :func:`column_profile`), and everything that
is written comes from those aggregates, from the fitted models or from results that
already carry pseudonymous therapist codes. A final scan (:func:`find_ids`) of every
file derived from the data refuses to package any file in which an original patient or
therapist id appears (see :mod:`process_outcome.supplement.privacy`); the workflow's source files
are copied unchanged from the workflow and hold no data.

The archive is byte-reproducible: members sorted, fixed time stamps and permissions,
fixed compression; the only wall-clock times are in ``provenance.json`` and only when
``supplement.record_run_times`` is set.

``CITATION.cff`` is checked against the Citation File Format 1.2.0 JSON schema, vendored
as ``workflow/schemas/citation-cff-1.2.0.json`` (the official schema, copied from the
``cffconvert`` 2.0.0 distribution, where it is ``cffconvert/schemas/1.2.0/schema.json``).
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import importlib.metadata
import io as _io
import json
import logging
import os
import platform
import re
import shutil
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pandas as pd
import yaml

from process_outcome.config import Measure, measures, measures_of
from process_outcome.data import pseudonyms, reading
from process_outcome.data.analysis_table import covariate_design, split_within_between
from process_outcome.data.simulate import caseloads
from process_outcome.errors import InputError
from process_outcome.files import (
    atomic_write_text,
    plain,
    read_json,
    sha256_file,
    write_csv,
    write_json,
)
from process_outcome.provenance import WORKFLOW_PATHS, git_state, package_versions
from process_outcome.supplement import privacy

log = logging.getLogger("process_outcome")

ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip archive can hold
ZIP_ROOT = "supplement"
WORKFLOW_PATHS = WORKFLOW_PATHS
# Never copied with the workflow: build litter, and data tables, which have no place in
# a workflow's source and might be a user's real data kept next to the config.
SKIPPED_PARTS = {"__pycache__", ".snakemake", ".ipynb_checkpoints", ".pytest_cache"}
SKIPPED_SUFFIXES = {".pyc", ".pyo", *reading.READERS}
# Result folders that hold ids or records; nothing below them is ever packaged.
PRIVATE_RESULTS = ("results/data", "results/private", "results/logs")
TABLES = ("sessions", "therapists", "patients")
KEY_PACKAGES = (
    "process-outcome",
    "snakemake",
    "numpy",
    "pandas",
    "scipy",
    "statsmodels",
    "pingouin",
    "matplotlib",
    "jinja2",
    "rocrate",
)
MEDIA_TYPES = {
    ".md": "text/markdown",
    ".html": "text/html",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".csv": "text/csv",
    ".tex": "application/x-tex",
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".json": "application/json",
    ".yaml": "application/yaml",
    ".yml": "application/yaml",
    ".cff": "application/yaml",
    ".py": "text/x-python",
    ".smk": "text/x-python",
    ".toml": "application/toml",
    ".lock": "text/plain",
    ".txt": "text/plain",
    ".rst": "text/x-rst",
    ".j2": "text/plain",
    ".typed": "text/plain",
}
ORIGINAL_STUDY = {
    "type": "article",
    "title": (
        "Therapist-level moderation of within- and between-therapist process-outcome associations"
    ),
    "authors": [
        {"family-names": "Coyne", "given-names": "Alice E."},
        {"family-names": "Constantino", "given-names": "Michael J."},
    ],
    "journal": "Journal of Consulting and Clinical Psychology",
    "volume": 90,
    "issue": "1",
    "start": "75",
    "end": "89",
    "year": 2022,
    "doi": "10.1037/ccp0000676",
}


# --------------------------------------------------------------------------- small helpers


def media_type(path: str | Path) -> str:
    """The media (MIME) type of a package file, judged by its name."""
    name = PurePosixPath(str(path)).name
    if name == "Snakefile":
        return "text/x-python"
    if name == "SHA256SUMS":
        return "text/plain"
    if name == "ro-crate-metadata.json":
        return "application/ld+json"
    return MEDIA_TYPES.get(PurePosixPath(name).suffix.lower(), "application/octet-stream")


def result_path_in_package(path: str | Path) -> str:
    """Where a result file goes in the package: its path below ``results/``.

    Parameters
    ----------
    path : str or Path
        A workflow output, relative to the working directory (``results/tables/x.csv``).

    Returns
    -------
    str
        The package path (``tables/x.csv``).

    Raises
    ------
    ValueError
        For a file outside ``results/`` or inside a folder that holds ids or records
        (``results/data``, ``results/private``, ``results/logs``).
    """
    posix = PurePosixPath(Path(path).as_posix())
    for private in PRIVATE_RESULTS:
        if posix.is_relative_to(private):
            raise ValueError(f"{path} holds ids or records and is never packaged")
    if not posix.is_relative_to("results") or posix == PurePosixPath("results"):
        raise ValueError(f"{path} is not a result file below results/")
    return str(posix.relative_to("results"))


def _none_if_nan(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, (float, np.floating)) and not np.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def _decimals(values: pd.Series, limit: int = 6) -> int:
    """The fewest decimal places that hold every value (at most ``limit``)."""
    v = values.dropna().to_numpy(dtype=float)
    for d in range(limit + 1):
        if np.allclose(v, np.round(v, d), rtol=0, atol=10.0 ** -(limit + 2)):
            return d
    return limit


def canonical_json(obj: Any) -> str:
    """Compact JSON with sorted keys: the form that is hashed."""
    return json.dumps(plain(obj), sort_keys=True, separators=(",", ":"), allow_nan=False)


# --------------------------------------------------------------------------- config views


def redacted_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The config as it may be published: the de-identification salt removed.

    A published salt would let anyone recompute the salted hashes of guessed ids.
    """
    out = copy.deepcopy(plain(dict(config)))
    supp = out.get("supplement")
    if isinstance(supp, dict) and supp.get("salt") is not None:
        supp["salt"] = "<redacted>"
    return out


def config_hash(config: Mapping[str, Any]) -> str:
    """SHA-256 of the redacted config in canonical JSON (what ``config_used.yaml`` holds)."""
    return hashlib.sha256(canonical_json(redacted_config(config)).encode()).hexdigest()


def packaged_config(
    config: Mapping[str, Any], files: Mapping[str, str], *, note: str
) -> dict[str, Any]:
    """The config that runs the packaged workflow on packaged data files.

    Parameters
    ----------
    config : mapping
        The config that produced the results (defaults filled in).
    files : mapping
        Table name -> path of the packaged file, relative to the package root.
    note : str
        Sentence put in front of ``study.description`` so that every report made from
        these data says what they are.
    """
    out = redacted_config(config)
    out["data"]["source"] = "files"
    out["data"]["files"] = {t: files.get(t) for t in TABLES if t in files}
    if "patients" not in files:
        out["data"]["files"]["patients"] = None
    out["data"]["sheets"] = {}
    supp = out.setdefault("supplement", {})
    supp["share_deidentified"] = False
    supp["salt"] = None
    description = out.get("study", {}).get("description", "")
    out.setdefault("study", {})["description"] = (note + " " + description).strip()
    return out


def dump_yaml(obj: Any, header: str = "") -> str:
    """YAML in the config's key order, with an optional comment header."""
    lines = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
    return lines + yaml.safe_dump(plain(obj), sort_keys=False, allow_unicode=True)


# --------------------------------------------------------------------------- input tables


def read_inputs(config: Mapping[str, Any], paths: Mapping[str, str]) -> dict[str, pd.DataFrame]:
    """Read the run's input tables as the cleaning step reads them (ids as text)."""
    cols = config["data"]["columns"]
    ids = {
        "sessions": (cols["patient"], cols["therapist"]),
        "therapists": (cols["therapist"],),
        "patients": (cols["patient"],),
    }
    return {
        table: reading.read_table(
            path,
            table=table,
            id_columns=ids[table],
            options=reading.ReadOptions.from_config(config["data"], table),
        )
        for table, path in paths.items()
    }


def column_type(values: pd.Series) -> str:
    """Frictionless type of a column: ``integer``, ``number``, ``boolean`` or ``string``."""
    if pd.api.types.is_bool_dtype(values):
        return "boolean"
    numeric = _as_numeric(values)
    if numeric is None:
        return "string"
    v = numeric.dropna()
    if len(v) and np.all(np.equal(np.mod(v, 1), 0)):
        return "integer"
    return "number"


def _as_numeric(values: pd.Series) -> pd.Series | None:
    if pd.api.types.is_bool_dtype(values):
        return values.astype(float)
    if pd.api.types.is_numeric_dtype(values):
        return values.astype(float)
    text = values.astype("string").str.strip()
    blank = values.isna() | (text == "")
    converted = pd.to_numeric(text.where(~blank), errors="coerce")
    if (converted.isna() & ~blank).any():
        return None
    return converted.astype(float)


def column_profile(values: pd.Series, *, keep_labels: bool = False) -> dict[str, Any]:
    """Aggregates of one column, never its values.

    Parameters
    ----------
    values : Series
        The column.
    keep_labels : bool
        For a text column: keep its category labels (the config's
        ``supplement.keep_labels``); otherwise only the category counts are kept.

    Returns
    -------
    dict
        ``type``, ``n``, ``n_missing``; for numbers ``mean, sd, min, max, decimals``;
        for text ``counts`` (category sizes, largest first) and, if kept, ``labels``.
    """
    kind = column_type(values)
    out: dict[str, Any] = {
        "type": kind,
        "n": len(values),
        "n_missing": int(values.isna().sum()),
    }
    if kind == "string":
        text = values.dropna().astype(str)
        counts = text.value_counts(sort=False)
        # Largest first, ties in label order, so the profile is the same on every run.
        order = sorted(counts.index, key=lambda k: (-counts[k], k))
        out["counts"] = [int(counts[k]) for k in order]
        if keep_labels:
            out["labels"] = list(order)
        return out
    num = _as_numeric(values)
    assert num is not None
    v = num.dropna()
    out.update(
        mean=_none_if_nan(float(v.mean())) if len(v) else None,
        sd=_none_if_nan(float(v.std(ddof=1))) if len(v) > 1 else 0.0,
        min=_none_if_nan(float(v.min())) if len(v) else None,
        max=_none_if_nan(float(v.max())) if len(v) else None,
        decimals=_decimals(v) if kind == "number" else 0,
    )
    return out


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


# --------------------------------------------------------------------------- synthetic data


def _fixed_effects(summary: Mapping[str, Any]) -> dict[str, float]:
    return {c["term"]: float(c["estimate"]) for c in summary["fit"]["coefficients"]}


def _descriptive(desc: pd.DataFrame, level: str, variable: str) -> dict[str, Any] | None:
    rows = desc[(desc["level"] == level) & (desc["variable"] == variable)]
    return None if rows.empty else rows.iloc[0].to_dict()


def _item_responses(df: pd.DataFrame, m: Measure) -> pd.DataFrame:
    # Item responses on the item scale, out-of-range ones missing, reverse-keyed reversed.
    lo, hi = m.item_range or (-np.inf, np.inf)
    resp = pd.DataFrame({c: _as_numeric(df[c]) for c in m.items}, index=df.index)
    resp = resp.where((resp >= lo) & (resp <= hi))
    for c in m.reverse_items:
        resp[c] = lo + hi - resp[c]
    return resp


def measure_score(df: pd.DataFrame, m: Measure) -> pd.Series:
    """A measure's score in each row of an input table, as the cleaning scores it."""
    if not m.items:
        values = _as_numeric(df[str(m.column)])
        return values if values is not None else pd.Series(np.nan, index=df.index)
    resp = _item_responses(df, m)
    score = resp.mean(axis=1)
    if m.scoring == "sum":
        score = score * len(m.items)
    return score.where(resp.notna().sum(axis=1) >= m.min_answered * len(m.items))


def _bounds(m: Measure, fallback: tuple[float, float]) -> tuple[float, float]:
    if m.range:
        return float(m.range[0]), float(m.range[1])
    if m.items and m.item_range:
        k = len(m.items) if m.scoring == "sum" else 1
        return float(m.item_range[0]) * k, float(m.item_range[1]) * k
    return float(fallback[0]), float(fallback[1])


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
        "decimals": _decimals(pd.Series(resp.to_numpy(dtype=float).ravel())),
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
    session = _as_numeric(s[sid])
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
                entry["by_session"] = _linear_in_session(_as_numeric(df[col]), session)
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
        lo, hi = _bounds(p, (ses["min"], ses["max"]))
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
            "decimals": _decimals(valid),
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
            "range": list(_bounds(o, (-np.inf, np.inf))) if (o.range or o.items) else None,
            "decimals": _decimals(score),
            "missing_share": float(score.isna().mean()),
        }

    moderators: dict[str, Any] = {}
    for m in measures_of(config, "moderator"):
        values = _as_numeric(tables["therapists"][m.column])
        assert values is not None
        d = _descriptive(descriptives, "therapist", m.key) or column_profile(values)
        lo, hi = _bounds(m, (d["min"], d["max"]))
        moderators[m.key] = {
            "column": m.column,
            "type": m.type,
            "mean": float(d["mean"]),
            "sd": float(d["sd"]) if pd.notna(d["sd"]) else 0.0,
            "low": lo,
            "high": hi,
            "decimals": _decimals(values),
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
                low=_bounds(c, (profile["min"], profile["max"]))[0],
                high=_bounds(c, (profile["min"], profile["max"]))[1],
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
    :func:`process_outcome.supplement.pseudonyms.synthetic_prefix`).

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
        (:func:`process_outcome.supplement.pseudonyms.synthetic_prefix`
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


# --------------------------------------------------------------------------- de-identified


def salted_id(value: str, salt: str, kind: str) -> str:
    """Keyed SHA-256 (HMAC) of an id, 16 hex digits, prefixed by ``P-`` or ``T-``."""
    digest = hmac.new(salt.encode(), f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()
    return f"{kind[0].upper()}-{digest[:16]}"


def deidentified_tables(
    config: Mapping[str, Any], tables: Mapping[str, pd.DataFrame], salt: str
) -> dict[str, pd.DataFrame]:
    """The analysis columns of the sessions and therapists tables, ids salted and hashed.

    Only the columns the analysis uses are kept (ids, session, outcomes, processes,
    moderators): anything else in the files (names, dates, free text) stays out. Rows are
    sorted by the hashed ids, so the file order of the input is not disclosed either.
    """
    if not salt or len(salt) < 16:
        raise InputError(
            "supplement.share_deidentified is true, so supplement.salt must be a secret of "
            "at least 16 characters (keep it out of version control; pass it with "
            "--config supplement='{salt: ...}' or a private config file)."
        )
    cols = config["data"]["columns"]
    pid, tid, sid = cols["patient"], cols["therapist"], cols["session"]
    ms = measures(config)
    keep = {
        "sessions": [pid, tid, sid, *[m.column for m in ms if m.table == "sessions"]],
        "therapists": [tid, *[m.column for m in ms if m.kind == "moderator"]],
    }
    out = {}
    for table, columns in keep.items():
        df = tables[table][list(dict.fromkeys(columns))].copy()
        for col, kind in ((pid, "patient"), (tid, "therapist")):
            if col in df.columns:
                ids = df[col].astype("string")
                mapping = {v: salted_id(v, salt, kind) for v in ids.dropna().unique()}
                if len(set(mapping.values())) < len(mapping):
                    raise InputError("two ids share a salted hash; choose another salt.")
                df[col] = ids.map(mapping)
        order = [c for c in (tid, pid, sid) if c in df.columns]
        out[table] = df.sort_values(order, kind="mergesort").reset_index(drop=True)
    return out


# --------------------------------------------------------------------------- data dictionary


ROLE_DESCRIPTIONS = {
    "patient id": "patient identifier",
    "therapist id": "therapist identifier",
    "session": "order of the assessment occasion (1, 2, ...)",
    "outcome": "outcome measure",
    "outcome item": "item of an outcome measure scored from items",
    "process": "process rating by the patient",
    "process item": "item of a process measure scored from items",
    "moderator": "therapist characteristic (aim 3 moderator)",
    "covariate": "patient covariate entered in every model",
    "other": "not used by the analysis",
}


def _field(
    name: str,
    kind: str,
    role: str,
    title: str,
    n_missing: int,
    *,
    description: str = "",
    bounds: tuple[float, float] | None = None,
    units: str = "",
) -> dict[str, Any]:
    # title is Frictionless's label; label, range and units repeat the dictionary's
    # terms for readers who do not know Frictionless.
    field: dict[str, Any] = {
        "name": name,
        "type": kind,
        "title": title,
        "label": title,
        "role": role,
    }
    if description:
        field["description"] = description
    if bounds:
        field["constraints"] = {"minimum": bounds[0], "maximum": bounds[1]}
        field["range"] = [bounds[0], bounds[1]]
    if role in {"patient id", "therapist id"}:
        field["constraints"] = {"required": True}
    if units:
        field["units"] = units
    field["n_missing"] = int(n_missing)
    return field


def input_fields(
    config: Mapping[str, Any], table: str, params: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Frictionless fields of one input table, from its profile in ``params``."""
    by_key = {m.key: m for m in measures(config)}
    fields = []
    for entry in params["tables"][table]["columns"]:
        role = entry["role"]
        title = entry["name"]
        description = ROLE_DESCRIPTIONS[role]
        bounds = None
        units = "occasion" if role == "session" else ""
        if "measure" in entry:
            m = by_key[entry["measure"]]
            title = f"{m.label}, item {entry['name']}" if m.items else m.label
            description = f"{description} (measure key '{m.key}')"
            if m.kind == "outcome":
                description += f"; higher is {m.higher_is}"
            if m.kind in {"moderator", "covariate"}:
                description += f"; {m.type}"
            if m.items:
                bounds = m.item_range
                if entry["name"] in m.reverse_items:
                    description += "; reverse-keyed"
            else:
                bounds = m.range
                units = m.units
        fields.append(
            _field(
                entry["name"],
                entry["type"],
                role,
                title,
                entry["n_missing"],
                description=description,
                bounds=bounds,
                units=units,
            )
        )
    return fields


def derived_fields(config: Mapping[str, Any], analysis: pd.DataFrame) -> list[dict[str, Any]]:
    """Frictionless fields of the patient-level analysis table (spec section 3)."""
    # column -> (role, label, description, measure whose range and units apply)
    known: dict[str, tuple[str, str, str, Measure | None]] = {
        "patient": ("patient id", "Patient", "patient identifier", None),
        "therapist": ("therapist id", "Therapist", "therapist identifier", None),
    }
    covariates = measures_of(config, "covariate")
    for m in measures_of(config, "outcome"):
        k = m.key
        known[f"n_{k}"] = ("count", f"{m.label}: assessments", "non-missing assessments", None)
        known[f"baseline_{k}"] = ("outcome, baseline", f"{m.label}, baseline", "first value", m)
        known[f"post_{k}"] = (
            "outcome, post (response)",
            f"{m.label}, post",
            "last non-missing value; the models' response",
            m,
        )
        known[f"baseline_{k}_c"] = (
            "covariate",
            f"{m.label}, baseline, centred",
            "baseline minus its mean over sample patients",
            None,
        )
    for m in measures_of(config, "process"):
        k = m.key
        known[f"{k}_mean"] = (
            "process",
            f"{m.label}, patient mean",
            "mean of the patient's non-missing ratings",
            m,
        )
        known[f"{k}_within"] = (
            "process, within therapist",
            f"{m.label}, within therapist",
            "patient mean minus the therapist's mean over their sample patients",
            None,
        )
        known[f"{k}_between"] = (
            "process, between therapists",
            f"{m.label}, between therapists",
            "therapist mean minus the mean over all sample patients",
            None,
        )
    for m in measures_of(config, "moderator"):
        how = "centred at the mean over sample therapists" if m.type == "continuous" else "0/1"
        known[m.key] = ("moderator", m.label, f"therapist characteristic, {how}", None)
    for m in covariates:
        known[m.key] = ("covariate", m.label, "centred at the mean over sample patients", None)
    fields = []
    for col in analysis.columns:
        role, title, description, m = known.get(col, ("other", col, "derived variable", None))
        for c in covariates:
            if col.startswith(f"{c.key}[") and col.endswith("]"):
                level = col[len(c.key) + 1 : -1]
                role, title = "covariate", f"{c.label}: {level}"
                description = "indicator (0/1) of this level against the reference level"
        kind = "string" if role.endswith(" id") else column_type(analysis[col])
        units = "assessments" if role == "count" else ""
        bounds = None
        if m is not None:
            units = m.units
            bounds = m.range or (_bounds(m, (0.0, 0.0)) if m.items and m.item_range else None)
        fields.append(
            _field(
                col,
                kind,
                role,
                title,
                int(analysis[col].isna().sum()),
                description=description,
                bounds=bounds,
                units=units,
            )
        )
    return fields


def data_dictionary(
    config: Mapping[str, Any],
    params: Mapping[str, Any],
    analysis: pd.DataFrame,
    synthetic_files: Mapping[str, str],
    deidentified_files: Mapping[str, str] | None = None,
    deidentified_columns: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, Any]:
    """The Frictionless Data Package descriptor of the package's data, without values.

    Every input variable is a field of a resource whose data are the synthetic replica
    (labelled so); the derived patient-level variables are a resource whose inline data
    are its header row only. Each field has ``name``, ``type``, ``title`` (the label),
    ``role``, ``unit`` where known, ``constraints``/``range`` (the configured admissible
    range) and ``n_missing``: the number of missing values in the input data of the run
    (for derived variables: in the analysis table), not in the synthetic replica.
    """
    cols = config["data"]["columns"]
    keys = {
        "sessions": [cols["patient"], cols["session"]],
        "therapists": [cols["therapist"]],
        "patients": [cols["patient"]],
    }
    resources = []
    for table, path in synthetic_files.items():
        fields = input_fields(config, table, params)
        schema: dict[str, Any] = {"fields": fields, "missingValues": [""]}
        schema["primaryKey"] = keys[table]
        if table == "sessions":
            schema["foreignKeys"] = [
                {
                    "fields": [cols["therapist"]],
                    "reference": {
                        "resource": "synthetic_therapists",
                        "fields": [cols["therapist"]],
                    },
                }
            ]
        resources.append(
            {
                "name": f"synthetic_{table}",
                "path": path,
                "profile": "tabular-data-resource",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "title": f"{table.capitalize()} table: SYNTHETIC replica",
                "description": (
                    f"SYNTHETIC data: a replica of the {table} input table with the same "
                    "columns, types and numbers of rows and units, drawn from the fitted "
                    "model parameters and descriptive statistics (data/"
                    "synthetic_parameters.json) with new ids. No row describes a real "
                    "person. n_missing of each field counts the missing values of the "
                    "ORIGINAL input table."
                ),
                "synthetic": True,
                "schema": schema,
            }
        )
    for table, path in (deidentified_files or {}).items():
        wanted = set((deidentified_columns or {}).get(table, []))
        fields = [f for f in input_fields(config, table, params) if f["name"] in wanted]
        for f in fields:
            if f["role"] in {"patient id", "therapist id"}:
                f["description"] = f["description"] + "; replaced by a salted hash"
            elif "range" in f:
                # The records hold the values as entered, out-of-range ones included
                # (the cleaning sets those missing), so the range is not a constraint.
                f.pop("constraints", None)
        resources.append(
            {
                "name": f"deidentified_{table}",
                "path": path,
                "profile": "tabular-data-resource",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "title": f"{table.capitalize()} table: de-identified original data",
                "description": (
                    "The original input records, shared by the explicit opt-in "
                    "supplement.share_deidentified: ids replaced by salted hashes, only "
                    "the columns the analysis uses."
                ),
                "synthetic": False,
                "schema": {"fields": fields, "missingValues": [""]},
            }
        )
    resources.append(
        {
            "name": "analysis_patients",
            "profile": "tabular-data-resource",
            "title": "Patient-level analysis table (derived; values not shared)",
            "description": (
                "The derived variables of spec section 3, one row per sample patient, as "
                "the workflow writes them to results/data/patients.csv. Only the header is "
                "given here; n_missing counts missing values in the run's analysis table."
            ),
            "data": [list(analysis.columns)],
            "schema": {"fields": derived_fields(config, analysis), "missingValues": [""]},
        }
    )
    study = config["study"]
    return {
        "profile": "tabular-data-package",
        "name": re.sub(r"[^a-z0-9._-]+", "-", study["short_name"].lower()) + "-supplement",
        "title": f"{study['title']}: data dictionary",
        "description": (
            "Data dictionary of the study's input and derived variables. The original "
            "patient and therapist records are not part of this package; the data files "
            "listed here are a SYNTHETIC replica (file names start with synthetic_)"
            + (" and the de-identified original data" if deidentified_files else "")
            + "."
        ),
        "version": str(study.get("version", "")),
        "licenses": [{"name": config["supplement"]["license"]}],
        "keywords": list(config["supplement"].get("keywords", [])),
        "resources": resources,
    }


# --------------------------------------------------------------------------- citation, crate


def citation_cff(config: Mapping[str, Any]) -> dict[str, Any]:
    """``CITATION.cff`` content (Citation File Format 1.2.0) from the study metadata."""
    study = config["study"]
    supp = config["supplement"]
    authors = []
    for a in study.get("authors", []):
        person: dict[str, Any] = {"family-names": a["family_names"]}
        if a.get("given_names"):
            person["given-names"] = a["given_names"]
        if a.get("affiliation"):
            person["affiliation"] = a["affiliation"]
        if a.get("orcid"):
            orcid = a["orcid"]
            person["orcid"] = orcid if orcid.startswith("http") else f"https://orcid.org/{orcid}"
        authors.append(person)
    if not authors:
        # A manuscript under blind review has no names to give.
        authors = [{"name": "Anonymous (blinded for peer review)"}]
    cff: dict[str, Any] = {
        "cff-version": "1.2.0",
        "message": "If you use this supplementary material, please cite it as below.",
        "type": "dataset",
        "title": f"{study['title']}: supplementary material",
        "authors": authors,
    }
    if study.get("version"):
        cff["version"] = str(study["version"])
    if study.get("doi"):
        cff["doi"] = study["doi"]
    if study.get("date_released"):
        cff["date-released"] = str(study["date_released"])
    if study.get("description"):
        cff["abstract"] = study["description"]
    if supp.get("keywords"):
        cff["keywords"] = list(supp["keywords"])
    cff["license"] = supp["license"]
    cff["references"] = [ORIGINAL_STUDY]
    return cff


def validate_cff(cff: Mapping[str, Any], schema_path: str | Path) -> None:
    """Check CITATION.cff content against the CFF 1.2.0 JSON schema.

    Raises
    ------
    InputError
        Naming each invalid entry; they come from the config's ``study`` and
        ``supplement`` sections.
    """
    import jsonschema

    schema = json.loads(Path(schema_path).read_text(encoding="utf-8"))
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(plain(dict(cff))), key=lambda e: list(e.path))
    if errors:
        listed = "; ".join(
            f"{'.'.join(map(str, e.path)) or '(top level)'}: {e.message[:200]}" for e in errors
        )
        raise InputError(
            f"CITATION.cff would not be valid Citation File Format 1.2.0: {listed}. Fix the "
            "study and supplement sections of the config (license must be an SPDX id such "
            "as CC-BY-4.0; orcid like 0000-0002-1825-0097)."
        )


def ro_crate(
    package_dir: str | Path,
    files: Mapping[str, str],
    config: Mapping[str, Any],
    date_published: str,
) -> dict[str, Any]:
    """RO-Crate 1.1 metadata (Workflow RO-Crate) of the package, via ``rocrate``.

    Parameters
    ----------
    package_dir : str or Path
        The package folder.
    files : mapping
        Package path -> description, for every file to list (in the order given).
    config : mapping
        The config (study title, description, license, authors, keywords).
    date_published : str
        ISO date of the root dataset: fixed, so that the metadata are reproducible.
    """
    import snakemake
    from rocrate.model.contextentity import ContextEntity
    from rocrate.model.person import Person
    from rocrate.rocrate import ROCrate

    package_dir = Path(package_dir)
    crate = ROCrate(version="1.1")
    for rel, description in files.items():
        props = {
            "name": PurePosixPath(rel).name,
            "description": description,
            "encodingFormat": media_type(rel),
        }
        if rel == "Snakefile":
            crate.add_workflow(
                package_dir / rel,
                dest_path=rel,
                main=True,
                lang="snakemake",
                lang_version=snakemake.__version__,
                properties=props,
            )
        else:
            crate.add_file(package_dir / rel, dest_path=rel, properties=props)
    study = config["study"]
    root = crate.root_dataset
    root["name"] = f"{study['title']}: supplementary material"
    root["description"] = study.get("description") or study["title"]
    root["datePublished"] = date_published
    spdx = config["supplement"]["license"]
    root["license"] = crate.add(
        ContextEntity(
            crate,
            f"https://spdx.org/licenses/{spdx}",
            properties={"@type": "CreativeWork", "name": spdx, "identifier": spdx},
        )
    )
    authors = []
    for i, a in enumerate(study.get("authors", [])):
        orcid = a.get("orcid")
        if orcid and not orcid.startswith("http"):
            orcid = f"https://orcid.org/{orcid}"
        name = " ".join(x for x in (a.get("given_names"), a["family_names"]) if x)
        props = {"name": name}
        if a.get("affiliation"):
            props["affiliation"] = a["affiliation"]
        authors.append(crate.add(Person(crate, orcid or f"#author-{i + 1}", properties=props)))
    if authors:
        root["author"] = authors
    if config["supplement"].get("keywords"):
        root["keywords"] = ", ".join(config["supplement"]["keywords"])
    if study.get("version"):
        root["version"] = str(study["version"])
    return crate.metadata.generate()


# --------------------------------------------------------------------------- provenance


def package_lock() -> str:
    """``name==version`` of every installed distribution, sorted; the project left out.

    The project itself is installed from the package's ``src/`` (it is not on PyPI).
    """
    seen: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if not name:
            continue
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key == "process-outcome" or key in seen:
            continue  # the first on sys.path is the one imported
        seen[key] = f"{key}=={dist.version}"
    header = (
        f"# Exact package versions of the environment that produced the results "
        f"(Python {platform.python_version()}).\n"
        "# pip install -r requirements.lock && pip install --no-deps -e .\n"
    )
    return header + "\n".join(sorted(seen.values())) + "\n"


def software_versions() -> dict[str, Any]:
    """Python, platform and the versions of the packages the analysis rests on."""
    packages = package_versions(KEY_PACKAGES)
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "packages": packages,
    }


def provenance(
    *,
    config: Mapping[str, Any],
    inputs: Mapping[str, str],
    git: Mapping[str, Any],
    lock_sha256: str,
    start_time: str | None,
    end_time: str | None,
) -> dict[str, Any]:
    """The content of ``provenance.json``."""
    seeds = {"synthetic_replica": config["supplement"]["seed"]}
    if config["data"]["source"] == "simulate":
        seeds["simulate"] = config["simulate"]["seed"]
    note = (
        "Wall-clock times of the run (start: the earliest result the package draws on; "
        "end: when the package was written). They make supplement.zip differ between runs."
        if start_time
        else (
            "Not recorded, so that supplement.zip is byte-identical across runs with the "
            "same inputs, config, workflow and packages; set supplement.record_run_times: "
            "true to record them."
        )
    )
    return {
        "inputs": [
            {
                "table": table,
                "path": str(path),
                "bytes": Path(path).stat().st_size,
                "sha256": sha256_file(path),
            }
            for table, path in inputs.items()
        ],
        "data_source": config["data"]["source"],
        "config": {"sha256": config_hash(config), "file": "config/config_used.yaml"},
        "workflow": {
            "git_commit": git["commit"],
            "git_commit_time": git["commit_time"],
            "git_dirty": git["dirty"],
            "git_changed_files": git["changed"],
        },
        "software": software_versions() | {"lock": "requirements.lock", "lock_sha256": lock_sha256},
        "seeds": seeds,
        "run": {"start_time": start_time, "end_time": end_time, "note": note},
    }


# --------------------------------------------------------------------------- privacy scan


# --------------------------------------------------------------------------- privacy scan


def scanned_files(package_dir: str | Path, source: Iterable[str]) -> list[str]:
    """The package files the privacy scan reads: every file derived from the data.

    Left out: ``source``, the workflow's files copied unchanged from the workflow (code,
    templates, schemas: no data flows into them), except its config files, which hold
    the user's settings; and ``requirements.lock`` (the environment's package names).
    """
    package_dir = Path(package_dir)
    verbatim = {
        rel for rel in source if not (rel.startswith("config/") and rel.endswith((".yaml", ".yml")))
    }
    verbatim.add("requirements.lock")
    return [
        rel
        for rel in sorted(p.relative_to(package_dir).as_posix() for p in package_dir.rglob("*"))
        if (package_dir / rel).is_file() and rel not in verbatim
    ]


def find_ids(
    package_dir: str | Path, files: Iterable[str], plan: privacy.IdScan
) -> dict[str, list[str]]:
    """Package path -> the study ids found in it (only files with a hit)."""
    package_dir = Path(package_dir)
    hits = {}
    for rel in files:
        found = privacy.find_ids_in_file(package_dir / rel, plan)
        if found:
            hits[rel] = found
    return hits


def leak_message(hits: Mapping[str, list[str]], where: Mapping[str, pseudonyms.StudyId]) -> str:
    """A leak report that names each file and each id's kind and row, never the id."""
    lines = []
    for rel, found in hits.items():
        described = ", ".join(where[v].describe() for v in found[:3])
        more = f" and {len(found) - 3} more" if len(found) > 3 else ""
        lines.append(f"{rel}: {described}{more}")
    return "; ".join(lines)


# --------------------------------------------------------------------------- files, zip


def workflow_files(basedir: str | Path, exclude: Iterable[str | Path] = ()) -> list[str]:
    """The workflow's files below ``basedir``, relative and sorted.

    Build litter (``__pycache__``, ``*.egg-info``, hidden files) and data tables (any
    extension the workflow reads) are left out, and so is every path in ``exclude``.
    """
    basedir = Path(basedir).resolve()
    excluded = {Path(p).resolve() for p in exclude}
    found = []
    for top in WORKFLOW_PATHS:
        root = basedir / top
        candidates = [root] if root.is_file() else sorted(root.rglob("*")) if root.is_dir() else []
        for path in candidates:
            if not path.is_file() or path.resolve() in excluded:
                continue
            rel = path.relative_to(basedir)
            if any(
                part in SKIPPED_PARTS or part.startswith(".") or part.endswith(".egg-info")
                for part in rel.parts
            ):
                continue
            if path.suffix.lower() in SKIPPED_SUFFIXES:
                log.info("not packaged (data table in the workflow's folders): %s", rel)
                continue
            found.append(rel.as_posix())
    return sorted(found)


def sha256sums(package_dir: str | Path, paths: Iterable[str]) -> str:
    """``SHA256SUMS`` text in ``sha256sum -c`` format, sorted by path."""
    package_dir = Path(package_dir)
    return "".join(f"{sha256_file(package_dir / p)}  {p}\n" for p in sorted(paths))


def write_zip(package_dir: str | Path, zip_path: str | Path, root: str = ZIP_ROOT) -> None:
    """Zip a folder reproducibly: sorted members below ``root/``, fixed time and modes.

    Directory entries are omitted; every file is stored with time 1980-01-01 00:00,
    permissions 0644, Unix as the creating system and deflate level 9, so the same
    files always give the same archive bytes.
    """
    package_dir = Path(package_dir)
    zip_path = Path(zip_path)
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = zip_path.with_name(f".{zip_path.name}.tmp")
    files = sorted(
        p.relative_to(package_dir).as_posix() for p in package_dir.rglob("*") if p.is_file()
    )
    with zipfile.ZipFile(tmp, "w") as zf:
        for rel in files:
            info = zipfile.ZipInfo(f"{root}/{rel}", date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = (0o100644 & 0xFFFF) << 16
            zf.writestr(info, (package_dir / rel).read_bytes(), compresslevel=9)
    os.replace(tmp, zip_path)


CONTAINER_SUFFIXES = {".docx", ".xlsx", ".pptx", ".odt", ".ods"}
CORE_DATES = re.compile(
    rb"(<(dcterms:created|dcterms:modified|cp:lastPrinted)\b[^>]*>)[^<]*(</\2>)"
)


def normalized_container(data: bytes, date: str) -> bytes:
    """A zip-based document (DOCX, XLSX, ...) with its time stamps fixed.

    Office writers stamp the time of writing into every zip member and into
    ``docProps/core.xml``; here the members keep their order and content, get the
    zip's fixed time, and the document's created/modified/printed dates become
    ``date`` (midnight UTC), so the same report gives the same bytes.
    """
    stamp = f"{date}T00:00:00Z".encode()
    out = _io.BytesIO()
    with zipfile.ZipFile(_io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dest:
        for info in src.infolist():
            content = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = CORE_DATES.sub(lambda m: m.group(1) + stamp + m.group(3), content)
            fixed = zipfile.ZipInfo(info.filename, date_time=ZIP_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.create_system = 3
            fixed.external_attr = (0o100644 & 0xFFFF) << 16
            dest.writestr(fixed, content, compresslevel=9)
    return out.getvalue()


def copy_result(src: str | Path, dest: str | Path, date: str) -> None:
    """Copy a result file into the package; zip-based documents are normalised."""
    dest = Path(dest)
    if dest.suffix.lower() in CONTAINER_SUFFIXES and zipfile.is_zipfile(src):
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(normalized_container(Path(src).read_bytes(), date))
    else:
        copy_file(src, dest)


def copy_file(src: str | Path, dest: str | Path) -> None:
    """Copy bytes only (no times or modes: they must not vary between runs)."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)


def now_iso() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def mtime_iso(paths: Iterable[str | Path]) -> str | None:
    """The earliest modification time of ``paths`` as ISO 8601 UTC."""
    times = [Path(p).stat().st_mtime for p in paths if Path(p).exists()]
    if not times:
        return None
    return datetime.fromtimestamp(min(times), UTC).replace(microsecond=0).isoformat()


# --------------------------------------------------------------------------- README, build

RESULT_DESCRIPTIONS = {
    "descriptives": "n, mean, SD, range of every measure by level; ICC(1)",
    "correlations": "patient-level correlations",
    "rm_correlations": "repeated-measures (within-patient) correlations",
    "aim1_fixed_effects": "aim 1 fixed effects (one model per process and the joint model)",
    "aim2_slope_tests": "aim 2 tests of therapist slope variance, slope SD and range",
    "aim2_fixed_effects": "aim 2 fixed effects of the random-slope models",
    "aim2_therapist_slopes": "aim 2 empirical-Bayes slope of each therapist (pseudonymous codes)",
    "aim2_slope_correlations": "aim 2 correlation of therapists' slopes across processes",
    "aim3_moderation": "aim 3 cross-level interactions with BH-FDR adjusted p",
    "aim3_simple_slopes": "aim 3 simple slopes at moderator levels",
    "truth_recovery": "simulated study only: true parameters beside the estimates",
    "figure1_aim1_forest": "figure 1: aim 1 within- and between-therapist effects",
    "figure2_aim2_caterpillar": "figure 2: aim 2 therapists' slopes",
    "figure3_aim3_simple_slopes": "figure 3: aim 3 simple slopes",
}
FORMATS = {
    ".csv": "CSV",
    ".tex": "LaTeX",
    ".pdf": "PDF",
    ".png": "PNG",
    ".html": "HTML",
    ".docx": "Word",
    ".md": "Markdown",
}
METADATA_FILES = {
    "README.md": "this file: what each file is and how to re-run the analysis",
    "CITATION.cff": "how to cite this material (Citation File Format 1.2.0)",
    "ro-crate-metadata.json": "RO-Crate 1.1 (Workflow RO-Crate) metadata: every file and its type",
    "datapackage.json": "data dictionary (Frictionless Data Package), without data values",
    "provenance.json": "SHA-256 of the inputs, config hash, git commit, software, seeds, times",
    "requirements.lock": "exact package versions of the environment that produced the results",
    "SHA256SUMS": "SHA-256 of every other file (check with: sha256sum -c SHA256SUMS)",
}


def describe_result(rel: str) -> str:
    """One line on what a packaged result file is."""
    path = PurePosixPath(rel)
    fmt = FORMATS.get(path.suffix.lower(), path.suffix.lstrip(".").upper())
    if path.parts[0] == "report":
        if path.suffix == ".tex":
            return f"results table for the manuscript ({fmt})"
        return f"results report ({fmt})"
    what = RESULT_DESCRIPTIONS.get(path.stem)
    kind = "figure" if path.parts[0] == "figures" else "results table"
    return f"{what} ({fmt})" if what else f"{kind} ({fmt})"


def describe_workflow_file(rel: str) -> str:
    """One line on what a packaged workflow file is."""
    fixed = {
        "Snakefile": "the workflow's entry point (main workflow)",
        "config/config.yaml": "config that runs the workflow on the SYNTHETIC data (default)",
        "config/config_used.yaml": "the config that produced the results (defaults filled in)",
        "config/config_deidentified.yaml": (
            "config that runs the workflow on the de-identified data"
        ),
        "config/README.md": "every config key documented",
        "environment.yml": "conda environment",
        "pyproject.toml": "Python package and dependencies",
    }
    if rel in fixed:
        return fixed[rel]
    top = PurePosixPath(rel).parts[0]
    return {
        "workflow": "workflow rules, schemas, environments and templates",
        "scripts": "rule script",
        "src": "analysis package source",
        "config": "config file",
    }.get(top, "workflow file")


def readme(
    config: Mapping[str, Any],
    files: Mapping[str, str],
    *,
    deidentified: bool,
    record_run_times: bool,
    scan: privacy.IdScan,
    synthetic_ids: tuple[str, str],
    codes: Sequence[str],
) -> str:
    """The reviewers' README of the package.

    ``synthetic_ids`` are the first synthetic therapist and patient ids, ``codes`` the
    first pseudonymous therapist codes: the README gives examples that exist, never a
    pattern such as T01 that could be a study id.
    """
    code_example = ", ".join([*codes[:2], "…"])
    study = config["study"]
    simulated = config["data"]["source"] == "simulate"
    lines = [
        f"# {study['title']}: supplementary material",
        "",
        "This package lets a reviewer see and re-run the analysis: the report, every results "
        "table and figure, the workflow exactly as run, a data dictionary, provenance and a "
        "**synthetic** replica of the data. It contains no record of a patient or "
        "therapist and no original patient or therapist id.",
        "",
        "## Re-run the whole workflow on the synthetic data",
        "",
        f"Python 3.11 or later (the results were made with {platform.python_version()}) "
        "and pip; from this folder:",
        "",
        "```bash",
        "pip install -e .",
        "snakemake --cores all",
        "```",
        "",
        "This runs every step (cleaning, descriptives, the aim 1–3 models, tables, figures, "
        "report, and this package again) on the synthetic tables in `data/` and writes "
        "everything to `results/`. The synthetic data are not the study's data: their "
        "results show that the workflow runs, not what the study found. For the exact "
        "package versions that produced the results, run "
        "`pip install -r requirements.lock && pip install --no-deps -e .` instead of the "
        "first command.",
        "",
        "## Reproduce the results from the data",
        "",
    ]
    if simulated:
        lines += [
            "The results come from the workflow's built-in simulated study "
            "(`data.source: simulate`), which `config/config_used.yaml` regenerates from its "
            "seed. So these two commands reproduce every result in this package:",
            "",
            "```bash",
            "pip install -r requirements.lock && pip install --no-deps -e .",
            "snakemake --cores all --configfile config/config_used.yaml",
            "```",
            "",
            "and `results/tables/`, `results/figures/` and `results/report/` then match "
            "`tables/`, `figures/` and `report/` here byte for byte (compare with "
            "`SHA256SUMS`), except that Word documents carry the time they were written, "
            "which the package sets to its date.",
        ]
    else:
        lines += [
            "The original data are not part of this package. With access to them, put the "
            "files at the paths that `data.files` in `config/config_used.yaml` names "
            "(`provenance.json` gives the SHA-256 of each, to check they are the same files) "
            "and run:",
            "",
            "```bash",
            "pip install -r requirements.lock && pip install --no-deps -e .",
            "snakemake --cores all --configfile config/config_used.yaml",
            "```",
        ]
    lines += [""]
    if deidentified:
        lines += [
            "## De-identified data (shared by the authors' explicit opt-in)",
            "",
            "`data/deidentified_*.csv` hold the original input records (only the columns "
            "the analysis uses), with every patient and therapist id replaced by a salted "
            "hash (HMAC-SHA-256, 16 hex digits; the salt is secret and not included). "
            "Run the workflow on them with:",
            "",
            "```bash",
            "pip install -r requirements.lock && pip install --no-deps -e .",
            "snakemake --cores all --configfile config/config_deidentified.yaml",
            "```",
            "",
            "This gives the study's results; only the pseudonymous therapist codes "
            f"({code_example}, in sorted order of the ids) are assigned in a different "
            "order.",
            "",
        ]
    lines += [
        "## The synthetic data",
        "",
        "`data/synthetic_*.csv` are a SYNTHETIC replica of the input tables: the same "
        "tables and columns, the same numbers of therapists, patients and session rows, "
        f"new ids (`{synthetic_ids[0]}`, … for therapists, `{synthetic_ids[1]}`, … for "
        "patients). They "
        "are drawn from aggregates only "
        "(`data/synthetic_parameters.json`): the fitted aim 1 joint model (fixed effects, "
        "therapist intercept and residual variances), the aim 2 therapist slope SDs, the "
        "descriptive statistics and ICCs, the distribution of sessions per patient and "
        "the share of missing values of each column. Aim 3 moderation is not built in. "
        "Columns the analysis does not use are drawn from their mean and SD, or as "
        "neutral category labels. `config/config.yaml` points the workflow at these files.",
        "",
        "## Files",
        "",
        "| file | what it is |",
        "| --- | --- |",
    ]
    workflow_rows = 0
    for rel, description in files.items():
        if PurePosixPath(rel).parts[0] in {"workflow", "scripts", "src"}:
            workflow_rows += 1
            continue
        lines.append(f"| `{rel}` | {description} |")
    lines += [
        f"| `workflow/`, `scripts/`, `src/` | the workflow as run: rules, schemas, "
        f"environments, templates, rule scripts and the analysis package ({workflow_rows} "
        "files; each is listed in `ro-crate-metadata.json` and `SHA256SUMS`) |",
        "",
        "## Privacy",
        "",
        "Not included: the input tables, the cleaned data and exclusion log "
        "(`results/data/`), the mapping of therapist codes to ids (`results/private/`) "
        f"and the logs. Therapists appear only under pseudonymous codes ({code_example}); "
        "patients not at all. Before the package is written, every file derived from "
        "the data (tables, figures, report, synthetic data, data dictionary, configs and "
        "metadata, including the text inside DOCX, PDF and PNG files) is scanned for "
        "every patient and therapist id of the input data, and the run stops if one is "
        "found. The workflow's source files are copied unchanged from the workflow and "
        "hold no data.",
    ]
    for group, how in (
        (scan.exact, "also a word of the workflow's own text in another spelling, so it "
         "was scanned for with its exact spelling"),
        (scan.short, "too short to tell apart from numbers (a short id without a letter), "
         "so it was scanned for only as a whole table cell if written with a leading zero"),
        (scan.words, "spelled exactly like a word of the workflow's own text, so it was "
         "scanned for only as a whole table cell"),
    ):  # fmt: skip
        if group:
            lines.append(f"{len(group)} {'id is' if len(group) == 1 else 'ids are'} {how}.")
    lines += [
        "",
        "## Reproducible bytes",
        "",
        "With the same inputs, config, workflow and package versions, `supplement.zip` is "
        "byte-identical across runs: its members are sorted, every member has the time "
        "1980-01-01 00:00 and permissions 0644, and compression is fixed. "
        "`provenance.json` is inside that guarantee because it is deterministic: it holds "
        "no wall-clock time ("
        + (
            "here it does: `supplement.record_run_times` was set, so this archive will "
            "differ from another run's in `provenance.json`"
            if record_run_times
            else "`run.start_time` and `run.end_time` are null; set "
            "`supplement.record_run_times: true` to record them, at the cost of that "
            "guarantee"
        )
        + ").",
        "",
        "## Verify",
        "",
        "```bash",
        "sha256sum -c SHA256SUMS",
        "```",
        "",
    ]
    return "\n".join(lines)


def build(
    config: Mapping[str, Any],
    *,
    inputs: Mapping[str, str],
    report: Sequence[str],
    tables: Sequence[str],
    figures: Sequence[str],
    descriptives: str,
    analysis: str,
    aim1_joint: Sequence[str],
    aim2: Sequence[str],
    basedir: str,
    cff_schema: str,
    out_dir: str,
    out_zip: str,
    codes: str | None = None,
) -> None:
    """Write the supplementary-material package and its reproducible zip.

    The package is written to a staging folder beside ``out_dir`` and moves into place
    only when it is complete and the privacy scan has passed, so a failure leaves no
    half-written package and does not touch a previous one (Snakemake, though, removes
    a step's previous outputs before it reruns the step).

    Parameters
    ----------
    config : mapping
        The validated config of the run.
    inputs : mapping
        Table name -> input file of the run (the simulated study's or the user's).
    report, tables, figures : sequence of str
        Result files below ``results/``, packaged under their path below it.
    descriptives : str
        ``results/tables/descriptives.csv``.
    analysis : str
        The patient-level analysis table (only its column names, types and missing
        counts are used).
    aim1_joint, aim2 : sequence of str
        Model summaries: the aim 1 joint model of each outcome and the aim 2 model of
        each outcome and process.
    basedir : str
        The workflow's folder (where the Snakefile is).
    cff_schema : str
        The Citation File Format 1.2.0 JSON schema.
    out_dir, out_zip : str
        The package folder and the zip.
    codes : str, optional
        The private therapist-code mapping (only the codes are used, as examples in the
        README); without it the codes are derived as the cleaning step derives them.

    Raises
    ------
    InputError
        If an input id would appear in the package, if ``CITATION.cff`` would be invalid,
        or if de-identified sharing is asked for without a proper salt.
    """
    supp = config["supplement"]
    result_files = [*report, *tables, *figures]
    start = mtime_iso([*result_files, *aim1_joint, *aim2]) if supp["record_run_times"] else None
    final = Path(out_dir)
    out = final.with_name(f".{final.name}.partial")
    if out.exists():
        shutil.rmtree(out)  # left by an interrupted run
    try:
        _write_package(
            config,
            out,
            inputs=inputs,
            result_files=result_files,
            descriptives=descriptives,
            analysis=analysis,
            aim1_joint=aim1_joint,
            aim2=aim2,
            basedir=basedir,
            cff_schema=cff_schema,
            codes=codes,
            start=start,
        )
        write_zip(out, out_zip)
        if final.exists():
            shutil.rmtree(final)
        os.replace(out, final)
    finally:
        if out.exists():
            shutil.rmtree(out)
    log.info(
        "supplement: %d files, %s bytes zipped",
        sum(1 for p in final.rglob("*") if p.is_file()),
        f"{Path(out_zip).stat().st_size:,}",
    )
    if not start:
        log.info("packaged at %s (not recorded in the package)", now_iso())


def _write_package(
    config: Mapping[str, Any],
    out: Path,
    *,
    inputs: Mapping[str, str],
    result_files: Sequence[str],
    descriptives: str,
    analysis: str,
    aim1_joint: Sequence[str],
    aim2: Sequence[str],
    basedir: str,
    cff_schema: str,
    codes: str | None,
    start: str | None,
) -> None:
    # Everything but the zip, into the staging folder ``out``; raises before the package
    # is complete if the privacy scan finds a study id.
    supp = config["supplement"]
    out.mkdir(parents=True)
    files: dict[str, str] = {}
    raw = read_inputs(config, inputs)
    where = pseudonyms.study_ids(raw, config["data"]["columns"])
    ids = list(where)
    vocabulary = privacy.workflow_vocabulary(privacy.default_vocabulary_paths())
    # What the scan would find in the config (packaged as run) is named by its key.
    for warning in privacy.privacy_precheck(config, raw, vocabulary):
        log.warning("%s", warning)

    git = git_state(basedir)
    released = study_date(config, git)
    for path in result_files:
        rel = result_path_in_package(path)
        copy_result(path, out / rel, released)
        files[rel] = describe_result(rel)

    models1 = [read_json(p) for p in aim1_joint]
    models2 = [read_json(p) for p in aim2]
    params = synthetic_parameters(
        config,
        raw,
        pd.read_csv(descriptives),
        {s["outcome"]: s for s in models1},
        {(s["outcome"], s["process"]): s for s in models2},
    )
    prefix = pseudonyms.synthetic_prefix(ids)
    synthetic = synthetic_tables(params, supp["seed"], prefix)
    synthetic_files = {t: f"data/synthetic_{t}.csv" for t in synthetic}
    for table, df in synthetic.items():
        write_csv(df, out / synthetic_files[table])
        files[synthetic_files[table]] = f"SYNTHETIC replica of the {table} input table"
    write_json(
        params | {"seed": supp["seed"], "id_prefix": prefix},
        out / "data" / "synthetic_parameters.json",
    )
    files["data/synthetic_parameters.json"] = (
        "the aggregates the SYNTHETIC data were drawn from (no record)"
    )

    deid_files: dict[str, str] = {}
    deid_columns: dict[str, list[str]] = {}
    if supp["share_deidentified"]:
        shared = deidentified_tables(config, raw, supp.get("salt") or "")
        for table, df in shared.items():
            deid_files[table] = f"data/deidentified_{table}.csv"
            deid_columns[table] = list(df.columns)
            write_csv(df, out / deid_files[table])
            files[deid_files[table]] = (
                f"de-identified original {table} records (ids salted and hashed; opt-in)"
            )

    analysis_table = pd.read_csv(analysis, dtype={"patient": str, "therapist": str})
    write_json(
        data_dictionary(config, params, analysis_table, synthetic_files, deid_files, deid_columns),
        out / "datapackage.json",
    )

    source = workflow_files(basedir, exclude=inputs.values())
    for rel in source:
        if rel in {
            "config/config.yaml",
            "config/config_used.yaml",
            "config/config_deidentified.yaml",
        }:
            continue  # written below for this package
        copy_file(Path(basedir) / rel, out / rel)
        files[rel] = describe_workflow_file(rel)
    configs = {
        "config/config.yaml": dump_yaml(
            packaged_config(
                config,
                synthetic_files,
                note="Run on the SYNTHETIC replica data of the supplementary material: "
                "these numbers are not the study's results.",
            ),
            "Runs the workflow on the SYNTHETIC replica in data/ (see README.md).",
        ),
        "config/config_used.yaml": dump_yaml(
            redacted_config(config),
            "The config that produced the results in this package, with every default "
            "filled in\n(supplement.salt redacted). Its data files are not part of the package.",
        ),
    }
    if deid_files:
        configs["config/config_deidentified.yaml"] = dump_yaml(
            packaged_config(config, deid_files, note=""),
            "Runs the workflow on the de-identified original data in data/ (see README.md).",
        )
    for rel, text in configs.items():
        atomic_write_text(out / rel, text)
        files[rel] = describe_workflow_file(rel)

    lock = package_lock()
    atomic_write_text(out / "requirements.lock", lock)
    cff = citation_cff(config)
    validate_cff(cff, cff_schema)
    atomic_write_text(out / "CITATION.cff", dump_yaml(cff))
    end = now_iso() if supp["record_run_times"] else None
    write_json(
        provenance(
            config=config,
            inputs=inputs,
            git=git,
            lock_sha256=hashlib.sha256(lock.encode()).hexdigest(),
            start_time=start,
            end_time=end,
        ),
        out / "provenance.json",
    )
    plan = privacy.plan_scan(ids, vocabulary + "\n" + "\n".join(source))
    if codes:
        code_list = pd.read_csv(codes, dtype=str)["code"].tolist()
    else:
        code_list = pseudonyms.pseudonymous_codes(analysis_table["therapist"], ids)["code"].tolist()
    cols = config["data"]["columns"]
    first_ids = (
        str(synthetic["therapists"][cols["therapist"]].iloc[0]),
        str(synthetic["sessions"][cols["patient"]].iloc[0]),
    )
    for rel, description in METADATA_FILES.items():
        files.setdefault(rel, description)
    files = dict(sorted(files.items()))
    atomic_write_text(
        out / "README.md",
        readme(
            config,
            files,
            deidentified=bool(deid_files),
            record_run_times=supp["record_run_times"],
            scan=plan,
            synthetic_ids=first_ids,
            codes=code_list,
        ),
    )
    (out / "SHA256SUMS").touch()  # listed in the crate before its content exists
    crate = ro_crate(
        out, {k: v for k, v in files.items() if k != "ro-crate-metadata.json"}, config, released
    )
    atomic_write_text(out / "ro-crate-metadata.json", json.dumps(crate, indent=2) + "\n")

    hits = find_ids(out, scanned_files(out, source), plan)
    if hits:
        raise InputError(
            "the supplement would disclose study ids: "
            f"{leak_message(hits, where)} (the ids are not shown here, so that this "
            "message can be shared). No supplement was written and no half-written one "
            "is left; Snakemake removes the previous results/supplement.zip and "
            "results/supplement/ before it rebuilds them, as they no longer match the "
            "results. Find out how the id got into that file (a table that lists "
            "patients, a label or category in the data that equals an id, a data file "
            "kept in the workflow's folders) and remove it."
        )
    log.info(
        "privacy scan of %d files: %d ids looked for in any case, %d with their exact "
        "spelling, %d only as table cells, %d short numbers; none found",
        len(scanned_files(out, source)),
        len(plan.anycase),
        len(plan.exact),
        len(plan.words),
        len(plan.short),
    )
    sums = sha256sums(out, [p for p in files if p != "SHA256SUMS"])
    atomic_write_text(out / "SHA256SUMS", sums)
    if start:
        log.info("run times: %s to %s", start, end)


def study_date(config: Mapping[str, Any], git: Mapping[str, Any]) -> str:
    """The package's publication date: ``study.date_released``, else the commit's date.

    Both are fixed for given inputs; outside a git checkout without a configured date,
    1980-01-01 (the zip's fixed time) marks the date as unknown.
    """
    if config["study"].get("date_released"):
        return str(config["study"]["date_released"])
    if git.get("commit_time"):
        return str(git["commit_time"])[:10]
    return "1980-01-01"
