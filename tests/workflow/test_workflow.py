"""End-to-end runs of the Snakemake workflow."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from process_outcome.outputs import OUTPUTS
from tests.conftest import STUDY42_CONFIG, run_snakemake, write_yaml

pytestmark = pytest.mark.e2e

FIXED = "outcome process term estimate se df t p ci_low ci_high singular model df_method"
CONTRACT = {
    "results/tables/aim1_fixed_effects.csv": FIXED.split(),
    "results/tables/aim2_fixed_effects.csv": FIXED.split(),
    "results/tables/aim2_slope_tests.csv": (
        "outcome process slope_sd slope_low slope_high lr p_mixture share_beneficial singular "
        "n_patients n_therapists slope_sd_ci_low slope_sd_ci_high share_implied "
        "n_eb_therapists n_eb_beneficial"
    ).split(),
    "results/tables/aim2_therapist_slopes.csv": (
        "outcome process therapist slope se n_patients"
    ).split(),
    "results/tables/aim3_moderation.csv": (
        "outcome process moderator estimate se df t p p_fdr ci_low ci_high singular df_method"
    ).split(),
}


def test_outputs_follow_the_public_contract(workflow_run: Path):
    for path, columns in CONTRACT.items():
        assert list(pd.read_csv(workflow_run / path).columns) == columns, path
    aim1 = pd.read_csv(workflow_run / "results/tables/aim1_fixed_effects.csv")
    assert set(aim1["process"]) == {"alliance", "expectation", "joint"}
    slopes = pd.read_csv(workflow_run / "results/tables/aim2_therapist_slopes.csv")
    assert slopes["therapist"].str.fullmatch(r"T\d{2}").all()
    flow = json.loads((workflow_run / "results/data/flow.json").read_text())
    assert flow["steps"][-1]["step"] == "5_sample"
    assert (workflow_run / "results/tables/truth_recovery.csv").stat().st_size > 0
    for model in (workflow_run / "results/models").rglob("*.json"):
        summary = json.loads(model.read_text())
        fits = summary.get("fits", {"": summary.get("fit")})
        for fit in fits.values():
            assert {"variance_components", "loglik", "optimizer", "converged", "singular"} <= set(
                fit
            )


def test_run_writes_exactly_the_registered_outputs(workflow_run: Path):
    # The run simulates its data, so the simulated-only outputs are written too.
    registered = {path for o in OUTPUTS for path in o.paths}
    written = {
        str(p.relative_to(workflow_run))
        for folder in ("tables", "figures", "report")
        for p in (workflow_run / "results" / folder).rglob("*")
        if p.is_file()
    }
    assert written == registered


def test_supplement_leaves_out_tables_without_rows(workflow_run: Path):
    # The default study scores no measure from items: its reliability table is empty.
    assert pd.read_csv(workflow_run / "results/tables/reliability.csv").empty
    supplement = workflow_run / "results/supplement"
    assert not (supplement / "tables/reliability.csv").exists()
    assert (supplement / "tables/robustness.csv").exists()
    assert "reliability.csv" not in (supplement / "README.md").read_text()


def test_therapist_ids_stay_private(workflow_run: Path):
    ids = pd.read_csv(workflow_run / "results/private/therapist_codes.csv")["therapist"]
    for path in [
        *(workflow_run / "results/tables").glob("*.csv"),
        *(workflow_run / "results/models").rglob("*.json"),
    ]:
        text = path.read_text()
        leaked = [i for i in ids if i in text]
        assert not leaked, f"{path} contains therapist ids {leaked[:3]}"


def test_complete_run_leaves_nothing_to_do(workflow_run: Path):
    proc = run_snakemake(
        workflow_run, None, "-n", "--configfile", str(workflow_run / "config.yaml")
    )
    assert proc.returncode == 0, proc.stderr
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_robustness_table_has_one_column_per_variant(workflow_run: Path):
    config = yaml.safe_load((workflow_run / "config.yaml").read_text())
    labels = [v["label"] for v in config["robustness"]]
    md = (workflow_run / "results/report/manuscript.md").read_text()
    header = next(line for line in md.splitlines() if line.startswith("| Estimate | Main |"))
    assert [c.strip() for c in header.strip("|").split("|")] == ["Estimate", "Main", *labels]
    table = pd.read_csv(workflow_run / "results/tables/robustness.csv")
    assert list(dict.fromkeys(table["variant"])) == [
        "main",
        *(v["name"] for v in config["robustness"]),
    ]


def test_editing_one_variant_reruns_only_that_variant(workflow_run: Path, tmp_path: Path):
    # A copy, so the shared run is untouched; the edited config lives outside it.
    run = tmp_path / "run"
    shutil.copytree(workflow_run, run, symlinks=True)
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["robustness"][1]["process_sessions"] = [1, 2]
    edited = write_yaml(tmp_path / "edited.yaml", config)
    proc = run_snakemake(run, None, "-n", "--configfile", str(edited))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    jobs = dict(re.findall(r"^(\w+)\s+(\d+)$", out, flags=re.M))
    assert jobs.get("robustness_variant") == "1", out[-3000:]
    name = config["robustness"][1]["name"]
    assert f"results/robustness/{name}.csv" in out
    assert not {"aim1", "aim2", "aim3", "clean_data"} & set(jobs), jobs


def test_same_config_gives_same_bytes(workflow_run: Path, workflow_rerun: Path):
    files = [
        "results/data/patients.csv",
        "results/data/exclusions.csv",
        *[
            str(p.relative_to(workflow_run))
            for p in (workflow_run / "results/tables").glob("*.csv")
        ],
    ]
    for rel in files:
        assert (workflow_run / rel).read_bytes() == (workflow_rerun / rel).read_bytes(), rel


def _files_workdir(tmp_path: Path, reference_dir: Path) -> Path:
    work = tmp_path / "lab"
    work.mkdir()
    for name in ("sessions.csv", "therapists.csv"):
        shutil.copy(reference_dir / name, work / name)
    return work


def _assert_clean_failure(proc, work: Path, *fragments: str) -> None:
    assert proc.returncode != 0
    err = proc.stderr + proc.stdout
    for fragment in fragments:
        assert fragment in err, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    assert not (work / "results" / "data" / "patients.csv").exists()
    assert not (work / "results" / "data" / "exclusions.csv").exists()


def test_user_mistake_stops_with_message_and_no_outputs(tmp_path, reference_dir):
    work = _files_workdir(tmp_path, reference_dir)
    sessions = (work / "sessions.csv").read_text().splitlines()
    sessions[3] = sessions[3].replace(",T000,", ",T005,")
    (work / "sessions.csv").write_text("\n".join(sessions) + "\n")
    proc = run_snakemake(work, STUDY42_CONFIG, "results/data/patients.csv")
    _assert_clean_failure(proc, work, "more than one therapist", "patient P0001")


def test_config_typo_stops_before_running(tmp_path, reference_dir):
    work = _files_workdir(tmp_path, reference_dir)
    config = json.loads(json.dumps(STUDY42_CONFIG))
    config["measures"]["processes"]["alliance"]["colum"] = "alliance"
    proc = run_snakemake(work, config, "results/data/patients.csv")
    _assert_clean_failure(proc, work, "unknown config key 'colum'", "Did you mean 'column'?")
