"""Shared fixtures: paths of the reference study and a default config."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from process_outcome.config import validate_config
from process_outcome.provenance import WORKFLOW_PATHS

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"


# The reference study and its lme4/lmerTest results live in the repository, so a plain
# clone runs every comparison (see tests/data/README.md).
REFERENCE_DIR = ROOT / "tests" / "data" / "study42"


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    return REFERENCE_DIR


STUDY42_CONFIG = {
    "data": {
        "source": "files",
        "files": {"sessions": "sessions.csv", "therapists": "therapists.csv"},
        "columns": {"patient": "patient_id", "therapist": "therapist_id", "session": "session"},
    },
    "measures": {
        "outcomes": {
            "symptoms": {"column": "symptoms", "higher_is": "worse", "label": "Symptoms"},
            "functioning": {"column": "functioning", "higher_is": "worse", "label": "Functioning"},
        },
        "processes": {
            "alliance": {"column": "alliance", "range": [1, 5], "label": "Alliance"},
            "expectation": {"column": "expectation", "range": [1, 9], "label": "Expectation"},
        },
        "moderators": {
            "self_alliance": {"column": "self_alliance", "type": "continuous"},
            "self_expectation": {"column": "self_expectation", "type": "continuous"},
            "cbt": {"column": "cbt", "type": "binary"},
            "experience": {"column": "experience", "type": "continuous"},
        },
    },
}


@pytest.fixture
def study42_config() -> dict:
    """A validated config for the study42 fixture tables (defaults filled in)."""
    return validate_config(copy.deepcopy(STUDY42_CONFIG), SCHEMA)


@pytest.fixture
def raw_study42_config() -> dict:
    """The study42 config as a user would write it (not yet validated)."""
    return copy.deepcopy(STUDY42_CONFIG)


def write_yaml(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


# --------------------------------------------------------------------------- workflow runs

SMALL_SIMULATION = {"n_therapists": 20, "n_patients": 100}


def small_config(**simulate) -> dict:
    """The default config with a smaller simulated study, for quick end-to-end runs."""
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    config["simulate"].update(SMALL_SIMULATION | simulate)
    return config


def user_checkout(workdir: Path) -> Path:
    """Copy the workflow's files into ``workdir`` (once), as a clone of the repository:
    the files the supplement packages as "the workflow as run" (``WORKFLOW_PATHS``)."""
    import shutil

    workdir.mkdir(parents=True, exist_ok=True)
    for name in WORKFLOW_PATHS:
        src, dest = ROOT / name, workdir / name
        if dest.exists():
            continue
        if src.is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
            shutil.copytree(src, dest, ignore=ignore)
        else:
            shutil.copy2(src, dest)
    return workdir


def snakemake_command(config_file: str | None, *args: str, cores: int = 2) -> list[str]:
    """The README's command: ``snakemake --cores N [--configfile FILE] ...``."""
    import sys

    # --configfile takes several values, so it comes after the targets and flags.
    cmd = [sys.executable, "-m", "snakemake", "--cores", str(cores), *args]
    if config_file is not None:
        cmd += ["--configfile", config_file]
    return cmd


def run_snakemake(workdir: Path, config: dict | None = None, *args: str, cores: int = 2):
    """Run the workflow as a user does: from the root of a checkout in ``workdir``, with
    ``config`` (if given) written to ``workdir/config.yaml`` and passed by
    ``--configfile``. Returns the finished process."""
    import subprocess

    user_checkout(workdir)
    config_file = None
    if config is not None:
        config_file = write_yaml(workdir / "config.yaml", config).name
    cmd = snakemake_command(config_file, *args, cores=cores)
    return subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="session")
def workflow_run(tmp_path_factory) -> Path:
    """One complete run of the default workflow on a small simulated study.

    Shared by every end-to-end test of the session, because a run takes about a minute.
    """
    workdir = tmp_path_factory.mktemp("workflow_run")
    proc = run_snakemake(workdir, small_config())
    assert proc.returncode == 0, proc.stderr[-5000:]
    return workdir


@pytest.fixture(scope="session")
def workflow_rerun(tmp_path_factory) -> Path:
    """A second, independent run with the same config as :func:`workflow_run`, for
    byte-for-byte reproducibility checks."""
    workdir = tmp_path_factory.mktemp("workflow_rerun")
    proc = run_snakemake(workdir, small_config())
    assert proc.returncode == 0, proc.stderr[-5000:]
    return workdir
