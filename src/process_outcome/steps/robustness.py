"""Rule bodies of the robustness analyses: one job per variant, then the table."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from process_outcome.analysis.robustness import (
    ESTIMATE_COLUMNS,
    agreement,
    fit_variant,
    key_estimates,
)
from process_outcome.files import read_json, write_csv
from process_outcome.steps.data import read_inputs

log = logging.getLogger("process_outcome")

__all__ = ["robustness_table", "robustness_variant"]


def robustness_variant(
    config: Mapping[str, Any],
    variant: str,
    sessions: str,
    therapists: str,
    patients: str | None,
    out: str,
) -> None:
    """Clean the input files under one robustness variant, fit aims 1–3 and write the
    variant's key estimates."""
    spec = next(v for v in config["robustness"] if v["name"] == variant)
    estimates = fit_variant(read_inputs(config, sessions, therapists, patients), config, spec)
    for problem in estimates["problem"].dropna():
        log.warning("robustness variant %s could not be fitted: %s", variant, problem)
    write_csv(estimates, out)
    log.info(
        "robustness variant %s: %d key estimates", variant, estimates["estimate"].notna().sum()
    )


def robustness_table(
    config: Mapping[str, Any],
    aim1: str,
    aim2: str,
    aim3: str,
    flow: str,
    variants: Sequence[str],
    out: str,
) -> None:
    """Set the main analysis's key estimates beside each variant's, in config order."""
    sample = read_json(flow)["steps"][-1]
    main = key_estimates(
        pd.read_csv(aim1),
        pd.read_csv(aim2),
        pd.read_csv(aim3),
        "main",
        (sample["patients"], sample["therapists"]),
    )
    read = [pd.read_csv(p, keep_default_na=False, na_values=[""]) for p in variants]
    table = pd.concat([main, *read], ignore_index=True)
    table["agrees"] = agreement(table)
    write_csv(table[ESTIMATE_COLUMNS], out)
