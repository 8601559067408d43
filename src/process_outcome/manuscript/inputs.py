"""Reading the results files into the objects the manuscript is built from.

:class:`Design` (the configured measures), :class:`Results` (the results files'
contents), :class:`Provenance`, and the constants that name the report's outputs
(:data:`TABLE_FILES`, :data:`FIGURE_KEYS`), kept here in one place.
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
    "FIGURE_KEYS",
    "GROUP",
    "TABLE_FILES",
    "Design",
    "InputFile",
    "Provenance",
    "Results",
    "read_results",
]


GROUP = "therapist"


TABLE_FILES = {
    "table1_descriptives": "results/report/tables/table1_descriptives.tex",
    "table2_correlations": "results/report/tables/table2_correlations.tex",
    "table3_aims12": "results/report/tables/table3_aims12.tex",
    "table4_moderation": "results/report/tables/table4_moderation.tex",
}


FIGURE_KEYS = ("figure1_aim1_forest", "figure2_aim2_caterpillar", "figure3_aim3_simple_slopes")


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
    descriptives, correlations, rm_correlations : DataFrame
        ``results/tables`` descriptive tables.
    aim1, aim2_tests, aim2_fixed, aim2_slopes, aim2_correlations, aim3, aim3_simple
        The aims' tidy results tables.
    models : mapping
        Model summaries keyed by ``<aim>/<outcome>/<process>``.
    truth : DataFrame or None
        ``truth_recovery.csv`` (simulated data only).
    reliability : DataFrame or None
        ``reliability.csv``: alpha and omega of item-scored measures.
    icc, aim1_between, r2, standardized : DataFrame or None
        ``icc_therapist_means.csv`` (ICC(1)/ICC(2) of each process),
        ``aim1_between_corrected.csv`` (observed- and latent-mean between and contextual
        effects), ``effect_sizes_r2.csv`` and ``standardized_effects.csv``.
    """

    flow: Mapping[str, Any]
    descriptives: pd.DataFrame
    correlations: pd.DataFrame
    rm_correlations: pd.DataFrame
    aim1: pd.DataFrame
    aim2_tests: pd.DataFrame
    aim2_fixed: pd.DataFrame
    aim2_slopes: pd.DataFrame
    aim2_correlations: pd.DataFrame
    aim3: pd.DataFrame
    aim3_simple: pd.DataFrame
    models: Mapping[str, Mapping[str, Any]]
    truth: pd.DataFrame | None = None
    reliability: pd.DataFrame | None = None
    icc: pd.DataFrame | None = None
    aim1_between: pd.DataFrame | None = None
    r2: pd.DataFrame | None = None
    standardized: pd.DataFrame | None = None


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
        Paths keyed ``descriptives, correlations, rm_correlations, aim1, aim2_tests,
        aim2_fixed, aim2_slopes, aim2_correlations, aim3, aim3_simple`` and optionally
        ``truth``, ``reliability``, ``icc``, ``aim1_between``, ``r2`` and ``standardized``.
    models : sequence of str
        Model summaries ``.../models/<aim>/<outcome>/<process>.json``.
    flow : str
        ``flow.json``.
    """

    def csv(name: str) -> pd.DataFrame:
        return pd.read_csv(tables[name], keep_default_na=False, na_values=[""])

    summaries = {}
    for path in models:
        p = Path(path)
        summaries[f"{p.parent.parent.name}/{p.parent.name}/{p.stem}"] = read_json(p)
    return Results(
        flow=read_json(flow),
        descriptives=csv("descriptives"),
        correlations=csv("correlations"),
        rm_correlations=csv("rm_correlations"),
        aim1=csv("aim1"),
        aim2_tests=csv("aim2_tests"),
        aim2_fixed=csv("aim2_fixed"),
        aim2_slopes=csv("aim2_slopes"),
        aim2_correlations=csv("aim2_correlations"),
        aim3=csv("aim3"),
        aim3_simple=csv("aim3_simple"),
        models=summaries,
        truth=csv("truth") if tables.get("truth") else None,
        reliability=csv("reliability") if tables.get("reliability") else None,
        **{
            name: csv(name) if tables.get(name) else None
            for name in ("icc", "aim1_between", "r2", "standardized")
        },
    )
