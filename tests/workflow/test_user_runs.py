"""The README's commands as a user runs them, from the root of a checkout: a config given
by ``--configfile`` defines the analysis alone, an interrupted run is resumed by the same
command, and a data file that went missing stops the run instead of leaving the previous
results standing. Plus unit tests of :mod:`process_outcome.runstate`."""

from __future__ import annotations

import copy
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest
import yaml

from process_outcome.runstate import (
    LAST_GOOD,
    LOCK_DIR,
    METADATA_DIR,
    discard_last_good,
    keep_last_good,
    missing_data_files,
    record_path,
    release_stale_locks,
    restore_last_good,
    restored_message,
    snakemake_running_in,
    stale_locks,
)
from tests.conftest import (
    ROOT,
    STUDY42_CONFIG,
    run_snakemake,
    small_config,
    snakemake_command,
    user_checkout,
    write_yaml,
)

# ------------------------------------------------------------------------ runstate units


def test_locks_of_a_dead_run_are_stale_and_released(tmp_path: Path):
    locks = tmp_path / LOCK_DIR
    locks.mkdir(parents=True)
    for name in ("0.input.lock", "0.output.lock"):
        (locks / name).write_text("results/x.csv\n")
    assert [p.name for p in stale_locks(tmp_path)] == ["0.input.lock", "0.output.lock"]
    assert len(release_stale_locks(tmp_path)) == 2
    assert not list(locks.iterdir())


def test_locks_of_a_running_snakemake_are_kept(tmp_path: Path):
    # A process that looks like Snakemake to the process table, working in tmp_path.
    (tmp_path / "snakemake").write_text("import time\ntime.sleep(30)\n")
    proc = subprocess.Popen([sys.executable, "snakemake", "--cores", "1"], cwd=tmp_path)
    try:
        deadline = time.monotonic() + 10
        while not snakemake_running_in(tmp_path) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert snakemake_running_in(tmp_path)
        (tmp_path / LOCK_DIR).mkdir(parents=True)
        (tmp_path / LOCK_DIR / "0.input.lock").write_text("x\n")
        assert stale_locks(tmp_path) == []
    finally:
        proc.kill()
        proc.wait()


def test_missing_data_files_name_the_key_and_the_path(tmp_path: Path):
    (tmp_path / "sessions.csv").write_text("a\n1\n")
    config = {
        "data": {
            "source": "files",
            "files": {"sessions": "sessions.csv", "therapists": "gone.xlsx", "patients": None},
        }
    }
    [message] = missing_data_files(config, tmp_path)
    assert "data.files.therapists" in message and "'gone.xlsx'" in message
    assert str(tmp_path) in message
    assert missing_data_files({"data": {"source": "simulate"}}, tmp_path) == []


def _results(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
        record = record_path(root / METADATA_DIR, rel)
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(f'{{"params": "{text}"}}')


def _tree(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): p.read_text()
        for p in sorted(root.rglob("*"))
        if p.is_file() and LAST_GOOD.name not in p.parts
    }


def test_snakemake_names_its_records_as_record_path_does(tmp_path: Path):
    from snakemake.persistence.file import FilePersistence

    (tmp_path / METADATA_DIR).mkdir(parents=True)
    persistence = FilePersistence.__new__(FilePersistence)  # only the naming
    persistence._max_len = None
    for rel in ("results/a.csv", "results/" + "x" * 400 + ".csv"):
        subject = str(tmp_path / METADATA_DIR)
        assert Path(persistence._record_path(subject, rel)) == record_path(subject, rel)


def test_a_failed_run_puts_the_last_good_results_back(tmp_path: Path):
    """Set aside at the start, the run overwrites two outputs and writes a new one, then
    fails: every file and Snakemake record is as before the run."""
    _results(tmp_path, {"results/a.csv": "old a", "results/sub/b.csv": "old b"})
    before = _tree(tmp_path)
    planned = ["results/a.csv", "results/sub/b.csv", "results/new.csv"]
    state = keep_last_good(planned, directory=tmp_path)
    assert state["kept"] == ["results/a.csv", "results/sub/b.csv"]
    assert not (tmp_path / "results/a.csv").exists()
    _results(tmp_path, {"results/a.csv": "new a", "results/new.csv": "new"})
    restored = restore_last_good(tmp_path)
    assert _tree(tmp_path) == before
    assert not (tmp_path / LAST_GOOD).exists()
    assert restored.removed == ("results/new.csv",) and restored.complete
    assert "changed none of your results" in restored_message(restored)


def test_a_killed_run_keeps_the_last_good_results_for_the_run_that_resumes_it(tmp_path: Path):
    _results(tmp_path, {"results/a.csv": "old a", "results/b.csv": "old b"})
    before = _tree(tmp_path)
    keep_last_good(["results/a.csv", "results/b.csv"], directory=tmp_path)
    _results(tmp_path, {"results/a.csv": "new a"})  # then kill -9: no handler runs
    # The resumed run recomputes only b (a was finished); its start keeps the old set.
    state = keep_last_good(["results/b.csv"], directory=tmp_path)
    assert state["resumed"] and state["complete"]
    assert (tmp_path / "results/a.csv").read_text() == "new a"
    restore_last_good(tmp_path)  # the resumed run fails too
    assert _tree(tmp_path) == before


def test_a_successful_run_drops_the_set_aside_results(tmp_path: Path):
    _results(tmp_path, {"results/a.csv": "old a"})
    keep_last_good(["results/a.csv"], directory=tmp_path)
    _results(tmp_path, {"results/a.csv": "new a"})
    discard_last_good(tmp_path)
    assert not (tmp_path / LAST_GOOD).exists()
    assert (tmp_path / "results/a.csv").read_text() == "new a"
    assert restore_last_good(tmp_path).restored == ()


# ------------------------------------------------------------- the user's own config alone


def _analysed_terms(work: Path) -> tuple[set[str], set[str]]:
    mod = pd.read_csv(work / "results/tables/aim3_moderation.csv")
    excl = pd.read_csv(work / "results/data/exclusions.csv")
    return set(mod["moderator"]), set(excl["reason"].astype(str))


@pytest.mark.e2e
def test_configfile_replaces_the_default_config(tmp_path: Path):
    """Fewer moderators than the default, the default's keys, and a range deleted: only
    the user's measures are analysed and the default's range does not come back."""
    config = small_config(n_therapists=12, n_patients=60)
    config["measures"]["moderators"] = {
        "self_alliance": config["measures"]["moderators"]["self_alliance"]
    }
    del config["measures"]["processes"]["alliance"]["range"]
    proc = run_snakemake(tmp_path, config, "results/tables/aim3_moderation.csv")
    assert proc.returncode == 0, proc.stderr[-3000:]
    moderators, reasons = _analysed_terms(tmp_path)
    assert moderators == {"self_alliance"}
    assert not any("alliance" in r and "range" in r for r in reasons), reasons


@pytest.mark.e2e
def test_readme_own_data_example_from_the_repository_root(tmp_path: Path):
    """`snakemake --cores all --configfile config/examples/own_data.yaml` as the README
    says, in a checkout, on the example files; then the same config pointed at a file that
    does not exist stops with the key and path named instead of keeping old results."""
    user_checkout(tmp_path)
    # The README's own command for the example files (the installed console script).
    made = subprocess.run(
        ["process-outcome-example-data", "example_data"], cwd=tmp_path, capture_output=True
    )
    assert made.returncode == 0, made.stderr
    example = "config/examples/own_data.yaml"
    proc = subprocess.run(
        snakemake_command(example, "validate", cores=1),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Data and config are valid." in proc.stdout + proc.stderr

    config = yaml.safe_load((tmp_path / example).read_text())
    moved = copy.deepcopy(config)
    moved["data"]["files"]["patients"] = "example_data/patients_2026.csv"
    (tmp_path / "moved.yaml").write_text(yaml.safe_dump(moved))
    (tmp_path / "results/data").mkdir(parents=True)
    (tmp_path / "results/data/flow.json").write_text("{}")  # an earlier run's result
    proc = subprocess.run(
        snakemake_command("moved.yaml"), cwd=tmp_path, capture_output=True, text=True
    )
    err = proc.stdout + proc.stderr
    assert proc.returncode == 1
    assert "data.files.patients" in err and "example_data/patients_2026.csv" in err, err
    assert "Nothing to be done" not in err and "Traceback" not in err


# --------------------------------------------------------------------- interrupted runs


def _jobs_in(workdir: Path) -> list[psutil.Process]:
    """Processes still running one of the workflow's rule scripts in ``workdir``."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or ())
        if ".snakemake/scripts" in cmdline:
            try:
                if Path(proc.cwd()).resolve() == workdir.resolve():
                    found.append(proc)
            except psutil.Error:
                continue
    return found


@pytest.mark.e2e
def test_killed_run_resumes_with_the_same_command(tmp_path: Path, workflow_run: Path):
    """SIGKILL to Snakemake while the aim models run: its jobs stop, and the README's
    command completes the run with tables byte-identical to an uninterrupted run."""
    user_checkout(tmp_path)
    write_yaml(tmp_path / "config.yaml", small_config())  # as workflow_run writes it
    cmd = snakemake_command("config.yaml")
    log = tmp_path / "first.log"
    with log.open("w") as out:
        first = subprocess.Popen(cmd, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 300
        while "rule aim" not in log.read_text() and time.monotonic() < deadline:
            assert first.poll() is None, log.read_text()[-3000:]
            time.sleep(0.2)
        time.sleep(1.0)
        first.send_signal(signal.SIGKILL)
        first.wait()
    assert (tmp_path / LOCK_DIR).is_dir() and list((tmp_path / LOCK_DIR).iterdir())

    deadline = time.monotonic() + 15
    while _jobs_in(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _jobs_in(tmp_path), "jobs kept running after Snakemake was killed"

    second = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "Removed a lock left by an interrupted run" in second.stderr
    produced = sorted(
        p.relative_to(workflow_run)
        for pattern in ("results/tables/*.csv", "results/models/**/*.json", "results/data/*")
        for p in workflow_run.glob(pattern)
        if p.is_file()
    )
    assert produced
    for rel in produced:
        assert (tmp_path / rel).read_bytes() == (workflow_run / rel).read_bytes(), rel
    assert (tmp_path / "results/supplement.zip").read_bytes() == (
        workflow_run / "results/supplement.zip"
    ).read_bytes()


def test_readme_documents_the_commands_tested_here():
    readme = (ROOT / "README.md").read_text()
    assert "snakemake --cores all --configfile config/examples/own_data.yaml" in readme


@pytest.mark.e2e
def test_deployed_as_a_module_with_the_users_config(tmp_path: Path):
    """The Snakemake catalog's deployment: the user's own Snakefile imports this workflow
    as a module with its own config; the report finds its templates in the module."""
    config = small_config(n_therapists=12, n_patients=60)
    config["measures"]["moderators"] = {
        "self_alliance": config["measures"]["moderators"]["self_alliance"]
    }
    (tmp_path / "config").mkdir()
    write_yaml(tmp_path / "config" / "config.yaml", config)
    (tmp_path / "Snakefile").write_text(
        'configfile: "config/config.yaml"\n\n\n'
        "module process_outcome:\n"
        f'    snakefile:\n        "{ROOT / "Snakefile"}"\n'
        "    config:\n        config\n\n\n"
        "use rule * from process_outcome\n"
    )
    proc = subprocess.run(
        snakemake_command(None, "results/report/manuscript.html"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    moderators, _ = _analysed_terms(tmp_path)
    assert moderators == {"self_alliance"}


@pytest.mark.e2e
def test_failed_rerun_keeps_the_last_good_results(tmp_path: Path, reference_dir: Path):
    """A good run, then the data file is edited and the cleaning fails: the results the
    run would have recomputed are back as the good run wrote them, and the run says so."""
    for name in ("sessions.csv", "therapists.csv"):
        shutil.copy(reference_dir / name, tmp_path / name)
    targets = ("results/tables/descriptives.csv", "results/tables/correlations.csv")
    proc = run_snakemake(tmp_path, STUDY42_CONFIG, *targets)
    assert proc.returncode == 0, proc.stderr[-3000:]
    good = {t: (tmp_path / t).read_bytes() for t in (*targets, "results/data/patients.csv")}

    sessions = (tmp_path / "sessions.csv").read_text().splitlines()
    sessions[3] = sessions[3].replace(",T000,", ",T005,")  # a patient under two therapists
    (tmp_path / "sessions.csv").write_text("\n".join(sessions) + "\n")
    proc = run_snakemake(tmp_path, STUDY42_CONFIG, *targets)
    assert proc.returncode != 0
    assert "more than one therapist" in proc.stderr
    assert "changed none of your results" in proc.stderr, proc.stderr[-2000:]
    assert {t: (tmp_path / t).read_bytes() for t in good} == good
    assert not (tmp_path / LAST_GOOD).exists()


@pytest.mark.e2e
def test_run_failing_in_its_last_rule_leaves_the_last_good_results(
    tmp_path: Path, workflow_run: Path
):
    """A complete run, then a config edit that the last rule (the supplement) rejects:
    `diff -r` finds no change in any result, the run says which results are current,
    and Snakemake's records agree (the good config has nothing to do)."""
    work = tmp_path / "work"
    shutil.copytree(workflow_run, work, symlinks=True)
    good = tmp_path / "good"
    shutil.copytree(work / "results", good, symlinks=True)
    planned = _dry_run_jobs(work, "config.yaml")  # the copy's new folder changes params
    config = small_config()
    config.setdefault("supplement", {})["license"] = "NOT AN SPDX ID"
    write_yaml(work / "broken.yaml", config)
    proc = subprocess.run(
        snakemake_command("broken.yaml"), cwd=work, capture_output=True, text=True, timeout=900
    )
    err = proc.stdout + proc.stderr
    assert proc.returncode == 1, err[-3000:]
    assert "Error in rule supplement" in err and "CITATION.cff" in err, err[-3000:]
    assert "changed none of your results" in err and "last complete run" in err, err[-3000:]
    # The logs say what happened in this run; every result is the good run's.
    diff = subprocess.run(
        ["diff", "-r", "-x", "logs", str(good), str(work / "results")],
        capture_output=True,
        text=True,
    )
    assert diff.returncode == 0, diff.stdout[-3000:]
    # Snakemake's records agree: the good config plans what it planned before.
    assert _dry_run_jobs(work, "config.yaml") == planned


def _dry_run_jobs(work: Path, config_file: str) -> str:
    dry = subprocess.run(
        snakemake_command(config_file, "-n"),
        cwd=work,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert dry.returncode == 0, dry.stderr[-2000:]
    if "Nothing to be done" in dry.stdout:
        return "nothing to be done"
    return dry.stdout[dry.stdout.index("Job stats:") :].split("\n\n")[0]


def test_a_failed_first_run_keeps_what_it_finished(tmp_path: Path):
    """No earlier results: the outputs the run finished stay, so that the same command
    continues from them (Snakemake's own behaviour)."""
    keep_last_good(["results/a.csv", "results/b.csv"], directory=tmp_path)
    _results(tmp_path, {"results/a.csv": "new a"})
    restored = restore_last_good(tmp_path)
    assert restored.first and (tmp_path / "results/a.csv").read_text() == "new a"
    assert not (tmp_path / LAST_GOOD).exists()
    assert "continues from them" in restored_message(restored)
