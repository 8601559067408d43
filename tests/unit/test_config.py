"""Config validation: defaults and friendly messages for mistakes."""

from __future__ import annotations

import pytest

from process_outcome.config import load_config, measures_of, validate_config
from process_outcome.errors import InputError
from tests.conftest import ROOT, SCHEMA


def test_default_config_is_valid_and_filled():
    config = load_config(ROOT / "config" / "config.yaml", SCHEMA)
    assert config["cleaning"] == {
        "out_of_range": "missing",
        "check_scales": True,
        "min_outcome_assessments": 2,
    }
    assert [m.key for m in measures_of(config, "outcome")] == ["symptoms", "functioning"]


def test_defaults_filled_for_minimal_config(raw_study42_config):
    config = validate_config(raw_study42_config, SCHEMA)
    assert config["simulate"]["seed"] == 20220175
    assert config["data"]["files"]["patients"] is None


def test_misspelled_key_names_key_and_suggestion(raw_study42_config):
    raw_study42_config["cleanig"] = {"out_of_range": "error"}
    with pytest.raises(InputError) as err:
        validate_config(raw_study42_config, SCHEMA)
    assert "unknown config key 'cleanig'" in str(err.value)
    assert "Did you mean 'cleaning'?" in str(err.value)


def test_nested_misspelled_key(raw_study42_config):
    raw_study42_config["measures"]["outcomes"]["symptoms"]["higher"] = "worse"
    with pytest.raises(InputError) as err:
        validate_config(raw_study42_config, SCHEMA)
    assert "unknown config key 'higher' under measures.outcomes.symptoms" in str(err.value)
    assert "Did you mean 'higher_is'?" in str(err.value)


def test_bad_enum_value(raw_study42_config):
    raw_study42_config["measures"]["outcomes"]["symptoms"]["higher_is"] = "lower"
    with pytest.raises(InputError, match="allowed values are worse, better"):
        validate_config(raw_study42_config, SCHEMA)


def test_files_source_requires_paths(raw_study42_config):
    del raw_study42_config["data"]["files"]
    with pytest.raises(InputError, match="data.files.sessions is not set"):
        validate_config(raw_study42_config, SCHEMA)


def test_reversed_range(raw_study42_config):
    raw_study42_config["measures"]["processes"]["alliance"]["range"] = [5, 1]
    with pytest.raises(InputError, match="minimum must be below the maximum"):
        validate_config(raw_study42_config, SCHEMA)


def test_duplicate_measure_key(raw_study42_config):
    raw_study42_config["measures"]["moderators"]["alliance"] = {"column": "x", "type": "binary"}
    with pytest.raises(InputError, match="used under measures.processes and measures.moderators"):
        validate_config(raw_study42_config, SCHEMA)
