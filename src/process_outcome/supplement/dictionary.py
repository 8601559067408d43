"""The data dictionary: column profiles and the Frictionless fields of the package's data.

A column profile (:func:`column_profile`) is a column's aggregates, never its values; the
data dictionary (:func:`data_dictionary`) describes every input and derived variable
(:func:`input_fields`, :func:`derived_fields`) without giving any value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from process_outcome.config import Measure, measures, measures_of

__all__ = [
    "ROLE_DESCRIPTIONS",
    "as_numeric",
    "column_profile",
    "column_type",
    "data_dictionary",
    "decimal_places",
    "derived_fields",
    "input_fields",
    "measure_bounds",
]


def _none_if_nan(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, (float, np.floating)) and not np.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def decimal_places(values: pd.Series, limit: int = 6) -> int:
    """The fewest decimal places that hold every value (at most ``limit``).

    Parameters
    ----------
    values : Series
        Numbers; missing values are ignored.
    limit : int
        The most decimal places returned.

    Returns
    -------
    int
        Decimal places.

    Examples
    --------
    >>> decimal_places(pd.Series([1.5, 2.25, None]))
    2
    """
    v = values.dropna().to_numpy(dtype=float)
    for d in range(limit + 1):
        if np.allclose(v, np.round(v, d), rtol=0, atol=10.0 ** -(limit + 2)):
            return d
    return limit


def column_type(values: pd.Series) -> str:
    """Frictionless type of a column: ``integer``, ``number``, ``boolean`` or ``string``."""
    if pd.api.types.is_bool_dtype(values):
        return "boolean"
    numeric = as_numeric(values)
    if numeric is None:
        return "string"
    v = numeric.dropna()
    if len(v) and np.all(np.equal(np.mod(v, 1), 0)):
        return "integer"
    return "number"


def as_numeric(values: pd.Series) -> pd.Series | None:
    """A column as floats, or None if any non-blank value is not a number.

    Parameters
    ----------
    values : Series
        A column as read (numbers, booleans or text).

    Returns
    -------
    Series or None
        The values as floats (blank text missing); None for a text column.

    Examples
    --------
    >>> as_numeric(pd.Series(["1", " 2.5", ""])).tolist()
    [1.0, 2.5, nan]
    >>> as_numeric(pd.Series(["1", "a"])) is None
    True
    """
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
    num = as_numeric(values)
    assert num is not None
    v = num.dropna()
    out.update(
        mean=_none_if_nan(float(v.mean())) if len(v) else None,
        sd=_none_if_nan(float(v.std(ddof=1))) if len(v) > 1 else 0.0,
        min=_none_if_nan(float(v.min())) if len(v) else None,
        max=_none_if_nan(float(v.max())) if len(v) else None,
        decimals=decimal_places(v) if kind == "number" else 0,
    )
    return out


def measure_bounds(m: Measure, fallback: tuple[float, float]) -> tuple[float, float]:
    """The admissible range of a measure's score.

    Parameters
    ----------
    m : Measure
        The measure.
    fallback : tuple of float
        The range to use when the config gives neither ``range`` nor an item range.

    Returns
    -------
    tuple of float
        ``range`` if configured; else the item range (times the number of items for a
        summed score); else ``fallback``.

    Examples
    --------
    >>> m = Measure(key="x", column="x", label="X", kind="moderator", table="therapists")
    >>> measure_bounds(m, (0, 1))
    (0.0, 1.0)
    """
    if m.range:
        return float(m.range[0]), float(m.range[1])
    if m.items and m.item_range:
        k = len(m.items) if m.scoring == "sum" else 1
        return float(m.item_range[0]) * k, float(m.item_range[1]) * k
    return float(fallback[0]), float(fallback[1])


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
            bounds = m.range or (
                measure_bounds(m, (0.0, 0.0)) if m.items and m.item_range else None
            )
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
