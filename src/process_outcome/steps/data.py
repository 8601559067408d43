"""Rule bodies of the data stage: simulate, validate and clean."""

from __future__ import annotations

import logging
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from process_outcome.analysis.descriptives import (
    reliability_table,
)
from process_outcome.analysis.feasibility import check_feasibility
from process_outcome.analysis.robustness import variant_sample
from process_outcome.config import measures_of
from process_outcome.data import pseudonyms, reading
from process_outcome.data.analysis_table import analysis_table, covariate_terms
from process_outcome.data.pseudonyms import therapist_codes
from process_outcome.data.simulate import SimulatedStudy, simulate_study
from process_outcome.errors import InputError
from process_outcome.files import write_csv, write_json
from process_outcome.supplement import privacy

log = logging.getLogger("process_outcome")

__all__ = [
    "OUTPUT_BYTES_FIXED",
    "OUTPUT_BYTES_PER_INPUT_BYTE",
    "check_free_space",
    "clean_data",
    "read_warnings",
    "simulate",
    "validate_data",
]

# What a whole run writes, at most: the cleaned tables, the synthetic replica and the
# supplement grow with the input (about 3 bytes per input byte, measured on the default
# study and at 1.5 million rows), the report, figures and the workflow's copy do not.
OUTPUT_BYTES_PER_INPUT_BYTE = 4
OUTPUT_BYTES_FIXED = 200 * 1024**2


def check_free_space(
    inputs: Sequence[str | Path], results: str | Path = "results", free: int | None = None
) -> None:
    """Stop before the long work when the disk of ``results`` cannot hold a run's output.

    Parameters
    ----------
    inputs : sequence of path
        The input files (their size sets the expected output size).
    results : path
        The results folder (or the folder it will be made in).
    free : int, optional
        Free bytes (measured when None).

    Raises
    ------
    InputError
        With the free and the expected space and the fix.

    Examples
    --------
    >>> check_free_space([], ".", free=10 * 1024**3)  # 10 GiB free: passes
    """
    need = OUTPUT_BYTES_FIXED + OUTPUT_BYTES_PER_INPUT_BYTE * sum(
        Path(p).stat().st_size for p in inputs if p and Path(p).is_file()
    )
    where = Path(results)
    while not where.exists() and where != where.parent:
        where = where.parent
    if free is None:
        free = shutil.disk_usage(where if where.exists() else Path.cwd()).free
    if free < need:
        raise InputError(
            f"the disk that holds {results}/ has {free / 1024**2:.0f} MB free, but a run "
            f"writes up to about {need / 1024**2:.0f} MB there. Free some space (or run "
            "from a directory on a larger disk) before running the workflow."
        )


def read_warnings(tables: Mapping[str, pd.DataFrame]) -> list[str]:
    """What reading the files noticed without stopping (hidden Excel rows, say)."""
    return [w for df in tables.values() for w in df.attrs.get("warnings", [])]


def _simulate(config: Mapping[str, Any]) -> SimulatedStudy:
    sim = config["simulate"]
    return simulate_study(
        seed=sim["seed"],
        n_therapists=sim["n_therapists"],
        n_patients=sim["n_patients"],
        max_sessions=sim["max_sessions"],
        mess=sim["mess"],
    )


def simulate(
    config: Mapping[str, Any], sessions: str, therapists: str, patients: str, truth: str
) -> None:
    """Write the simulated study's tables and its generating parameters."""
    study = _simulate(config)
    write_csv(study.sessions, sessions)
    write_csv(study.therapists, therapists)
    write_csv(study.patients, patients)
    write_csv(study.truth, truth)
    log.info("simulated %d session rows (seed %d)", len(study.sessions), config["simulate"]["seed"])


def _simulated_tables(config: Mapping[str, Any]) -> dict[str, pd.DataFrame]:
    study = _simulate(config)
    cols = config["data"]["columns"]
    # As read from the CSV files: ids as text.
    ids = {cols["patient"]: "string", cols["therapist"]: "string"}
    tables = {
        "sessions": study.sessions.rename(
            columns={"patient_id": cols["patient"], "therapist_id": cols["therapist"]}
        ).astype(ids),
        "therapists": study.therapists.rename(columns={"therapist_id": cols["therapist"]}).astype(
            {cols["therapist"]: "string"}
        ),
        "patients": study.patients.rename(columns={"patient_id": cols["patient"]}).astype(
            {cols["patient"]: "string"}
        ),
    }
    for name, df in tables.items():
        df.attrs["path"] = f"simulated {name} (seed {config['simulate']['seed']})"
    return tables


def read_inputs(
    config: Mapping[str, Any], sessions: str, therapists: str, patients: str | None
) -> dict[str, pd.DataFrame]:
    cols = config["data"]["columns"]
    id_columns = {
        "sessions": (cols["patient"], cols["therapist"]),
        "therapists": (cols["therapist"],),
        "patients": (cols["patient"],),
    }
    paths = {"sessions": sessions, "therapists": therapists, "patients": patients}
    return {
        name: reading.read_table(
            path,
            table=name,
            id_columns=id_columns[name],
            options=reading.ReadOptions.from_config(config["data"], name),
        )
        for name, path in paths.items()
        if path
    }


def _analysis_sample(
    tables: Mapping[str, pd.DataFrame], config: Mapping[str, Any]
) -> tuple[Any, pd.DataFrame]:
    """The cleaned data and patient table, checked that every model can be fitted to it,
    so that everything the model jobs would reject is found by ``validate`` in seconds."""
    data, table = analysis_table(
        tables["sessions"], tables["therapists"], config, patients=tables.get("patients")
    )
    check_feasibility(table, config, covariate_terms(table, measures_of(config, "covariate")))
    return data, table


def validate_data(
    config: Mapping[str, Any],
    sessions: str | None = None,
    therapists: str | None = None,
    patients: str | None = None,
) -> None:
    """Check the data and config only, and print a summary (the ``validate`` target).

    With ``data.source: simulate`` and no paths, the study is simulated in memory, so
    validation does not wait for (or write) the simulated files.
    """
    from process_outcome.data.cleaning import validation_summary

    if sessions is None or therapists is None:
        tables = _simulated_tables(config)
        check_free_space([])
    else:
        check_free_space([sessions, therapists, patients])
        tables = read_inputs(config, sessions, therapists, patients)
    data, _ = _analysis_sample(tables, config)
    text = validation_summary(data, tables, config)
    sys.stdout.write(text)
    log.info("%s", text)
    for warning in read_warnings(tables):
        log.warning("%s", warning)
        sys.stdout.write(f"WARNING: {warning}\n")
    # A robustness variant that cannot be fitted does not stop a run (the manuscript says
    # so), but a user who made a mistake in it should hear it now.
    for variant in config.get("robustness", []):
        try:
            variant_sample(tables, config, variant)
        except InputError as exc:
            warning = f"robustness variant {variant['name']!r} cannot be fitted: {exc}"
            log.warning("%s", warning)
            sys.stdout.write(f"WARNING: {warning}\n")
    # What would stop the supplement's privacy scan after the whole analysis is found here.
    for warning in privacy.privacy_precheck(config, tables):
        log.warning("%s", warning)
        sys.stdout.write(f"WARNING: {warning}\n")


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
    out_reliability: str,
) -> None:
    """Read and clean the input tables and write the analysis sample."""
    check_free_space([sessions, therapists, patients])
    tables = read_inputs(config, sessions, therapists, patients)
    for warning in read_warnings(tables):
        log.warning("%s", warning)
        sys.stderr.write(f"WARNING: {warning}\n")
    data, table = _analysis_sample(tables, config)
    write_csv(data.sessions, out_sessions)
    write_csv(data.therapists, out_therapists)
    write_csv(table, out_patients)
    covariates = data.patients if data.patients is not None else table[["patient"]]
    write_csv(covariates, out_covariates)
    write_csv(data.exclusions, exclusions)
    write_json(
        {
            "steps": data.flow,
            "exclusions": data.exclusions["reason"].value_counts().sort_index().to_dict(),
        },
        flow,
    )
    # Codes avoid every id of the input tables, not only the sample's: the supplement's
    # privacy scan looks for all of them.
    ids = pseudonyms.study_ids(tables, config["data"]["columns"])
    key = pseudonyms.code_key(tables)  # codes in an order the ids do not give away
    write_csv(therapist_codes(table["therapist"], avoid=ids, key=key), codes)
    # What would stop the supplement's privacy scan is found before the models run.
    for warning in privacy.privacy_precheck(config, tables):
        log.warning("%s", warning)
        sys.stderr.write(f"WARNING: {warning}\n")
    labels = {
        m.key: m.label for m in measures_of(config, "outcome") + measures_of(config, "process")
    }
    write_csv(reliability_table(data.items, labels), out_reliability)
    log.info(
        "analysis sample: %d patients, %d therapists", len(table), table["therapist"].nunique()
    )
