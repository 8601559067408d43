"""Shared fixtures: paths of the reference study and a default config."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from process_outcome.config import validate_config

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


def run_snakemake(workdir: Path, config: dict | None = None, *args: str, cores: int = 2):
    """Run the workflow in ``workdir`` with ``config`` written there; returns the process."""
    import subprocess
    import sys

    workdir.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(workdir)]
    if config is not None:
        cmd += ["--configfile", str(write_yaml(workdir / "config.yaml", config))]
    cmd += ["--cores", str(cores), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=900)


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
