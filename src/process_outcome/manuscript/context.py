"""The results context of the manuscript templates: what a template can name.

==================  ======================================================================
name                what it is
==================  ======================================================================
``study``           ``simulated``, ``n_therapists``, ``n_patients``, ``n_sessions`` (cells
                    of ``flow.json``), ``title``, ``original`` (the original study's
                    citation key) and ``findings`` (its findings from the config)
``outcomes``        one :class:`Label` per outcome: ``key``, ``label``, ``lc`` (lower
                    case), ``post`` (``post-treatment symptom severity``), ``better``
                    (``lower`` or ``higher``: the beneficial direction of a slope),
                    ``higher_is``
``processes``       one :class:`Label` per process (``key``, ``label``, ``lc``)
``moderators``      one :class:`Label` per therapist characteristic (``type`` too)
``tables``          every results table by its registered name: ``tables.<name>.row(k=v)``
                    is the one row with those values, ``.rows(k=v)`` all of them
``models``          model summaries ``models["aim1/<outcome>/<process>"]``
``config``          the validated config
``cite(k, …)``      a citation; ``table(name)``, ``figure(name)``: a printed table or
                    figure in place (nothing when switched off in the config)
==================  ======================================================================

A row's columns are cells (:class:`Cell`: value and source), printed through the filters
of :mod:`process_outcome.manuscript.filters`. A name the results do not have, or a row
that does not exist, stops the rendering with the template, its line and the name.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from process_outcome.document import Ref, is_missing, lower_first, ref

__all__ = ["Cell", "Label", "Row", "TableView", "label_of"]


@dataclass(frozen=True)
class Cell:
    """One value of a results file and where it came from."""

    value: Any
    ref: Ref | None = None

    def __float__(self) -> float:
        return float(self.value)

    def __bool__(self) -> bool:
        # Flags read back from CSV may be the strings "True"/"False".
        if isinstance(self.value, str):
            return self.value.strip().lower() in ("true", "1", "yes")
        return not is_missing(self.value) and bool(self.value)

    def __str__(self) -> str:
        # Printing a cell without a filter would lose its source and format.
        raise TypeError(f"print a results cell through a filter ({self.ref}): e.g. | num")

    @property
    def missing(self) -> bool:
        """Whether the cell is empty."""
        return is_missing(self.value)

    # Comparisons on the value, so templates can write `row.estimate < 0`.
    def __lt__(self, other: Any) -> bool:
        return float(self.value) < float(other)

    def __gt__(self, other: Any) -> bool:
        return float(self.value) > float(other)

    def __le__(self, other: Any) -> bool:
        return float(self.value) <= float(other)

    def __ge__(self, other: Any) -> bool:
        return float(self.value) >= float(other)


class Row(Mapping[str, Cell]):
    """One row of a results table; each column is a :class:`Cell`.

    Examples
    --------
    >>> row = Row({"estimate": 0.5}, "aim1_fixed_effects", {"term": "x"})
    >>> row.estimate.ref.column, row.estimate.value
    ('estimate', 0.5)
    """

    def __init__(self, data: Mapping[str, Any], source: str, key: Mapping[str, Any]):
        self._data = dict(data)
        self._ref = ref(source, **key)

    def __getitem__(self, column: str) -> Cell:
        if column not in self._data:
            raise KeyError(column)
        v = self._data[column]
        if isinstance(v, float) and math.isnan(v):
            v = None
        return Cell(v, self._ref.at(column))

    def __getattr__(self, column: str) -> Cell:
        if column.startswith("_"):
            raise AttributeError(column)
        try:
            return self[column]
        except KeyError:
            raise AttributeError(
                f"{self._ref.source} has no column {column!r}; it has {sorted(self._data)}"
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def get(self, column: str, default: Any = None) -> Any:  # type: ignore[override]
        """The raw value (not a cell)."""
        v = self._data.get(column, default)
        return None if isinstance(v, float) and math.isnan(v) else v


class TableView:
    """A results table as templates read it."""

    def __init__(self, name: str, frame: pd.DataFrame):
        self.name = name
        self.frame = frame

    def rows(self, **key: Any) -> list[Row]:
        """Every row with these column values (in file order)."""
        sel = self.frame
        for k, v in key.items():
            if k not in sel.columns:
                raise KeyError(f"results table {self.name} has no column {k!r}")
            sel = sel[sel[k].isna()] if v is None else sel[sel[k].astype(str) == str(v)]
        out = []
        for _, r in sel.iterrows():
            data = r.to_dict()
            # The row is named by the selection and enough of its own values to be unique.
            names = {k: ("" if v is None else v) for k, v in key.items()}
            for col in ("outcome", "process", "process_a", "process_b", "moderator", "term"):
                if col in data and col not in names and len(sel) > 1:
                    names[col] = data[col]
            for col in ("variant", "aim", "parameter", "model", "method", "part", "level"):
                if col in data and col not in names and len(sel) > 1:
                    names[col] = "" if is_missing(data[col]) else data[col]
            out.append(Row(data, self.name, names))
        return out

    def row(self, **key: Any) -> Row:
        """The one row with these column values."""
        found = self.rows(**key)
        if len(found) != 1:
            raise LookupError(f"results table {self.name}: {len(found)} rows for {key}")
        return found[0]

    def count(self, **key: Any) -> Cell:
        """The number of rows with these values, as a cell traced to them."""
        names = {k: "" if v is None else v for k, v in key.items()}
        return Cell(len(self.rows(**key)), ref(self.name, "<count>", **names))

    def has(self, **key: Any) -> bool:
        """Whether a row with these values exists."""
        return bool(self.rows(**key))

    def __len__(self) -> int:
        return len(self.frame)

    def __iter__(self) -> Iterator[Row]:
        cols = list(self.frame.columns)
        keys = [c for c in cols if self.frame[c].dtype == object][:4]
        for _, r in self.frame.iterrows():
            data = r.to_dict()
            yield Row(data, self.name, {k: "" if is_missing(data[k]) else data[k] for k in keys})


@dataclass(frozen=True)
class Label:
    """A configured measure as the templates name it."""

    key: str
    label: str
    lc: str
    post: str
    better: str
    higher_is: str | None
    type: str | None
    range: str | None = None


def label_of(measure: Any) -> Label:
    """The :class:`Label` of a configured measure."""
    lc = lower_first(measure.label)
    better = "lower" if measure.higher_is == "worse" else "higher"
    rng = getattr(measure, "range", None)
    shown = "–".join(f"{float(x):g}" for x in rng) if rng else None
    return Label(
        measure.key,
        measure.label,
        lc,
        f"post-treatment {lc}",
        better,
        measure.higher_is,
        getattr(measure, "type", None),
        shown,
    )
