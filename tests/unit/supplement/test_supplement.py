"""The journal supplementary-material package (``results/supplement.zip``).

The end-to-end tests reuse the session's two workflow runs (``workflow_run`` and
``workflow_rerun``) and add one more: the packaged workflow on its synthetic data.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import string
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import pandas as pd
import pytest
import yaml

from process_outcome.config import validate_config
from process_outcome.data import pseudonyms
from process_outcome.errors import InputError
from process_outcome.supplement import archive, deidentified, metadata, privacy, synthetic
from process_outcome.supplement.build import build
from tests.conftest import ROOT, SCHEMA

CFF_SCHEMA = ROOT / "workflow" / "schemas" / "citation-cff-1.2.0.json"
TABLES = ("sessions", "therapists", "patients")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def package_files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def original_ids(workdir: Path) -> set[str]:
    """Every patient and therapist id of the run's input tables."""
    ids: set[str] = set()
    for table in TABLES:
        df = pd.read_csv(workdir / f"results/data/simulated/{table}.csv", dtype=str)
        for col in ("patient_id", "therapist_id"):
            if col in df:
                ids.update(df[col].dropna())
    return ids


def leaked_ids(folder: Path, ids: set[str]) -> dict[str, list[str]]:
    # Independent of the package's own scan: every alphanumeric token of every file,
    # including the text inside DOCX members, PDF streams and PNG chunks.
    hits = {}
    for rel in package_files(folder):
        path = folder / rel
        text = path.read_bytes().decode("latin-1") + "\n" + privacy.file_text(path)
        tokens = set(re.findall(r"[A-Za-z0-9]+", text))
        found = sorted(ids & tokens)
        if found:
            hits[rel] = found
    return hits


def same_content(packaged: Path, result: Path) -> bool:
    # Zip-based documents (DOCX) are packaged with fixed time stamps; all else as is.
    if packaged.suffix not in archive.CONTAINER_SUFFIXES:
        return packaged.read_bytes() == result.read_bytes()
    with zipfile.ZipFile(packaged) as a, zipfile.ZipFile(result) as b:
        if a.namelist() != b.namelist():
            return False
        return all(
            a.read(name) == b.read(name) for name in a.namelist() if name != "docProps/core.xml"
        )


# --------------------------------------------------------------------------- unit tests


def test_zip_is_reproducible_and_fixed(tmp_path):
    folder = tmp_path / "pkg"
    (folder / "b").mkdir(parents=True)
    (folder / "b" / "x.txt").write_text("x")
    (folder / "a.txt").write_text("a")
    archive.write_zip(folder, tmp_path / "one.zip")
    (folder / "a.txt").touch()  # a new modification time must not matter
    archive.write_zip(folder, tmp_path / "two.zip")
    assert (tmp_path / "one.zip").read_bytes() == (tmp_path / "two.zip").read_bytes()
    with zipfile.ZipFile(tmp_path / "one.zip") as zf:
        infos = zf.infolist()
    assert [i.filename for i in infos] == ["supplement/a.txt", "supplement/b/x.txt"]
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {i.external_attr >> 16 for i in infos} == {0o100644}


def test_private_results_are_never_packaged():
    assert archive.result_path_in_package("results/tables/a.csv") == "tables/a.csv"
    for path in ("results/data/patients.csv", "results/private/codes.csv", "results/logs/x"):
        with pytest.raises(ValueError, match="never packaged"):
            archive.result_path_in_package(path)
    with pytest.raises(ValueError):
        archive.result_path_in_package("data/sessions.csv")


def test_id_scan_matches_whole_tokens_only():
    text = 'patient "PT0001", therapist th002; PT00012 and XPT0003 are other tokens'
    ids = ["PT0001", "TH002", "PT0003", "PT0001-b"]
    assert privacy.find_ids_in_text(text, ids) == ["PT0001", "TH002"]
    assert privacy.find_ids_in_text("id PT0001-b here", ids) == ["PT0001", "PT0001-b"]
    assert privacy.scannable_ids(["7", "0012", "A1", "AB1", "123456", "------"]) == (
        ["AB1", "123456"],
        4,
    )


# Id schemes of real studies; each rules out the default prefix of codes or synthetic
# ids, or not, as the second column says.
ID_SCHEMES = {
    "T01": ([f"T{i:02d}" for i in range(1, 31)], "TH", "SYN"),
    "T000": ([f"T{i:03d}" for i in range(0, 30)], "TH", "SYN"),
    "P0001": ([f"P{i:04d}" for i in range(1, 300)], "T", "SYN"),
    "t01 lower case": ([f"t{i:02d}" for i in range(1, 5)], "TH", "SYN"),
    "TH001 and T01": (["TH001", "T01", "th7"], "TA", "SYN"),
    "first names": (["Max", "May", "Will", "Anna"], "T", "SYN"),
    "leading zeros": (["007", "012", "0001"], "T", "SYN"),
    "replica": (["SYNT01", "SYNP0001"], "T", "SYN2"),
    "replica of a replica": (["SYN", "SYN2T01", "SYN3-P0001"], "T", "SYN4"),
    "hyphens": (["P-T01", "SYN-T01"], "TH", "SYN2"),
}


@pytest.mark.parametrize("scheme", ID_SCHEMES)
def test_codes_and_synthetic_ids_never_collide_with_study_ids(scheme):
    ids, code_prefix, synthetic_prefix = ID_SCHEMES[scheme]
    codes = pseudonyms.pseudonymous_codes(ids[:12], avoid=ids)["code"].tolist()
    assert codes[0] == f"{code_prefix}01"
    syn = synthetic.synthetic_ids(pseudonyms.synthetic_prefix(ids), "T", 40, 2)
    syn += synthetic.synthetic_ids(pseudonyms.synthetic_prefix(ids), "P", 400, 4)
    assert syn[0] == f"{synthetic_prefix}T01"
    text = "\n".join(codes + syn + [pseudonyms.synthetic_prefix(ids)])
    # No study id is a word of a code, a synthetic id or the synthetic prefix.
    assert privacy.find_ids_in_text(text, ids) == []


def test_prefix_search_is_bounded_by_pigeonhole():
    # Every candidate a word can rule out is ruled out: the search still ends, on the
    # (n + 1)-th candidate, after looking at no more.
    letters = [a + b for a in ["", *string.ascii_uppercase] for b in string.ascii_uppercase]
    ids = ["T1", "TH1", *(f"T{x}1" for x in letters)]
    prefix = pseudonyms.code_prefix(ids)
    assert privacy.find_ids_in_text(f"{prefix}01 {prefix}99", ids) == []
    looked = []

    def candidates():
        for k in range(10**9):
            looked.append(k)
            yield f"X{k}"

    blocked = [f"x{k}9" for k in range(50)]
    assert pseudonyms.free_prefix(blocked, candidates(), re.compile(r"(x[0-9]+?)9")) == "X50"
    assert len(looked) == 51


def test_ordinary_word_ids_are_scanned_by_spelling():
    vocabulary = "x = max(a, b)  # may\nprint('Mean of the Max')"
    plan = privacy.plan_scan(["Max", "max", "May", "T01", "007", "7"], vocabulary)
    assert plan.anycase == ["T01"]
    assert plan.exact == ["May"]  # "may" is the workflow's, "May" would be an id
    assert plan.words == ["Max", "max"]
    assert plan.cells == ["Max", "max", "007"]  # 7 is a number, 007 is not
    assert privacy.scan_text("may MAY t01", plan) == ["T01"]
    assert privacy.scan_text("May", plan) == ["May"]


def test_ids_are_found_as_table_cells_and_inside_documents(tmp_path):
    plan = privacy.plan_scan(["Max", "007", "Will"], "Max")
    (tmp_path / "t.csv").write_text("code,slope\nT01,0.007\n007,1\nMax,2\n")
    assert privacy.find_ids_in_file(tmp_path / "t.csv", plan) == ["007", "Max"]
    (tmp_path / "r.md").write_text("| Min | Max |\n")
    assert privacy.find_ids_in_file(tmp_path / "r.md", plan) == []
    with zipfile.ZipFile(tmp_path / "d.docx", "w") as zf:
        zf.writestr("word/document.xml", "<w:t>Will</w:t>")
    assert privacy.find_ids_in_file(tmp_path / "d.docx", plan) == ["Will"]
    # A figure's text, which matplotlib writes kerned into pieces ("W" "ill").
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.set_title("Will, 007")
    fig.savefig(tmp_path / "f.pdf")
    plt.close(fig)
    assert privacy.find_ids_in_file(tmp_path / "f.pdf", plan) == ["Will"]


def test_config_holding_an_id_is_refused_before_the_analysis():
    tables = {"therapists": pd.DataFrame({"therapist_id": ["Zed", "T01", "May"]})}
    config = {
        "data": {"columns": {"patient": "patient_id", "therapist": "therapist_id"}},
        "study": {"description": "We may find that T01 differs.", "title": "May study"},
    }
    with pytest.raises(InputError) as err:
        privacy.privacy_precheck(config, tables, "may")
    message = str(err.value)
    assert "study.description: therapist id (therapists table, row 3)" in message
    assert "study.title: therapist id (therapists table, row 4)" in message
    assert "T01" not in message and "May" not in message
    # Category labels the supplement would keep are checked too.
    config["study"] = {"description": "we may"}
    config["supplement"] = {"keep_labels": ["supervisor"]}
    tables["therapists"]["supervisor"] = ["T01", "x", None]
    with pytest.raises(InputError, match="therapists table, column supervisor: therapist id"):
        privacy.privacy_precheck(config, tables, "may")
    config["supplement"] = {"keep_labels": []}
    warnings = privacy.privacy_precheck(config, tables, "may")
    assert len(warnings) == 1 and "row 4" in warnings[0] and "May" not in warnings[0]


def test_salted_ids_depend_on_the_salt():
    a = deidentified.salted_id("PT0001", "s" * 16, "patient")
    assert re.fullmatch(r"P-[0-9a-f]{16}", a)
    assert a == deidentified.salted_id("PT0001", "s" * 16, "patient")
    assert a != deidentified.salted_id("PT0001", "t" * 16, "patient")
    assert deidentified.salted_id("PT0001", "s" * 16, "therapist").startswith("T-")


def test_citation_without_authors_is_valid_and_anonymous():
    config = validate_config({"measures": _minimal_measures()}, SCHEMA)
    cff = metadata.citation_cff(config)
    metadata.validate_cff(cff, CFF_SCHEMA)
    assert cff["authors"] == [{"name": "Anonymous (blinded for peer review)"}]
    config["supplement"]["license"] = "CC BY"
    with pytest.raises(InputError, match="SPDX"):
        metadata.validate_cff(metadata.citation_cff(config), CFF_SCHEMA)


def _minimal_measures() -> dict:
    return {
        "outcomes": {"symptoms": {"column": "symptoms", "higher_is": "worse"}},
        "processes": {"alliance": {"column": "alliance"}},
    }


# --------------------------------------------------------------------------- the package


@pytest.fixture(scope="module")
def unpacked(workflow_run: Path, tmp_path_factory) -> Path:
    """The supplement of the session's workflow run, unzipped."""
    out = tmp_path_factory.mktemp("supplement_unpacked")
    with zipfile.ZipFile(workflow_run / "results" / "supplement.zip") as zf:
        zf.extractall(out)
    return out / "supplement"


@pytest.mark.e2e
def test_every_checksum_verifies(unpacked: Path, workflow_run: Path):
    listed = {}
    for line in (unpacked / "SHA256SUMS").read_text().splitlines():
        digest, rel = line.split("  ", 1)
        listed[rel] = digest
    assert set(listed) == set(package_files(unpacked)) - {"SHA256SUMS"}
    for rel, digest in listed.items():
        assert sha256(unpacked / rel) == digest, rel
    # The unpacked results/supplement/ is the zip's content (plus the time stamp that
    # Snakemake leaves in every directory output).
    folder = workflow_run / "results" / "supplement"
    written = [f for f in package_files(folder) if f != ".snakemake_timestamp"]
    assert written == package_files(unpacked)
    for rel in written:
        assert (folder / rel).read_bytes() == (unpacked / rel).read_bytes(), rel


@pytest.mark.e2e
def test_package_holds_results_workflow_and_metadata(unpacked: Path, workflow_run: Path):
    files = set(package_files(unpacked))
    for rel in (
        "README.md",
        "CITATION.cff",
        "ro-crate-metadata.json",
        "datapackage.json",
        "provenance.json",
        "requirements.lock",
        "Snakefile",
        "environment.yml",
        "pyproject.toml",
        "config/config.yaml",
        "config/config_used.yaml",
        "workflow/rules/supplement.smk",
        "scripts/supplement.py",
        "src/process_outcome/supplement/build.py",
        *[f"data/synthetic_{t}.csv" for t in TABLES],
    ):
        assert rel in files, rel
    results = workflow_run / "results"
    for kind in ("tables", "figures", "report"):
        for path in (results / kind).rglob("*"):
            # A table without rows is left out (tests/workflow/test_workflow.py).
            if path.is_file() and not (path.suffix == ".csv" and pd.read_csv(path).empty):
                rel = path.relative_to(results).as_posix()
                assert rel in files, rel
                assert same_content(unpacked / rel, path), rel
    assert not [f for f in files if f.startswith(("data/simulated", "private", "logs"))]
    assert not [f for f in files if "__pycache__" in f or ".egg-info" in f]

    lock = (unpacked / "requirements.lock").read_text().splitlines()
    pins = [line for line in lock if not line.startswith("#")]
    assert pins == sorted(pins) and all("==" in p for p in pins)
    assert any(p.startswith("snakemake==") for p in pins)

    prov = json.loads((unpacked / "provenance.json").read_text())
    for entry in prov["inputs"]:
        assert entry["sha256"] == sha256(workflow_run / entry["path"])
    assert {e["table"] for e in prov["inputs"]} == set(TABLES)
    used = yaml.safe_load((unpacked / "config" / "config_used.yaml").read_text())
    canonical = json.dumps(used, sort_keys=True, separators=(",", ":"))
    assert prov["config"]["sha256"] == hashlib.sha256(canonical.encode()).hexdigest()
    assert prov["workflow"]["git_commit"] is None or len(prov["workflow"]["git_commit"]) == 40
    assert isinstance(prov["workflow"]["git_dirty"], (bool, type(None)))
    assert prov["seeds"] == {"simulate": used["simulate"]["seed"], "synthetic_replica": 20220175}
    assert prov["software"]["packages"]["snakemake"]
    assert prov["run"]["start_time"] is None and prov["run"]["end_time"] is None

    readme = (unpacked / "README.md").read_text()
    assert "pip install -e .\nsnakemake --cores all\n" in readme
    assert "SYNTHETIC" in readme and "byte-identical" in readme


@pytest.mark.e2e
def test_citation_cff_is_valid(unpacked: Path):
    cff = yaml.safe_load((unpacked / "CITATION.cff").read_text())
    schema = json.loads(CFF_SCHEMA.read_text())
    jsonschema.Draft7Validator(schema).validate(cff)
    assert cff["cff-version"] == "1.2.0"
    assert cff["authors"][0]["family-names"] == "Example"


@pytest.mark.e2e
def test_ro_crate_declares_the_workflow_and_every_file(unpacked: Path):
    from rocrate.rocrate import ROCrate

    meta = json.loads((unpacked / "ro-crate-metadata.json").read_text())
    assert meta["@context"] == "https://w3id.org/ro/crate/1.1/context"
    graph = {e["@id"]: e for e in meta["@graph"]}
    descriptor = graph["ro-crate-metadata.json"]
    profiles = {c["@id"] for c in descriptor["conformsTo"]}
    assert "https://w3id.org/ro/crate/1.1" in profiles
    root = graph["./"]
    assert root["mainEntity"] == {"@id": "Snakefile"}
    for key in ("name", "description", "license", "datePublished", "author"):
        assert root.get(key), key
    assert graph[root["license"]["@id"]]["name"] == "CC-BY-4.0"
    assert graph[root["author"][0]["@id"]]["name"] == "Researcher Example"
    workflow = graph["Snakefile"]
    assert {"File", "SoftwareSourceCode", "ComputationalWorkflow"} <= set(workflow["@type"])
    language = graph[workflow["programmingLanguage"]["@id"]]
    assert language["name"] == "Snakemake"
    parts = {p["@id"] for p in root["hasPart"]}
    expected = set(package_files(unpacked)) - {"ro-crate-metadata.json"}
    assert parts == expected
    for rel in expected:
        types = graph[rel]["@type"]
        assert "File" in ([types] if isinstance(types, str) else types), rel
        assert graph[rel]["encodingFormat"], rel
    crate = ROCrate(unpacked)
    assert crate.mainEntity.id == "Snakefile"


@pytest.mark.e2e
def test_data_dictionary_is_valid_and_has_no_values(unpacked: Path, workflow_run: Path):
    import frictionless

    report = frictionless.validate(unpacked / "datapackage.json")
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])[:10]
    package = json.loads((unpacked / "datapackage.json").read_text())
    resources = {r["name"]: r for r in package["resources"]}
    for table in TABLES:
        res = resources[f"synthetic_{table}"]
        assert res["synthetic"] is True and "SYNTHETIC" in res["description"]
        assert res["path"] == f"data/synthetic_{table}.csv"
        original = pd.read_csv(workflow_run / f"results/data/simulated/{table}.csv")
        fields = {f["name"]: f for f in res["schema"]["fields"]}
        assert list(fields) == list(original.columns)
        for name, field in fields.items():
            assert {"type", "role", "title", "label", "n_missing"} <= set(field), name
            assert field["n_missing"] == int(original[name].isna().sum()), name
    assert resources["synthetic_sessions"]["schema"]["fields"][6]["range"] == [1, 5]
    derived = resources["analysis_patients"]
    analysis = pd.read_csv(workflow_run / "results/data/patients.csv")
    assert derived["data"] == [list(analysis.columns)]  # the header, not one value
    for field in derived["schema"]["fields"]:
        assert field["n_missing"] == int(analysis[field["name"]].isna().sum())
        assert field["role"] != "other", field["name"]


@pytest.mark.e2e
def test_synthetic_replica_has_the_shape_of_the_input(unpacked: Path, workflow_run: Path):
    for table in TABLES:
        original = pd.read_csv(workflow_run / f"results/data/simulated/{table}.csv", dtype=str)
        synthetic = pd.read_csv(unpacked / f"data/synthetic_{table}.csv", dtype=str)
        assert list(synthetic.columns) == list(original.columns), table
        # One row per session (the input's exact duplicate rows are not sessions).
        key = ["patient_id", "session"] if table == "sessions" else synthetic.columns[:1]
        assert len(synthetic) == len(original.drop_duplicates(list(key))), table
        for col in ("patient_id", "therapist_id"):
            if col in original:
                assert synthetic[col].nunique() == original[col].nunique(), (table, col)
                assert synthetic[col].str.fullmatch(r"SYN[TP][0-9]+").all(), (table, col)
    used = yaml.safe_load((unpacked / "config/config.yaml").read_text())
    assert used["data"]["source"] == "files"
    assert used["data"]["files"]["sessions"] == "data/synthetic_sessions.csv"
    assert "SYNTHETIC" in used["study"]["description"]


@pytest.mark.e2e
def test_no_input_id_appears_in_the_package(unpacked: Path, workflow_run: Path):
    ids = original_ids(workflow_run)
    assert len(ids) == 120  # 100 patients and 20 therapists
    assert leaked_ids(unpacked, ids) == {}


@pytest.mark.e2e
def test_two_runs_give_the_same_zip(workflow_run: Path, workflow_rerun: Path):
    a = workflow_run / "results" / "supplement.zip"
    b = workflow_rerun / "results" / "supplement.zip"
    assert sha256(a) == sha256(b)


@pytest.mark.e2e
def test_packaged_workflow_runs_on_its_synthetic_data(unpacked: Path, tmp_path):
    package = tmp_path / "supplement"
    shutil.copytree(unpacked, package)
    # The package's own Snakefile and default config, as its README says; the analysis
    # package is already installed in the test environment.
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "2"],
        cwd=package,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-5000:]
    results = package / "results"
    aim1 = pd.read_csv(results / "tables" / "aim1_fixed_effects.csv")
    assert set(aim1["process"]) == {"alliance", "expectation", "joint"}
    assert not (results / "tables" / "truth_recovery.csv").exists()
    assert (results / "supplement.zip").is_file()
    nested = pd.read_csv(results / "supplement" / "data" / "synthetic_sessions.csv")
    assert nested["patient_id"].str.fullmatch(r"SYN2P[0-9]{4}").all()


# --------------------------------------------------------------------------- build options


def _build(workdir: Path, out: Path, config: dict) -> None:
    results = workdir / "results"
    build(
        config,
        inputs={t: str(results / f"data/simulated/{t}.csv") for t in TABLES},
        report=[],
        tables=["results/tables/descriptives.csv"],
        figures=[],
        descriptives=str(results / "tables/descriptives.csv"),
        analysis=str(results / "data/patients.csv"),
        aim1_joint=sorted(map(str, results.glob("models/aim1/*/joint.json"))),
        aim2=sorted(map(str, results.glob("models/aim2/*/*.json"))),
        basedir=str(ROOT),
        cff_schema=str(CFF_SCHEMA),
        out_dir=str(out / "supplement"),
        out_zip=str(out / "supplement.zip"),
    )


def _run_config(workdir: Path) -> dict:
    return validate_config(yaml.safe_load((workdir / "config.yaml").read_text()), SCHEMA)


@pytest.mark.e2e
def test_deidentified_data_are_an_explicit_opt_in(workflow_run, tmp_path, monkeypatch):
    monkeypatch.chdir(workflow_run)  # result paths are relative to the working directory
    config = _run_config(workflow_run)
    config["supplement"]["share_deidentified"] = True
    with pytest.raises(InputError, match="salt"):
        _build(workflow_run, tmp_path / "nosalt", config)
    salt = "Zq8saltX7k2pW9vYm4"
    config["supplement"]["salt"] = salt
    _build(workflow_run, tmp_path, config)
    package = tmp_path / "supplement"
    sessions = pd.read_csv(package / "data/deidentified_sessions.csv")
    original = pd.read_csv(workflow_run / "results/data/simulated/sessions.csv")
    assert len(sessions) == len(original)
    assert sessions["patient_id"].str.fullmatch(r"P-[0-9a-f]{16}").all()
    assert sessions["therapist_id"].str.fullmatch(r"T-[0-9a-f]{16}").all()
    assert "week" not in sessions  # only the columns the analysis uses
    assert leaked_ids(package, original_ids(workflow_run)) == {}
    assert not leaked_ids(package, {salt})
    assert "salted hash" in (package / "README.md").read_text()
    import frictionless

    report = frictionless.validate(package / "datapackage.json")
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])[:10]
    deid = yaml.safe_load((package / "config/config_deidentified.yaml").read_text())
    assert deid["data"]["files"]["sessions"] == "data/deidentified_sessions.csv"
    assert deid["supplement"]["salt"] is None


@pytest.mark.e2e
def test_a_leaked_id_stops_the_package(workflow_run, tmp_path, monkeypatch):
    work = tmp_path / "work"
    shutil.copytree(workflow_run / "results", work / "results")
    monkeypatch.chdir(work)
    leak = work / "results/tables/descriptives.csv"
    leak.write_text(leak.read_text() + "# excluded: PT0007\n")
    # A previous package stays as it was; no half-written one is left beside it.
    out = tmp_path / "out"
    (out / "supplement").mkdir(parents=True)
    (out / "supplement" / "README.md").write_text("previous")
    (out / "supplement.zip").write_bytes(b"previous")
    with pytest.raises(InputError) as err:
        _build(work, out, _run_config(workflow_run))
    message = str(err.value)
    assert "tables/descriptives.csv: patient id (patients table, row 8)" in message
    assert "PT0007" not in message  # the message may be shared: it names, not shows
    assert sorted(p.name for p in out.iterdir()) == ["supplement", "supplement.zip"]
    assert (out / "supplement.zip").read_bytes() == b"previous"
    assert [p.name for p in (out / "supplement").iterdir()] == ["README.md"]


def test_vocabulary_holds_the_manuscript_rules_and_templates():
    # A regression: after the package split the vocabulary missed every module outside
    # supplement/ and the checkout's workflow files, so a word of the manuscript's prose
    # that is also a study id stopped the supplement.
    paths = privacy.default_vocabulary_paths()
    assert {p.name for p in paths} == {"process_outcome", "Snakefile", "workflow"}
    assert all(p.exists() for p in paths)
    vocabulary = privacy.workflow_vocabulary(paths)
    # From manuscript/ prose, a rule file and a template.
    for word in ("empirical", "moderated", "unpack", "citeproc"):
        assert re.search(rf"\b{word}\b", vocabulary, re.IGNORECASE), word
