"""Shared fixtures: paths of the reference study and a default config."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from process_outcome.config import validate_config

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"


def _find_reference() -> Path:
    # shared/ lies beside the checkout, both on developers' machines and in CI.
    for base in (ROOT.parent, ROOT.parent.parent, ROOT):
        cand = base / "shared" / "reference" / "study42"
        if cand.is_dir():
            return cand
    pytest.skip("shared/reference/study42 not found beside the checkout")
    raise AssertionError  # unreachable


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    return _find_reference()


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
