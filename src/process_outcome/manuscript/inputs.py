"""Reading the results files into the objects the manuscript is built from.

:class:`Design` (the configured measures), :class:`Results` (the results files'
contents) and :class:`Provenance`. Which files exist and what they are called is the
registry's (:mod:`process_outcome.outputs`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from process_outcome.config import Measure, measures_of
from process_outcome.document import lower_first
from process_outcome.files import read_json

__all__ = [
    "GROUP",
    "Design",
    "InputFile",
    "Provenance",
    "Results",
    "read_results",
]


GROUP = "therapist"


@dataclass(frozen=True)
class Design:
    """The configured study design: measures, data source and cleaning settings."""

    outcomes: tuple[Measure, ...]
    processes: tuple[Measure, ...]
    moderators: tuple[Measure, ...]
    config: Mapping[str, Any]
    covariates: tuple[Measure, ...] = ()

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Design:
        """The design of a validated config."""
        covariates = measures_of(config, "covariate") if "covariates" in config["measures"] else []
        return cls(
            tuple(measures_of(config, "outcome")),
            tuple(measures_of(config, "process")),
            tuple(measures_of(config, "moderator")),
            config,
            tuple(covariates),
        )

    @property
    def simulated(self) -> bool:
        """Whether the data are the built-in simulated study."""
        return self.config["data"]["source"] == "simulate"

    @property
    def all(self) -> tuple[Measure, ...]:
        """Every configured measure."""
        return (*self.outcomes, *self.processes, *self.moderators, *self.covariates)

    def measure(self, key: str) -> Measure:
        """The measure with this key."""
        for m in self.all:
            if m.key == key:
                return m
        raise KeyError(f"no configured measure {key!r}")

    def label(self, key: str) -> str:
        """The measure's label."""
        return self.measure(key).label

    def term_label(self, term: str) -> str:
        """Readable name of a model term: ``alliance_within`` → ``Working alliance, within``."""
        if term == "(Intercept)":
            return "Intercept"
        if ":" in term:
            return " × ".join(self.term_label(t) for t in term.split(":"))
        for o in self.outcomes:
            if term in (f"baseline_{o.key}_c", f"baseline_{o.key}"):
                return f"Baseline {lower_first(o.label)}"
        for p in self.processes:
            for part in ("within", "between"):
                if term == f"{p.key}_{part}":
                    return f"{p.label}, {part}"
        for m in (*self.moderators, *self.covariates):
            if term == m.key:
                return m.label
            # Categorical covariates enter as indicators ``<key>[<level>]``.
            if term.startswith(f"{m.key}[") and term.endswith("]"):
                return f"{m.label}: {term[len(m.key) + 1 : -1]}"
        return term


@dataclass(frozen=True)
class Results:
    """Everything the report quotes, as read from the results files.

    Attributes
    ----------
    flow : mapping
        ``results/data/flow.json``.
    tables : mapping of str to DataFrame
        The results tables keyed by their registered names (:mod:`process_outcome.outputs`),
        e.g. ``descriptives``, ``aim1_fixed_effects``, ``aim3_moderation``.
    models : mapping
        Model summaries keyed by ``<aim>/<outcome>/<process>``.

    Examples
    --------
    >>> r = Results({}, {"aim1_fixed_effects": pd.DataFrame({"term": ["x"]})}, {})
    >>> r.table("aim1_fixed_effects").term.tolist()
    ['x']
    >>> r.optional("truth_recovery") is None
    True
    """

    flow: Mapping[str, Any]
    tables: Mapping[str, pd.DataFrame]
    models: Mapping[str, Mapping[str, Any]]

    def table(self, name: str) -> pd.DataFrame:
        """The results table registered under ``name``."""
        if name not in self.tables:
            raise KeyError(f"results table {name!r} was not read; read: {sorted(self.tables)}")
        return self.tables[name]

    def optional(self, name: str) -> pd.DataFrame | None:
        """The table registered under ``name``, or ``None`` when this run has none
        (``truth_recovery`` exists for the simulated study only)."""
        return self.tables.get(name)


@dataclass(frozen=True)
class InputFile:
    """One input data file: its path as configured, size and SHA-256."""

    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Provenance:
    """Where the results came from.

    Attributes
    ----------
    inputs : tuple of InputFile
    commit : str or None
        Git commit of the workflow; ``None`` when it is not under git.
    dirty : bool or None
        Whether tracked files differed from that commit.
    date : datetime
        Date of the run, from a file or commit time (never the wall clock).
    date_source : str
        What ``date`` is.
    software : tuple of (str, str)
        Package and version, Python first.
    config_yaml : str
        The config as run (defaults filled in).
    """

    inputs: tuple[InputFile, ...]
    commit: str | None
    dirty: bool | None
    date: datetime
    date_source: str
    software: tuple[tuple[str, str], ...]
    config_yaml: str


def read_results(tables: Mapping[str, str], models: Sequence[str], flow: str) -> Results:
    """Read the results files the manuscript quotes.

    Parameters
    ----------
    tables : mapping
        Paths of the results tables keyed by their registered names.
    models : sequence of str
        Model summaries ``.../models/<aim>/<outcome>/<process>.json``.
    flow : str
        ``flow.json``.
    """
    summaries = {}
    for path in models:
        p = Path(path)
        summaries[f"{p.parent.parent.name}/{p.parent.name}/{p.stem}"] = read_json(p)
    return Results(
        flow=read_json(flow),
        tables={
            name: pd.read_csv(path, keep_default_na=False, na_values=[""])
            for name, path in tables.items()
        },
        models=summaries,
    )
