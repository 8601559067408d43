"""One function per workflow rule: read the rule's input files, call the library, write
its outputs. The scripts in ``scripts/`` only pass Snakemake's paths to these."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from process_outcome import io
from process_outcome.cleaning import clean
from process_outcome.config import measures_of
from process_outcome.descriptives import (
    correlations,
    descriptives,
    icc1,
    repeated_measures_correlations,
)
from process_outcome.errors import InputError
from process_outcome.simulate import simulate_study
from process_outcome.variables import patient_table

log = logging.getLogger("process_outcome")


def run(step: Callable[..., None], log_path: str | Path, **kwargs: Any) -> None:
    """Run one workflow step, logging to ``log_path``.

    A user's mistake (:class:`InputError`) is printed as a plain message, without a
    traceback, to the log and to standard error, and the process exits with status 1 so
    that Snakemake stops and removes the step's outputs.
    """
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(log_path, mode="w", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    start = time.perf_counter()
    try:
        step(**kwargs)
    except InputError as exc:
        message = f"\nERROR: {exc}\n"
        log.error("%s", exc)
        sys.stderr.write(message)
        sys.exit(1)
    finally:
        log.info("%s finished in %.2f s", step.__name__, time.perf_counter() - start)
        handler.close()
        root.removeHandler(handler)


def simulate(
    config: Mapping[str, Any], sessions: str, therapists: str, patients: str, truth: str
) -> None:
    """Write the simulated study's tables and its generating parameters."""
    sim = config["simulate"]
    study = simulate_study(
        seed=sim["seed"],
        n_therapists=sim["n_therapists"],
        n_patients=sim["n_patients"],
        max_sessions=sim["max_sessions"],
        mess=sim["mess"],
    )
    io.write_csv(study.sessions, sessions)
    io.write_csv(study.therapists, therapists)
    io.write_csv(study.patients, patients)
    io.write_csv(study.truth, truth)
    log.info("simulated %d session rows (seed %d)", len(study.sessions), sim["seed"])


def therapist_codes(therapists: pd.Series) -> pd.DataFrame:
    """Stable pseudonymous codes T01, T02, … in sorted order of the original ids.

    Returns
    -------
    DataFrame
        Columns ``therapist`` (original id) and ``code``.
    """
    ids = sorted(pd.unique(therapists.astype(str)))
    width = max(2, len(str(len(ids))))
    return pd.DataFrame(
        {"therapist": ids, "code": [f"T{i + 1:0{width}d}" for i in range(len(ids))]}
    )


def pseudonymize(
    table: pd.DataFrame, codes: pd.DataFrame, column: str = "therapist"
) -> pd.DataFrame:
    """Replace original therapist ids by their codes (order is preserved)."""
    mapping = dict(zip(codes["therapist"].astype(str), codes["code"], strict=True))
    out = table.copy()
    out[column] = out[column].astype(str).map(mapping)
    return out


def clean_data(
    config: Mapping[str, Any],
    sessions: str,
    therapists: str,
    patients: str | None,
    out_sessions: str,
    out_therapists: str,
    out_patients: str,
    out_covariates: str,
    exclusions: str,
    flow: str,
    codes: str,
) -> None:
    """Read and clean the input tables and write the analysis sample."""
    cols = config["data"]["columns"]
    sheets = config["data"]["sheets"]
    s = io.read_table(
        sessions,
        table="sessions",
        id_columns=(cols["patient"], cols["therapist"]),
        sheet=sheets.get("sessions"),
    )
    t = io.read_table(
        therapists,
        table="therapists",
        id_columns=(cols["therapist"],),
        sheet=sheets.get("therapists"),
    )
    p = None
    if patients:
        p = io.read_table(
            patients, table="patients", id_columns=(cols["patient"],), sheet=sheets.get("patients")
        )
    data = clean(s, t, config, patients=p)
    table = patient_table(
        data.sessions,
        data.therapists,
        measures_of(config, "outcome"),
        measures_of(config, "process"),
        measures_of(config, "moderator"),
    )
    io.write_csv(data.sessions, out_sessions)
    io.write_csv(data.therapists, out_therapists)
    io.write_csv(table, out_patients)
    covariates = data.patients if data.patients is not None else table[["patient"]]
    io.write_csv(covariates, out_covariates)
    io.write_csv(data.exclusions, exclusions)
    io.write_json(
        {
            "steps": data.flow,
            "exclusions": data.exclusions["reason"].value_counts().sort_index().to_dict(),
        },
        flow,
    )
    io.write_csv(therapist_codes(table["therapist"]), codes)
    log.info(
        "analysis sample: %d patients, %d therapists", len(table), table["therapist"].nunique()
    )


def describe_sample(
    config: Mapping[str, Any],
    sessions: str,
    patients: str,
    therapists: str,
    out_descriptives: str,
    out_correlations: str,
    out_rm_correlations: str,
) -> None:
    """Descriptive statistics, ICCs, patient-level and repeated-measures correlations."""
    s = pd.read_csv(sessions, dtype={"patient": str, "therapist": str})
    pt = pd.read_csv(patients, dtype={"patient": str, "therapist": str})
    t = pd.read_csv(therapists, dtype={"therapist": str})
    outcomes = measures_of(config, "outcome")
    processes = measures_of(config, "process")
    desc = descriptives(s, pt, t, outcomes, processes, measures_of(config, "moderator"), icc1)
    io.write_csv(desc, out_descriptives)
    cols = [f"baseline_{o.key}" for o in outcomes] + [f"post_{o.key}" for o in outcomes]
    cols += [f"{p.key}_mean" for p in processes]
    io.write_csv(correlations(pt, cols), out_correlations)
    io.write_csv(repeated_measures_correlations(s, outcomes, processes), out_rm_correlations)


def first_report(
    config: Mapping[str, Any],
    flow: str,
    descriptives: str,
    correlations: str,
    rm_correlations: str,
    template_dir: str,
    out_html: str,
) -> None:
    """Render the HTML report of the flow counts and descriptives."""
    from process_outcome.config import measures
    from process_outcome.report import render

    flow_data = io.read_json(flow)
    steps = flow_data["steps"]
    context = {
        "study": config["study"],
        "flow": steps,
        "sample": steps[-1],
        "exclusions": flow_data["exclusions"],
        "descriptives": pd.read_csv(descriptives).to_dict("records"),
        "correlations": pd.read_csv(correlations).to_dict("records"),
        "rm_correlations": pd.read_csv(rm_correlations).to_dict("records"),
        "labels": {m.key: m.label for m in measures(config)},
    }
    io.atomic_write_text(out_html, render(template_dir, "index.html.j2", context))
