"""The design-planning rules' steps (``workflow/rules/power.smk``): read the rule's
inputs, call :mod:`process_outcome.analysis.power` and
:mod:`process_outcome.analysis.power_summary`,
write the outputs. The scripts ``scripts/power_*.py`` only pass Snakemake's paths."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from process_outcome.analysis import power, power_summary
from process_outcome.errors import InputError
from process_outcome.files import read_json, write_csv, write_json

__all__ = ["n_moderators", "planned_measures", "power_aggregate", "power_batch", "power_design"]

log = logging.getLogger("process_outcome")


def planned_measures(config: Mapping[str, Any]) -> dict[str, str | None]:
    """The outcome, process and moderator of ``power``: configured keys, else the first
    outcome, process and continuous moderator.

    Raises
    ------
    InputError
        If a key set under ``power`` is not a configured measure.

    Examples
    --------
    >>> cfg = {"power": {"outcome": None, "process": None, "moderator": None},
    ...     "measures": {"outcomes": {"o": {}}, "processes": {"p": {}},
    ...     "moderators": {"b": {"type": "binary"}, "m": {"type": "continuous"}}}}
    >>> planned_measures(cfg)
    {'outcome': 'o', 'process': 'p', 'moderator': 'm'}
    """
    settings = config["power"]
    measures = config["measures"]
    out: dict[str, str | None] = {}
    for key, kind in (("outcome", "outcomes"), ("process", "processes")):
        keys = list(measures[kind])
        chosen = settings[key]
        if chosen is not None and chosen not in keys:
            raise InputError(
                f"power.{key}: {chosen!r} is not a configured measure; measures.{kind} has "
                f"{keys}. Set power.{key} to one of them (or null for the first)."
            )
        out[key] = chosen if chosen is not None else keys[0]
    moderators = measures.get("moderators", {})
    chosen = settings["moderator"]
    if chosen is not None and chosen not in moderators:
        raise InputError(
            f"power.moderator: {chosen!r} is not a configured moderator; measures.moderators "
            f"has {list(moderators)}. Set power.moderator to one of them (or null)."
        )
    continuous = [k for k, v in moderators.items() if v.get("type") == "continuous"]
    out["moderator"] = chosen if chosen is not None else (continuous or [None])[0]
    return out


def power_design(
    config: Mapping[str, Any], aim2: str | None, aim3: str | None, out_design: str
) -> None:
    """Resolve the generating values and write ``design.json``."""
    settings = config["power"]
    planned = planned_measures(config)
    fitted = None
    source = "simulator defaults"
    planning = settings.get("planning", "point")
    if aim2:
        try:
            fitted = power_summary.values_from_models(
                read_json(aim2), read_json(aim3) if aim3 else None, planned["moderator"], planning
            )
        except ValueError as err:  # a safeguard bound the models do not have
            raise InputError(str(err)) from None
        source = f"fitted models of {planned['outcome']} on {planned['process']}" + (
            f" (moderator {planned['moderator']})" if aim3 else ""
        )
        if planning == "safeguard":
            source += "; safeguard values: bounds of their 95% CIs nearest to no effect"
    else:
        planning = "point"  # the simulator's values have no CI
    own = fitted.pop("own_design") if fitted else None
    explicit = {k: v for k, v in settings["values"].items() if v is not None}
    values = power.generating_values(explicit, fitted)
    if explicit:
        source += f"; set in the config: {', '.join(sorted(explicit))}"
    cells = power.design_grid(settings, values)
    write_json(
        {
            "planned": planned,
            "values": values,
            "values_source": source,
            "own_design": own,
            "cells": [c.key for c in cells],
            "planning": planning,
            "n_moderators": n_moderators(config),
            **{k: settings[k] for k in ("replicates", "batch_size", "seed", "alpha", "mess")},
        },
        out_design,
    )
    log.info("power design: %d cells, values from %s", len(cells), source)


def n_moderators(config: Mapping[str, Any]) -> int:
    """Tests in an aim 3 family (the BH adjustment's size): the configured moderators,
    at least the two the simulation fits.

    Examples
    --------
    >>> n_moderators({"measures": {"moderators": {"a": {}, "b": {}, "c": {}}}})
    3
    """
    return max(len(config["measures"].get("moderators") or {}), 2)


def _ddf(config: Mapping[str, Any]) -> str:
    return str((config.get("inference") or {}).get("ddf", "satterthwaite"))


def _cell(design: Mapping[str, Any], params: Mapping[str, Any]) -> power.Cell:
    one = {
        "n_therapists": [int(params["n_therapists"])],
        "patients_per_therapist": [int(params["patients_per_therapist"])],
        "max_sessions": [int(params["max_sessions"])],
        "slope_sd": [None if params["slope_sd"] == "gen" else float(params["slope_sd"])],
        "moderator_effect": [
            None if params["moderator_effect"] == "gen" else float(params["moderator_effect"])
        ],
    }
    return power.design_grid(one, design["values"])[0]


def power_batch(
    config: Mapping[str, Any],
    design: str,
    cell: Mapping[str, Any],
    batch: int,
    out_csv: str,
) -> None:
    """Run one batch of replicates of one cell and write their rows."""
    d = read_json(design)
    the_cell = _cell(d, cell)
    rows = power.run_batch(
        the_cell,
        int(batch),
        int(d["batch_size"]),
        int(d["replicates"]),
        int(d["seed"]),
        power.simulation_config(config),
        mess=bool(d["mess"]),
        n_moderators=int(d.get("n_moderators", 2)),
        ddf=_ddf(config),
    )
    write_csv(rows, out_csv)
    failed = rows.loc[rows["error"].fillna("").ne(""), "replicate"].nunique()
    log.info(
        "%s batch %s: %d replicates, %d not analysable",
        the_cell.key,
        batch,
        rows["replicate"].nunique(),
        failed,
    )


def power_aggregate(
    config: Mapping[str, Any],
    design: str,
    cells: Sequence[Mapping[str, Any]],
    batches: Sequence[str],
    out: Mapping[str, str],
) -> None:
    """Gather every batch into the power, recovery, type-I and design tables and the
    power-curve figure."""
    from process_outcome.analysis.figures import save

    d = read_json(design)
    grid = power.cells_table([_cell(d, c) for c in cells])
    rows = pd.concat(
        [pd.read_csv(p, keep_default_na=False, na_values=[""]) for p in batches],
        ignore_index=True,
    )
    rows = rows.sort_values(["cell", "replicate"], kind="mergesort").reset_index(drop=True)
    alpha = float(d["alpha"])
    settings = {
        "planning": d.get("planning", "point"),
        "n_moderators": int(d.get("n_moderators", 2)),
    }
    tables = {
        # which generating values and which family size the power is for: traced here
        "power": power_summary.power_table(rows, grid, alpha).assign(**settings),
        "recovery": power_summary.recovery_table(rows),
        "type1": power_summary.type1_table(rows, grid, alpha),
    }
    tables["designs"] = power_summary.design_for_power(tables["power"])
    for name, table in tables.items():
        write_csv(table, out[name])
    save(power_summary.power_curve_figure(tables["power"]), out["figure_pdf"], out["figure_png"])
    failed = rows.loc[rows["error"].fillna("").ne("")]
    for message, g in failed.groupby("error"):
        log.warning("%d replicates not analysable: %s", g["replicate"].size, message)
    log.info("power: %d cells, %d replicate rows", len(grid), len(rows))
