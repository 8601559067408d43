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
    LOCK_DIR,
    missing_data_files,
    release_stale_locks,
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
def test_failed_rerun_leaves_no_stale_results(tmp_path: Path, reference_dir: Path):
    """A good run, then the data file is edited and the cleaning fails: the results the
    run would have recomputed are gone, not left standing as if current."""
    for name in ("sessions.csv", "therapists.csv"):
        shutil.copy(reference_dir / name, tmp_path / name)
    targets = ("results/tables/descriptives.csv", "results/tables/correlations.csv")
    proc = run_snakemake(tmp_path, STUDY42_CONFIG, *targets)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert all((tmp_path / t).is_file() for t in targets)

    sessions = (tmp_path / "sessions.csv").read_text().splitlines()
    sessions[3] = sessions[3].replace(",T000,", ",T005,")  # a patient under two therapists
    (tmp_path / "sessions.csv").write_text("\n".join(sessions) + "\n")
    proc = run_snakemake(tmp_path, STUDY42_CONFIG, *targets)
    assert proc.returncode != 0
    assert "more than one therapist" in proc.stderr
    assert not any((tmp_path / t).exists() for t in targets)
    assert not (tmp_path / "results/data/patients.csv").exists()
