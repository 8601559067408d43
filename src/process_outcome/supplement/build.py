"""The journal supplementary-material package: everything but the patients' records.

The package (``results/supplement/``, zipped as ``results/supplement.zip``) holds the
report, results tables and figures, the workflow as run, a data dictionary, a synthetic
replica of the input tables, provenance, citation and RO-Crate metadata and SHA-256
sums. Its privacy rests on one boundary: the input tables are only ever reduced to
aggregates (:mod:`~process_outcome.supplement.synthetic`,
:mod:`~process_outcome.supplement.dictionary`), and everything that is written comes
from those aggregates, from the fitted models or from results that already carry
pseudonymous therapist codes. A final scan of every file derived from the data refuses
to package any file in which an original patient or therapist id appears (see
:mod:`process_outcome.supplement.privacy`); the workflow's source files are copied
unchanged from the workflow and hold no data.

This module is the entry point the rule calls (:func:`build`); the package's parts are
written by :mod:`~process_outcome.supplement.synthetic`,
:mod:`~process_outcome.supplement.deidentified`,
:mod:`~process_outcome.supplement.dictionary`, :mod:`~process_outcome.supplement.metadata`,
:mod:`~process_outcome.supplement.readme` and :mod:`~process_outcome.supplement.archive`.

The archive is byte-reproducible: members sorted, fixed time stamps and permissions,
fixed compression; the only wall-clock times are in ``provenance.json`` and only when
``supplement.record_run_times`` is set.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from process_outcome.data import pseudonyms, reading
from process_outcome.errors import InputError
from process_outcome.files import atomic_write_text, read_json, write_csv, write_json
from process_outcome.provenance import git_state
from process_outcome.supplement import privacy
from process_outcome.supplement.archive import (
    copy_file,
    copy_result,
    mtime_iso,
    now_iso,
    result_path_in_package,
    sha256sums,
    workflow_files,
    write_zip,
)
from process_outcome.supplement.deidentified import deidentified_tables
from process_outcome.supplement.dictionary import data_dictionary
from process_outcome.supplement.metadata import (
    citation_cff,
    dump_yaml,
    package_lock,
    packaged_config,
    provenance,
    redacted_config,
    ro_crate,
    study_date,
    validate_cff,
)
from process_outcome.supplement.readme import (
    METADATA_FILES,
    describe_result,
    describe_workflow_file,
    readme,
)
from process_outcome.supplement.replica import synthetic_parameters
from process_outcome.supplement.synthetic import synthetic_tables

__all__ = ["build", "read_inputs"]

log = logging.getLogger("process_outcome")


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
        if path.endswith(".csv") and len(pd.read_csv(path, nrows=1)) == 0:
            # A table with a header only (reliability.csv when no measure is scored from
            # items) is not a result; packaging it would only puzzle a reviewer.
            log.info("supplement: %s has no rows and is not packaged", path)
            continue
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

    hits = privacy.find_ids(out, privacy.scanned_files(out, source), plan)
    if hits:
        raise InputError(
            "the supplement would disclose study ids: "
            f"{privacy.leak_message(hits, where)} (the ids are not shown here, so that this "
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
        len(privacy.scanned_files(out, source)),
        len(plan.anycase),
        len(plan.exact),
        len(plan.words),
        len(plan.short),
    )
    sums = sha256sums(out, [p for p in files if p != "SHA256SUMS"])
    atomic_write_text(out / "SHA256SUMS", sums)
    if start:
        log.info("run times: %s to %s", start, end)
