"""Read the public lme4 reference set (``tests/data/public``) and rebuild its resamples.

The set is made by ``tests/r/make_public_reference.R`` (see ``tests/data/README.md``):
R data sets as CSV, lme4/lmerTest results per model and cluster-bootstrap resamples
stored as the list of drawn groups. Tests and benchmarks share these readers so that
both fit exactly the data lme4 fitted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = [
    "PublicModel",
    "bootstrap_data",
    "identifiable_terms",
    "load_reference",
    "model_data",
    "models",
]


@dataclass(frozen=True)
class PublicModel:
    """One reference model: ``response ~ terms + (1 [+ slope] | group)`` on a data set."""

    name: str
    data: str
    response: str
    terms: tuple[str, ...]
    group: str
    slope: str | None
    exclude: tuple[str, ...]
    reference: dict[str, Any]


def load_reference(directory: Path) -> dict[str, Any]:
    """The parsed ``lme4_reference.json`` of ``directory``."""
    return json.loads((Path(directory) / "lme4_reference.json").read_text())


def models(reference: dict[str, Any]) -> dict[str, PublicModel]:
    """Every reference model by name.

    Examples
    --------
    >>> ref = {"models": {"m": {"data": "d", "response": "y", "terms": ["x"],
    ...        "group": "g", "slope": None, "exclude": []}}}
    >>> models(ref)["m"].terms
    ('x',)
    """
    out = {}
    for name, m in reference["models"].items():
        terms = m["terms"] if isinstance(m["terms"], list) else [m["terms"]]
        exclude = m.get("exclude") or []
        out[name] = PublicModel(
            name=name,
            data=m["data"],
            response=m["response"],
            terms=tuple(terms),
            group=m["group"],
            slope=m.get("slope"),
            exclude=tuple(exclude if isinstance(exclude, list) else [exclude]),
            reference=m,
        )
    return out


def _read(directory: Path, reference: dict[str, Any], data: str) -> pd.DataFrame:
    path = Path(directory) / reference["datasets"][data]["file"]
    # group labels are text in R; keep them text here (e.g. "01" is not 1)
    return pd.read_csv(
        path,
        dtype={
            "Subject": str,
            "Rat": str,
            "Worker": str,
            "Tree": str,
            "B": str,
            "school": str,
            "primary": str,
            "second": str,
            "childid": str,
            "schoolid": str,
            "id": str,
        },
    )


def model_data(directory: Path, reference: dict[str, Any], model: PublicModel) -> pd.DataFrame:
    """The rows lme4 fitted for ``model`` (groups in ``exclude`` removed)."""
    d = _read(directory, reference, model.data)
    if model.exclude:
        d = d[~d[model.group].isin(model.exclude)]
    return d.reset_index(drop=True)


def bootstrap_data(base: pd.DataFrame, group: str, drawn: list[str]) -> pd.DataFrame:
    """Rebuild one cluster-bootstrap resample: draw ``j`` becomes group ``g{j:03d}``.

    Examples
    --------
    >>> d = pd.DataFrame({"g": ["a", "a", "b"], "y": [1.0, 2.0, 3.0]})
    >>> bootstrap_data(d, "g", ["b", "b"])["g"].tolist()
    ['g001', 'g002']
    """
    by_group = {k: v for k, v in base.groupby(group, sort=False)}
    parts = []
    for j, label in enumerate(drawn, start=1):
        part = by_group[str(label)].copy()
        part[group] = f"g{j:03d}"
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def identifiable_terms(data: pd.DataFrame, terms: tuple[str, ...]) -> tuple[str, ...]:
    """Terms whose column is not constant in ``data`` (lme4 drops the others).

    A resample can lose every group of a category (e.g. all rats on one diet); lme4
    then drops the all-zero dummy column and fits the rest, and so must the comparison.

    Examples
    --------
    >>> identifiable_terms(pd.DataFrame({"a": [1, 2], "b": [0, 0]}), ("a", "b", "a:b"))
    ('a',)
    """
    keep = []
    for term in terms:
        values = pd.Series(1.0, index=data.index)
        for part in term.split(":"):
            values = values * data[part].astype(float)
        if values.nunique() > 1:
            keep.append(term)
    return tuple(keep)
