"""The package's README and the one-line descriptions of its files.

``RESULT_DESCRIPTIONS`` (what each results table and figure is) lives here and only here.
"""

from __future__ import annotations

import platform
from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any

from process_outcome.supplement import privacy

__all__ = [
    "FORMATS",
    "METADATA_FILES",
    "RESULT_DESCRIPTIONS",
    "describe_result",
    "describe_workflow_file",
    "readme",
]

RESULT_DESCRIPTIONS = {
    "descriptives": "n, mean, SD, range of every measure by level; ICC(1)",
    "correlations": "patient-level correlations",
    "rm_correlations": "repeated-measures (within-patient) correlations",
    "aim1_fixed_effects": "aim 1 fixed effects (one model per process and the joint model)",
    "aim2_slope_tests": "aim 2 tests of therapist slope variance, slope SD and range",
    "aim2_fixed_effects": "aim 2 fixed effects of the random-slope models",
    "aim2_therapist_slopes": "aim 2 empirical-Bayes slope of each therapist (pseudonymous codes)",
    "aim2_slope_correlations": "aim 2 correlation of therapists' slopes across processes",
    "aim3_moderation": "aim 3 cross-level interactions with BH-FDR adjusted p",
    "aim3_simple_slopes": "aim 3 simple slopes at moderator levels",
    "truth_recovery": "simulated study only: true parameters beside the estimates",
    "icc_therapist_means": "ICC(1) and ICC(2) (reliability of therapists' means) of each process",
    "aim1_between_corrected": (
        "aim 1 within, between and contextual effects from observed and latent therapist means"
    ),
    "effect_sizes_r2": "R² decomposition (Rights & Sterba) and conditional ICC, aims 1 and 2",
    "standardized_effects": "aim 1 standardized within- and between-therapist effects",
    "figure1_aim1_forest": "figure 1: aim 1 within- and between-therapist effects",
    "figure2_aim2_caterpillar": "figure 2: aim 2 therapists' slopes",
    "figure3_aim3_simple_slopes": "figure 3: aim 3 simple slopes",
}


FORMATS = {
    ".csv": "CSV",
    ".tex": "LaTeX",
    ".pdf": "PDF",
    ".png": "PNG",
    ".html": "HTML",
    ".docx": "Word",
    ".md": "Markdown",
}


METADATA_FILES = {
    "README.md": "this file: what each file is and how to re-run the analysis",
    "CITATION.cff": "how to cite this material (Citation File Format 1.2.0)",
    "ro-crate-metadata.json": "RO-Crate 1.1 (Workflow RO-Crate) metadata: every file and its type",
    "datapackage.json": "data dictionary (Frictionless Data Package), without data values",
    "provenance.json": "SHA-256 of the inputs, config hash, git commit, software, seeds, times",
    "requirements.lock": "exact package versions of the environment that produced the results",
    "SHA256SUMS": "SHA-256 of every other file (check with: sha256sum -c SHA256SUMS)",
}


def describe_result(rel: str) -> str:
    """One line on what a packaged result file is."""
    path = PurePosixPath(rel)
    fmt = FORMATS.get(path.suffix.lower(), path.suffix.lstrip(".").upper())
    if path.parts[0] == "report":
        if path.suffix == ".tex":
            return f"results table for the manuscript ({fmt})"
        return f"results report ({fmt})"
    what = RESULT_DESCRIPTIONS.get(path.stem)
    kind = "figure" if path.parts[0] == "figures" else "results table"
    return f"{what} ({fmt})" if what else f"{kind} ({fmt})"


def describe_workflow_file(rel: str) -> str:
    """One line on what a packaged workflow file is."""
    fixed = {
        "Snakefile": "the workflow's entry point (main workflow)",
        "config/config.yaml": "config that runs the workflow on the SYNTHETIC data (default)",
        "config/config_used.yaml": "the config that produced the results (defaults filled in)",
        "config/config_deidentified.yaml": (
            "config that runs the workflow on the de-identified data"
        ),
        "config/README.md": "every config key documented",
        "environment.yml": "conda environment",
        "pyproject.toml": "Python package and dependencies",
    }
    if rel in fixed:
        return fixed[rel]
    top = PurePosixPath(rel).parts[0]
    return {
        "workflow": "workflow rules, schemas, environments and templates",
        "scripts": "rule script",
        "src": "analysis package source",
        "config": "config file",
    }.get(top, "workflow file")


def readme(
    config: Mapping[str, Any],
    files: Mapping[str, str],
    *,
    deidentified: bool,
    record_run_times: bool,
    scan: privacy.IdScan,
    synthetic_ids: tuple[str, str],
    codes: Sequence[str],
) -> str:
    """The reviewers' README of the package.

    ``synthetic_ids`` are the first synthetic therapist and patient ids, ``codes`` the
    first pseudonymous therapist codes: the README gives examples that exist, never a
    pattern such as T01 that could be a study id.
    """
    code_example = ", ".join([*codes[:2], "…"])
    study = config["study"]
    simulated = config["data"]["source"] == "simulate"
    lines = [
        f"# {study['title']}: supplementary material",
        "",
        "This package lets a reviewer see and re-run the analysis: the report, every results "
        "table and figure, the workflow exactly as run, a data dictionary, provenance and a "
        "**synthetic** replica of the data. It contains no record of a patient or "
        "therapist and no original patient or therapist id.",
        "",
        "## Re-run the whole workflow on the synthetic data",
        "",
        f"Python 3.11 or later (the results were made with {platform.python_version()}) "
        "and pip; from this folder:",
        "",
        "```bash",
        "pip install -e .",
        "snakemake --cores all",
        "```",
        "",
        "This runs every step (cleaning, descriptives, the aim 1–3 models, tables, figures, "
        "report, and this package again) on the synthetic tables in `data/` and writes "
        "everything to `results/`. The synthetic data are not the study's data: their "
        "results show that the workflow runs, not what the study found. For the exact "
        "package versions that produced the results, run "
        "`pip install -r requirements.lock && pip install --no-deps -e .` instead of the "
        "first command.",
        "",
        "## Reproduce the results from the data",
        "",
    ]
    if simulated:
        lines += [
            "The results come from the workflow's built-in simulated study "
            "(`data.source: simulate`), which `config/config_used.yaml` regenerates from its "
            "seed. So these two commands reproduce every result in this package:",
            "",
            "```bash",
            "pip install -r requirements.lock && pip install --no-deps -e .",
            "snakemake --cores all --configfile config/config_used.yaml",
            "```",
            "",
            "and `results/tables/`, `results/figures/` and `results/report/` then match "
            "`tables/`, `figures/` and `report/` here byte for byte (compare with "
            "`SHA256SUMS`), except that Word documents carry the time they were written, "
            "which the package sets to its date.",
        ]
    else:
        lines += [
            "The original data are not part of this package. With access to them, put the "
            "files at the paths that `data.files` in `config/config_used.yaml` names "
            "(`provenance.json` gives the SHA-256 of each, to check they are the same files) "
            "and run:",
            "",
            "```bash",
            "pip install -r requirements.lock && pip install --no-deps -e .",
            "snakemake --cores all --configfile config/config_used.yaml",
            "```",
        ]
    lines += [""]
    if deidentified:
        lines += [
            "## De-identified data (shared by the authors' explicit opt-in)",
            "",
            "`data/deidentified_*.csv` hold the original input records (only the columns "
            "the analysis uses), with every patient and therapist id replaced by a salted "
            "hash (HMAC-SHA-256, 16 hex digits; the salt is secret and not included). "
            "Run the workflow on them with:",
            "",
            "```bash",
            "pip install -r requirements.lock && pip install --no-deps -e .",
            "snakemake --cores all --configfile config/config_deidentified.yaml",
            "```",
            "",
            "This gives the study's results; only the pseudonymous therapist codes "
            f"({code_example}, in sorted order of the ids) are assigned in a different "
            "order.",
            "",
        ]
    lines += [
        "## The synthetic data",
        "",
        "`data/synthetic_*.csv` are a SYNTHETIC replica of the input tables: the same "
        "tables and columns, the same numbers of therapists, patients and session rows, "
        f"new ids (`{synthetic_ids[0]}`, … for therapists, `{synthetic_ids[1]}`, … for "
        "patients). They "
        "are drawn from aggregates only "
        "(`data/synthetic_parameters.json`): the fitted aim 1 joint model (fixed effects, "
        "therapist intercept and residual variances), the aim 2 therapist slope SDs, the "
        "descriptive statistics and ICCs, the distribution of sessions per patient and "
        "the share of missing values of each column. Aim 3 moderation is not built in. "
        "Columns the analysis does not use are drawn from their mean and SD, or as "
        "neutral category labels. `config/config.yaml` points the workflow at these files.",
        "",
        "## Files",
        "",
        "| file | what it is |",
        "| --- | --- |",
    ]
    workflow_rows = 0
    for rel, description in files.items():
        if PurePosixPath(rel).parts[0] in {"workflow", "scripts", "src"}:
            workflow_rows += 1
            continue
        lines.append(f"| `{rel}` | {description} |")
    lines += [
        f"| `workflow/`, `scripts/`, `src/` | the workflow as run: rules, schemas, "
        f"environments, templates, rule scripts and the analysis package ({workflow_rows} "
        "files; each is listed in `ro-crate-metadata.json` and `SHA256SUMS`) |",
        "",
        "## Privacy",
        "",
        "Not included: the input tables, the cleaned data and exclusion log "
        "(`results/data/`), the mapping of therapist codes to ids (`results/private/`) "
        f"and the logs. Therapists appear only under pseudonymous codes ({code_example}); "
        "patients not at all. Before the package is written, every file derived from "
        "the data (tables, figures, report, synthetic data, data dictionary, configs and "
        "metadata, including the text inside DOCX, PDF and PNG files) is scanned for "
        "every patient and therapist id of the input data, and the run stops if one is "
        "found. The workflow's source files are copied unchanged from the workflow and "
        "hold no data.",
    ]
    for group, how in (
        (scan.exact, "also a word of the workflow's own text in another spelling, so it "
         "was scanned for with its exact spelling"),
        (scan.short, "too short to tell apart from numbers (a short id without a letter), "
         "so it was scanned for only as a whole table cell if written with a leading zero"),
        (scan.words, "spelled exactly like a word of the workflow's own text, so it was "
         "scanned for only as a whole table cell"),
    ):  # fmt: skip
        if group:
            lines.append(f"{len(group)} {'id is' if len(group) == 1 else 'ids are'} {how}.")
    lines += [
        "",
        "## Reproducible bytes",
        "",
        "With the same inputs, config, workflow and package versions, `supplement.zip` is "
        "byte-identical across runs: its members are sorted, every member has the time "
        "1980-01-01 00:00 and permissions 0644, and compression is fixed. "
        "`provenance.json` is inside that guarantee because it is deterministic: it holds "
        "no wall-clock time ("
        + (
            "here it does: `supplement.record_run_times` was set, so this archive will "
            "differ from another run's in `provenance.json`"
            if record_run_times
            else "`run.start_time` and `run.end_time` are null; set "
            "`supplement.record_run_times: true` to record them, at the cost of that "
            "guarantee"
        )
        + ").",
        "",
        "## Verify",
        "",
        "```bash",
        "sha256sum -c SHA256SUMS",
        "```",
        "",
    ]
    return "\n".join(lines)
