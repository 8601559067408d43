"""The provenance appendix and the provenance it reports: input hashes, git state,
the report's date, software versions and the config as run.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from process_outcome.document import (
    Block,
    Code,
    Heading,
    Paragraph,
    Row,
    Section,
    Table,
    code,
    rich,
)
from process_outcome.files import sha256_file
from process_outcome.manuscript.inputs import Design, InputFile, Provenance
from process_outcome.provenance import KEY_PACKAGES, git_state, package_versions, shared_path

__all__ = [
    "appendix_section",
    "collect_provenance",
    "plain_mapping",
    "run_date",
    "software_versions",
]


def appendix_section(design: Design, provenance: Provenance, with_config: bool = True) -> Section:
    """Provenance: input hashes, workflow commit, date, seeds, software, and the config
    as run (``with_config``; otherwise the text points to the supplement's copy)."""
    rows = tuple(
        Row((code(f.path), rich(f"{f.size:,}"), code(f.sha256))) for f in provenance.inputs
    )
    inputs = Table(
        "provenance_inputs",
        None,
        "Input Files",
        (rich("File"), rich("Bytes"), rich("SHA-256")),
        rows,
        align="lrl",
    )
    if provenance.commit is None:
        git = rich("The workflow was not under git, so no commit is recorded.")
    else:
        state = (
            "with uncommitted changes to tracked files"
            if provenance.dirty
            else "with no uncommitted changes"
        )
        git = rich("Workflow: git commit ", code(provenance.commit), f", {state}.")
    date = rich(f"Date: {provenance.date:%Y-%m-%d} ({provenance.date_source}).")
    if design.simulated:
        seed = rich(
            "Seed: ",
            code(f"simulate.seed = {design.config['simulate']['seed']}"),
            ", used to simulate the data; the analysis itself draws no random numbers.",
        )
    else:
        seed = rich("Seeds: none; the analysis draws no random numbers.")
    software = Table(
        "provenance_software",
        None,
        "Software",
        (rich("Package"), rich("Version")),
        tuple(Row((rich(n), rich(v))) for n, v in provenance.software),
        align="ll",
    )
    blocks: list[Block] = [
        Paragraph(git, "plain"),
        Paragraph(date, "plain"),
        Paragraph(seed, "plain"),
        inputs,
        software,
    ]
    if with_config:
        blocks += [
            Heading(rich("Configuration as Run"), 2),
            Paragraph(rich("Every config key, defaults filled in:"), "plain"),
            Code(provenance.config_yaml),
        ]
    else:
        blocks.append(
            Paragraph(
                rich(
                    "The configuration as run, every key with its default filled in, is "
                    "part of the supplementary material (config/config_used.yaml)."
                ),
                "plain",
            )
        )
    return Section("appendix", "Appendix: Provenance", tuple(blocks))


def software_versions() -> tuple[tuple[str, str], ...]:
    """Python and the versions of the packages the analysis and report use."""
    versions = package_versions(KEY_PACKAGES)
    packages = [(name, version or "not installed") for name, version in versions.items()]
    return (("Python", sys.version.split()[0]), *packages)


def run_date(
    simulated: bool,
    data_files: Sequence[str | Path],
    commit_time: int | None,
    released: str | None = None,
    workflow_files: Sequence[str | Path] = (),
) -> tuple[datetime, str]:
    """The report's date and what it is, never the wall clock.

    ``SOURCE_DATE_EPOCH`` (the reproducible-builds convention) wins, then the config's
    ``study.date_released``. Otherwise own data are dated by the newest modification
    time of the data files; simulated data, which the config and code fully determine,
    by the workflow's commit time, and outside git by the newest modification time of
    the workflow's own files (an unpacked release keeps them). The simulated data files
    are never used: they are written anew by every run.
    """
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.isdigit():
        return datetime.fromtimestamp(int(epoch), UTC), "SOURCE_DATE_EPOCH"
    if released:
        day = datetime.strptime(str(released), "%Y-%m-%d").replace(tzinfo=UTC)
        return day, "study.date_released in the config"
    if simulated and commit_time is not None:
        return datetime.fromtimestamp(commit_time, UTC), "time of the workflow's git commit"
    if simulated and workflow_files:
        newest = max(Path(p).stat().st_mtime for p in workflow_files)
        return (
            datetime.fromtimestamp(int(newest), UTC),
            "newest modification time of the workflow's files",
        )
    newest = max(Path(p).stat().st_mtime for p in data_files)
    return (
        datetime.fromtimestamp(int(newest), UTC),
        "newest modification time of the input data files",
    )


def collect_provenance(
    config: Mapping[str, Any], data_files: Sequence[str], workflow_dir: str | Path
) -> Provenance:
    """Hashes of the input data, git state, date, software and the config as run."""
    state = git_state(workflow_dir)
    commit, dirty, when = state["commit"], state["dirty"], state["commit_epoch"]
    released = config["study"].get("date_released")
    own_files = [
        p
        for p in (Path(workflow_dir) / "Snakefile", *(Path(workflow_dir) / "workflow").rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    ]
    simulated = config["data"]["source"] == "simulate"
    date, source = run_date(simulated, data_files, when, released, own_files)
    # Named as every shared file names them: relative to the run, or by file name alone
    # (no machine path reaches the manuscript).
    inputs = tuple(
        InputFile(shared_path(p), Path(p).stat().st_size, sha256_file(p)) for p in data_files
    )
    return Provenance(
        inputs=inputs,
        commit=commit,
        dirty=dirty,
        date=date,
        date_source=source,
        software=software_versions(),
        config_yaml=yaml.safe_dump(plain_mapping(config), sort_keys=False, allow_unicode=True),
    )


def plain_mapping(obj: Any) -> Any:
    # Snakemake's config holds its own mapping types; YAML needs plain dicts and lists.
    """The config as plain dicts and lists, for YAML."""
    if isinstance(obj, Mapping):
        return {str(k): plain_mapping(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain_mapping(v) for v in obj]
    return obj
