"""Two caseload extremes run as a user runs them, to the supplement: 440 of 445
therapists with one patient, and 8 therapists of whom one has 80% of the patients.
Either stops in `snakemake validate` or runs to the end without a traceback (before, both
passed validate and then crashed in results_tables on a slope correlation of NaN).

The 8-therapist study also checks what may be shared: its data files lie outside the
working directory under absolute paths (no folder name may appear in any shared file),
its therapists have four-character ids T000-T007 (the supplement's privacy scan must
not stop on chance matches), and no per-therapist value of a therapist with one patient
may be shown (small-cell rule)."""

from __future__ import annotations

import re
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from process_outcome.data.simulate import simulate_study
from process_outcome.supplement import privacy
from tests.conftest import run_snakemake, small_config, snakemake_command, user_checkout, write_yaml

pytestmark = pytest.mark.e2e

SHARE = "Lab Share-Secret"  # folder names that must not be published
STUDY = "coyne_2026_raw"


def _extreme_study(
    share: Path, caseload: list[int], seed: int = 7, mess: bool = True
) -> dict[str, str]:
    """A simulated study whose patients are dealt to therapists by ``caseload``; the
    therapists get the ids T000, T001, …; returns table -> absolute path. Without the
    simulator's mess (dropouts) every patient stays in the sample, so the caseloads are
    exactly the ones asked for."""
    study = simulate_study(
        seed=seed, n_therapists=len(caseload), n_patients=sum(caseload), mess=mess
    )
    ids = {old: f"T{i:03d}" for i, old in enumerate(study.therapists["therapist_id"])}
    patients = sorted(study.patients["patient_id"])
    owner = dict(zip(patients, np.repeat(list(ids.values()), caseload), strict=True))
    tables = {
        "sessions": study.sessions.assign(therapist_id=study.sessions["patient_id"].map(owner)),
        "therapists": study.therapists.assign(
            therapist_id=study.therapists["therapist_id"].map(ids)
        ),
        "patients": study.patients,
    }
    share.mkdir(parents=True)
    paths = {}
    for name, df in tables.items():
        df.to_csv(share / f"{name}.csv", index=False)
        paths[name] = str((share / f"{name}.csv").resolve())
    return paths


def _config(files: dict[str, str]) -> dict:
    config = small_config()
    del config["simulate"]
    config["data"] = {"source": "files", "files": files, "columns": config["data"]["columns"]}
    return config


def _run(workdir: Path, config: dict) -> subprocess.CompletedProcess:
    user_checkout(workdir)
    write_yaml(workdir / "config.yaml", config)
    validate = subprocess.run(
        snakemake_command("config.yaml", "validate", cores=1),
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert "Traceback" not in validate.stdout + validate.stderr, validate.stderr[-3000:]
    assert validate.returncode == 0, validate.stderr[-3000:]
    return run_snakemake(workdir, config)


@pytest.fixture(scope="module")
def eight(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("eight")
    files = _extreme_study(root / SHARE / STUDY, [80, 3, 3, 3, 3, 3, 3, 1], mess=False)
    proc = _run(root / "work", _config(files))
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert proc.returncode == 0, proc.stderr[-3000:]
    return root / "work"


def test_440_of_445_therapists_with_one_patient_run_to_the_end(tmp_path: Path):
    files = _extreme_study(tmp_path / "share", [1] * 440 + [10] * 5)
    config = _config(files)
    # With every therapist in the random-slope models there are fewer patients than
    # random effects: validate stops, naming the setting that makes the models fit.
    config["analysis"] = {**config.get("analysis", {}), "min_caseload_slopes": 1}
    user_checkout(tmp_path / "first")
    write_yaml(tmp_path / "first" / "config.yaml", config)
    stop = subprocess.run(
        snakemake_command("config.yaml", "validate", cores=1),
        cwd=tmp_path / "first",
        capture_output=True,
        text=True,
        timeout=600,
    )
    said = stop.stdout + stop.stderr
    assert stop.returncode != 0 and "Traceback" not in said, said[-3000:]
    assert "Set analysis.min_caseload_slopes to 2" in said, said[-3000:]
    config["analysis"]["min_caseload_slopes"] = 2
    proc = _run(tmp_path / "work", config)
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = tmp_path / "work" / "results"
    correlations = pd.read_csv(results / "tables/aim2_slope_correlations.csv")
    # A correlation is either computed or reported as not computed, with the reason.
    assert (correlations["r"].notna() | correlations["not_computed"].notna()).all()
    slopes = pd.read_csv(results / "tables/aim2_therapist_slopes.csv")
    assert (slopes["n_patients"] >= 2).all() and len(slopes)
    assert (results / "supplement.zip").is_file()


def test_one_therapist_with_80_percent_of_the_patients_runs_to_the_end(eight: Path):
    correlations = pd.read_csv(eight / "results/tables/aim2_slope_correlations.csv")
    assert (correlations["r"].notna() | correlations["not_computed"].notna()).all()
    assert (eight / "results/supplement/README.md").is_file()


def _shared_texts(results: Path, raw: bool = True) -> dict[str, str]:
    """Every shared file as text (document members, PDF and PNG text included): the
    report, tables, figures and the supplement, folder and zip members; with ``raw``
    its bytes too."""
    texts = {}
    for folder in ("report", "tables", "figures", "supplement"):
        for path in sorted((results / folder).rglob("*")):
            if path.is_file():
                rel = path.relative_to(results).as_posix()
                data = path.read_bytes().decode("latin-1") if raw else ""
                texts[rel] = data + "\n" + privacy.file_text(path)
    with zipfile.ZipFile(results / "supplement.zip") as zf:
        for name in zf.namelist():
            data = zf.read(name)
            plain = data.decode("latin-1") if raw else ""
            texts[f"supplement.zip:{name}"] = f"{name}\n{plain}\n{privacy.file_text(name, data)}"
    return texts


def _machine_paths(eight: Path) -> dict[str, list[str]]:
    names = [SHARE, STUDY, str(eight.parent)]
    found = {}
    for rel, text in _shared_texts(eight / "results").items():
        hits = [n for n in names if n in text]
        if hits:
            found[rel] = hits
    return found


def _manuscript(rel: str) -> bool:
    return bool(re.search(r"(^|/|:)report/manuscript\.(html|md|docx)$", rel))


def test_no_machine_path_in_any_shared_file_but_the_manuscript(eight: Path):
    """provenance.json, config_used.yaml, the README, tables and figures name the data
    files by file name (with size and SHA-256) only."""
    leaks = {rel: hits for rel, hits in _machine_paths(eight).items() if not _manuscript(rel)}
    assert leaks == {}
    used = (eight / "results/supplement/config/config_used.yaml").read_text()
    assert "sessions: sessions.csv" in used


def test_no_machine_path_in_the_manuscript(eight: Path):
    assert {rel for rel in _machine_paths(eight) if _manuscript(rel)} == set()


def test_no_one_patient_therapist_value_is_shared(eight: Path):
    """T007 has one patient: no slope of it in any shared table, and Figure 2 says that
    it shows 7 of the 8 therapists."""
    sample = pd.read_csv(eight / "results/data/patients.csv", dtype=str)
    assert sample.groupby("therapist").size().to_dict()["T007"] == 1
    slopes = pd.read_csv(eight / "results/tables/aim2_therapist_slopes.csv")
    assert len(slopes) and (slopes["n_patients"] >= 2).all()
    codes = pd.read_csv(eight / "results/private/therapist_codes.csv", dtype=str)
    single = codes.loc[codes["therapist"] == "T007", "code"].item()
    for rel, text in _shared_texts(eight / "results", raw=False).items():
        assert not re.search(rf"(?<![A-Za-z0-9]){single}(?![A-Za-z0-9])", text), rel
    from pypdf import PdfReader

    figure = PdfReader(eight / "results/figures/figure2_aim2_caterpillar.pdf")
    shown = " ".join(page.extract_text() for page in figure.pages)
    assert "7 of 8 therapists" in " ".join(shown.split()), shown
