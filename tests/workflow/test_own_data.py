"""End to end on another lab's own data: one outcome, three processes (one scored from
items), two moderators and two covariates, unlike-default column names, from an SPSS
.sav and an Excel .xlsx file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from process_outcome.data.simulate import write_example_data
from tests.conftest import ROOT, run_snakemake

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def own_data_run(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("own_data")
    write_example_data(work / "example_data")
    config = yaml.safe_load((ROOT / "config/examples/own_data.yaml").read_text())
    proc = run_snakemake(work, config)
    assert proc.returncode == 0, proc.stderr[-5000:]
    return work


def test_models_follow_the_users_measures(own_data_run: Path):
    aim1 = pd.read_csv(own_data_run / "results/tables/aim1_fixed_effects.csv")
    assert set(aim1["outcome"]) == {"distress"}
    assert set(aim1["process"]) == {"alliance", "expectancy", "session_quality", "joint"}
    joint = aim1[aim1["process"] == "joint"]["term"].tolist()
    for p in ("alliance", "expectancy", "session_quality"):
        assert f"{p}_within" in joint and f"{p}_between" in joint
    assert {"arm[matched]", "age"} <= set(aim1["term"])
    mod = pd.read_csv(own_data_run / "results/tables/aim3_moderation.csv")
    assert set(mod["moderator"]) == {"alliance_skill", "cbt"}
    assert len(mod) == 3 * 2
    correlations = pd.read_csv(own_data_run / "results/tables/aim2_slope_correlations.csv")
    assert len(correlations) == 3  # every pair of the three processes
    assert not (own_data_run / "results/tables/truth_recovery.csv").exists()


def test_item_scored_measure_reports_reliability(own_data_run: Path):
    rel = pd.read_csv(own_data_run / "results/tables/reliability.csv")
    row = rel.set_index("measure").loc["alliance"]
    assert row["n_items"] == 4
    assert 0.7 < row["alpha"] < 1 and 0.7 < row["omega"] < 1


def test_report_names_the_users_measures(own_data_run: Path):
    html = (own_data_run / "results/report/manuscript.html").read_text()
    for label in ("Psychological distress (OQ-45)", "Working alliance (WAI-SR items)",
                  "Session quality (SRS)", "Self-rated alliance-fostering skill"):  # fmt: skip
        assert label in html


def test_validate_target_summarises_without_results(tmp_path):
    write_example_data(tmp_path / "example_data")
    config = yaml.safe_load((ROOT / "config/examples/own_data.yaml").read_text())
    proc = run_snakemake(tmp_path, config, "validate")
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    assert "Data and config are valid." in out
    assert "sessions.sav" in out and "Per therapist" in out and "Analysis sample:" in out
    assert not (tmp_path / "results" / "data").exists()
    shutil.rmtree(tmp_path / "example_data")
