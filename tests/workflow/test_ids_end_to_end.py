"""End to end with the id schemes of real studies, run the way a user runs the workflow.

One study mixes them all: therapists ``T01…``, ``T000…``, first names that are ordinary
words (Max, May, Will) and numbers with leading zeros (``007``); patients ``P0001…``,
first names, numbers with leading zeros, ``TH01…`` (which also rules out the second
choice of code prefix) and ``SYNT01…`` (a synthetic replica's scheme). The workflow is
copied to a temporary folder, which is the working directory, and run with
``--configfile``. Nothing of the study's ids may reach the supplement or the report, and
no pseudonymous code may equal an id.
"""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import yaml

from process_outcome.data.simulate import simulate_study
from process_outcome.supplement import privacy
from tests.conftest import ROOT, run_snakemake, snakemake_command, user_checkout, write_yaml

pytestmark = pytest.mark.e2e

THERAPISTS = ["T01", "T02", "T03", "T000", "T001", "T002", "Max", "May", "Will"]
THERAPISTS += ["007", "012", "023"]
NAMES = ["Anna", "Ben", "Carla", "Dev", "Emma", "Finn", "Grace", "Hope", "Ines", "Jonas"]
NAMES += ["Kira", "Leo", "Mark", "Noah", "Rose"]
PATIENTS = [f"P{i:04d}" for i in range(1, 16)] + NAMES
PATIENTS += [f"{i:04d}" for i in range(7, 22)]
PATIENTS += [f"TH{i:02d}" for i in range(1, 11)] + [f"SYNT{i:02d}" for i in range(1, 6)]
IDS = set(THERAPISTS) | set(PATIENTS)
# Ids that are ordinary words, which the workflow writes in lower case (max, may, will),
# are looked for as spelled; every other id in any case. "Max" is also spelled so in
# Table 1's column header of the report: there it is the workflow's word.
FIRST_NAMES = {"Max", "May", "Will"}
REPORT = ("manuscript.md", "manuscript.html", "manuscript.docx", "tables/table1_descriptives.tex")
WORKFLOW_WORDS = {"Max": {f"report/{name}" for name in REPORT}}
NUMBERS = {v for v in IDS if v.isdigit()}


def write_study(folder: Path) -> dict[str, str]:
    """The simulator's study (12 therapists, 60 patients) with the ids renamed."""
    study = simulate_study(seed=91, n_therapists=12, n_patients=60, max_sessions=9, mess=True)
    t_ids = dict(zip(sorted(study.therapists["therapist_id"]), THERAPISTS, strict=True))
    p_ids = dict(zip(sorted(study.patients["patient_id"]), PATIENTS, strict=True))
    folder.mkdir()
    paths = {}
    for name in ("sessions", "therapists", "patients"):
        df = getattr(study, name).copy()
        if "therapist_id" in df:
            df["therapist_id"] = df["therapist_id"].map(t_ids)
        if "patient_id" in df:
            df["patient_id"] = df["patient_id"].map(p_ids)
        df.to_csv(folder / f"{name}.csv", index=False)
        paths[name] = f"{folder.name}/{name}.csv"
    return paths


@pytest.fixture(scope="module")
def id_run(tmp_path_factory) -> Path:
    work = user_checkout(tmp_path_factory.mktemp("ids") / "workflow")
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    config["data"] = {
        "source": "files",
        "files": write_study(work / "study_data"),
        "columns": config["data"]["columns"],
    }
    # One outcome, one process, two moderators: few model jobs, so the run is quick.
    measures = config["measures"]
    measures["outcomes"] = {"symptoms": measures["outcomes"]["symptoms"]}
    measures["processes"] = {"alliance": measures["processes"]["alliance"]}
    measures["moderators"] = {k: measures["moderators"][k] for k in ("self_alliance", "cbt")}
    del config["simulate"]
    write_yaml(work / "config.yaml", config)
    validation = subprocess.run(
        snakemake_command("config.yaml", "validate", cores=1),
        cwd=work,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert validation.returncode == 0, validation.stderr[-3000:]
    # Found by validate, before any analysis: ordinary-word ids, named by kind and row.
    assert "spelled exactly like a word of the workflow's own text" in validation.stdout
    proc = run_snakemake(work, config)
    assert proc.returncode == 0, proc.stderr[-5000:]
    # Warned before the analysis (ids are named by kind and row, never shown).
    log = (work / "results/logs/clean_data.log").read_text()
    assert "1 id is spelled exactly like a word of the workflow's own text" in log
    assert "therapist id (therapists table, row" in log
    return work


def files_of(folder: Path) -> dict[str, bytes]:
    # Paths relative to the folder's parent for results/report, to its root otherwise.
    base = folder.parent if folder.name == "report" else folder
    return {
        p.relative_to(base).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != ".snakemake_timestamp"
    }


def zip_members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {n.removeprefix("supplement/"): zf.read(n) for n in zf.namelist()}


def text_of(rel: str, data: bytes) -> str:
    # Text files as they are; documents and figures through their text parts only (the
    # compressed bytes of an image would spell short ids by chance).
    if rel.endswith((".docx", ".pdf", ".png")):
        return privacy.file_text(rel, data)
    return data.decode("utf-8")


def values_of(rel: str, text: str) -> set[str]:
    """Every table cell and JSON value, as text."""
    if rel.endswith(".csv"):
        return {c.strip() for row in csv.reader(io.StringIO(text)) for c in row}
    if rel.endswith(".json"):
        out: set[str] = set()

        def walk(obj):
            if isinstance(obj, dict):
                for v in obj.values():
                    walk(v)
            elif isinstance(obj, list):
                for v in obj:
                    walk(v)
            else:
                out.add(str(obj))

        walk(json.loads(text))
        return out
    return set()


def disclosed(rel: str, data: bytes) -> set[str]:
    """The study ids found in one file: words in any case (names: as spelled), and
    numbers as whole cells or values (inside text they are parts of other numbers)."""
    text = text_of(rel, data)
    words = set(re.findall(r"[A-Za-z0-9]+", text))
    lower = {w.lower() for w in words}
    found = {v for v in IDS - FIRST_NAMES - NUMBERS if v.lower() in lower}
    for v in FIRST_NAMES & words:
        # Where the workflow writes the word itself, once (Table 1's header), and no more.
        allowed = 1 if rel in WORKFLOW_WORDS.get(v, ()) else 0
        if len(re.findall(rf"(?<![A-Za-z0-9]){v}(?![A-Za-z0-9])", text)) > allowed:
            found.add(v)
    found |= NUMBERS & values_of(rel, text)
    return found


def test_codes_never_equal_an_id(id_run: Path):
    codes = pd.read_csv(id_run / "results/private/therapist_codes.csv", dtype=str)
    assert sorted(codes["therapist"]) == sorted(THERAPISTS)
    # T01… and TH01… are ids of this study, so the codes take the third prefix.
    assert codes["code"].tolist() == [f"TA{i:02d}" for i in range(1, 13)]
    assert not set(codes["code"].str.lower()) & {v.lower() for v in IDS}
    slopes = pd.read_csv(id_run / "results/tables/aim2_therapist_slopes.csv", dtype=str)
    assert set(slopes["therapist"]) <= set(codes["code"])


def test_no_id_in_the_supplement_or_the_report(id_run: Path):
    results = id_run / "results"
    folder = files_of(results / "supplement")
    assert folder == zip_members(results / "supplement.zip")
    source = {
        rel
        for rel in folder
        if rel.split("/")[0] in {"workflow", "scripts", "src", "profiles"}
        or rel in {"Snakefile", "pyproject.toml", "environment.yml", "config/README.md"}
    }
    assert "src/process_outcome/supplement/privacy.py" in source
    for rel in source:  # copied unchanged: nothing of the data can be in them
        assert folder[rel] == (id_run / rel).read_bytes(), rel
    leaks = {rel: disclosed(rel, data) for rel, data in folder.items() if rel not in source}
    leaks |= {f"results/{r}": disclosed(r, d) for r, d in files_of(results / "report").items()}
    assert {rel: sorted(found) for rel, found in leaks.items() if found} == {}
    # The checks above can fail: the therapists' ids are in the private mapping.
    private = (results / "private/therapist_codes.csv").read_bytes()
    assert disclosed("private/therapist_codes.csv", private) == set(THERAPISTS)


def test_synthetic_ids_avoid_the_study_ids(id_run: Path):
    package = id_run / "results/supplement"
    sessions = pd.read_csv(package / "data/synthetic_sessions.csv", dtype=str)
    # SYNT01… are patient ids of this study, so the replica takes the next prefix.
    assert sessions["therapist_id"].str.fullmatch(r"SYN2T[0-9]{2}").all()
    assert sessions["patient_id"].str.fullmatch(r"SYN2P[0-9]{4}").all()
    readme = (package / "README.md").read_text()
    assert "`SYN2T01`" in readme and "TA01, TA02" in readme
    # What the scan could not look for is said, in numbers.
    assert "1 id is spelled exactly like a word of the workflow's own text" in readme
    assert "18 ids are too short to tell apart from numbers" in readme
