"""State of workflow runs: the last complete results kept through a failed run, what an
interrupted run leaves behind, and what a job does when the workflow that started it is
gone.

**The last complete results.** When a run starts (Snakemake's ``onstart``), every
existing output it is going to recompute is moved aside into ``results/.last_good/``
(a rename: nothing is copied), with Snakemake's metadata record of it. If the run fails
(``onerror``, Ctrl-C included), each of them is moved back and every output the run wrote
in their place is removed, so ``results/`` is again exactly what the last run left, and
Snakemake's records say so: the next run recomputes what it must. If it succeeds
(``onsuccess``), the set-aside files are deleted. A run that is killed (``kill -9``,
a power cut) runs no handler; the files stay set aside, the next run (which resumes the
killed one) keeps them, and they come back if that run fails in turn.

A power cut, ``kill -9`` or a cluster's job limit stops Snakemake without its clean-up:
its directory locks stay in ``.snakemake/locks`` (the next run would stop with
"Directory cannot be locked" until the user finds ``--unlock``) and the jobs it had
started keep running as orphans. The workflow's default profile adds
``--rerun-incomplete`` for the half-written outputs; this module handles the rest.
"""

from __future__ import annotations

import json
import os
import shutil
import textwrap
import threading
from base64 import urlsafe_b64encode
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

__all__ = [
    "LAST_GOOD",
    "LOCK_DIR",
    "Restored",
    "data_file_problem",
    "discard_last_good",
    "keep_last_good",
    "missing_data_files",
    "release_stale_locks",
    "restore_last_good",
    "restored_message",
    "snakemake_running_in",
    "stale_locks",
    "watch_parent_workflow",
]

LOCK_DIR = Path(".snakemake") / "locks"
# Where the outputs a run recomputes wait until it has succeeded.
LAST_GOOD = Path("results") / ".last_good"
STATE = "state.json"
# Snakemake's per-file records (what produced a file; whether it is half-written).
METADATA_DIR = Path(".snakemake") / "metadata"
INCOMPLETE_DIR = Path(".snakemake") / "incomplete"
# How often a job checks that its workflow is still alive. A second keeps an orphan's
# extra work short and costs nothing measurable.
WATCH_INTERVAL_S = 1.0


def _is_snakemake(cmdline: Iterable[str]) -> bool:
    """True for the Snakemake command itself (``snakemake …`` or ``python -m snakemake``).

    Job scripts run from ``.snakemake/scripts/``, so a substring test would count them.
    """
    args = list(cmdline)
    for i, arg in enumerate(args[:3]):
        if Path(arg).name in ("snakemake", "snakemake.exe"):
            return True
        if arg == "-m" and i + 1 < len(args) and args[i + 1] == "snakemake":
            return True
    return False


def snakemake_running_in(directory: str | Path, exclude: Iterable[int] = ()) -> bool:
    """Whether another Snakemake process works in ``directory``.

    Processes whose working directory cannot be read (another user's) count as running
    there, so that a lock is never taken from a run we cannot see.

    Examples
    --------
    >>> snakemake_running_in("/nonexistent-directory")
    False
    """
    target = os.path.realpath(directory)
    skip = set(exclude)
    for proc in psutil.process_iter(["pid", "cmdline"]):
        if proc.info["pid"] in skip or not _is_snakemake(proc.info["cmdline"] or ()):
            continue
        try:
            if os.path.realpath(proc.cwd()) == target:
                return True
        except psutil.AccessDenied:
            return True
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
    return False


def stale_locks(directory: str | Path = ".") -> list[Path]:
    """Lock files in ``directory`` that no running Snakemake holds.

    The current process and its ancestors (the Snakemake that is parsing this workflow)
    do not count as holders.

    Examples
    --------
    >>> stale_locks("/nonexistent-directory")
    []
    """
    locks = sorted((Path(directory) / LOCK_DIR).glob("*.lock"))
    if not locks:
        return []
    me = psutil.Process()
    ours = {me.pid, *(p.pid for p in me.parents())}
    return [] if snakemake_running_in(directory, exclude=ours) else locks


def release_stale_locks(directory: str | Path = ".") -> list[Path]:
    """Remove the locks of an interrupted run; returns the files removed."""
    removed = []
    for lock in stale_locks(directory):
        lock.unlink(missing_ok=True)
        removed.append(lock)
    return removed


def missing_data_files(config: Mapping[str, Any], directory: str | Path = ".") -> list[str]:
    """Messages for the user's data files (``data.files``) that do not exist.

    Checked when the workflow is parsed, because Snakemake keeps existing results whose
    inputs are missing ("Nothing to be done"): a config pointed at a new file that is not
    there would otherwise leave the previous study's results standing as if current.

    Examples
    --------
    >>> missing_data_files({"data": {"source": "simulate"}})
    []
    """
    data = config.get("data", {})
    if data.get("source") != "files":
        return []
    problems = []
    for name, path in sorted((data.get("files") or {}).items()):
        problem = data_file_problem(Path(directory) / path, name) if path else None
        if problem:
            problems.append(f"data.files.{name} is {path!r}: {problem}")
    return problems


def data_file_problem(path: Path, table: str) -> str | None:
    """What is wrong with a data file's path (a folder; no such file, with the file of
    nearly the same name), or None when it is a file.

    Examples
    --------
    >>> data_file_problem(Path("."), "sessions")[:19]
    '. is a folder, not '
    """
    import difflib

    key = f"data.files.{table}"
    if path.is_dir():
        names = sorted(p.name for p in path.iterdir() if p.is_file() and p.suffix)
        listing = f" It holds {', '.join(names[:10])}." if names else ""
        return (
            f"{path} is a folder, not a file.{listing} Set {key} to the table's file "
            "(for example data/sessions.csv)."
        )
    if path.is_file():
        return None
    folder = path.parent
    if not folder.is_dir():
        return (
            f"file {path} does not exist, nor does its folder {folder}. Check {key} in the "
            "config (paths are relative to the directory you run snakemake from)."
        )
    names = [p.name for p in folder.iterdir() if p.is_file()]
    same = [n for n in names if n.casefold() == path.name.casefold()]
    if same:
        hint = (
            f" The folder has {folder / same[0]}, whose name differs only in upper/lower "
            f"case; file names are case-sensitive here: set {key}: {folder / same[0]}, or "
            "rename the file."
        )
    else:
        close = difflib.get_close_matches(path.name, names, n=3, cutoff=0.6)
        hint = f" Did you mean {' or '.join(str(folder / n) for n in close)}?" if close else ""
    return (
        f"file {path} does not exist.{hint} Check {key} in the config (paths are relative "
        "to the directory you run snakemake from)."
    )


def watch_parent_workflow(interval: float = WATCH_INTERVAL_S) -> threading.Thread | None:
    """Stop this job when the Snakemake that started it is gone.

    Snakemake runs a rule's script in a shell, so the operating system does not end the
    job when Snakemake is killed; without this an orphaned job keeps computing (and
    writing) after the workflow was stopped. Returns the watching daemon thread, or None
    when no Snakemake process is among this process's ancestors.
    """
    try:
        workflow = next(p for p in psutil.Process().parents() if _is_snakemake(p.cmdline()))
        started = workflow.create_time()
    except (StopIteration, psutil.Error):
        return None

    def watch() -> None:
        # Bounded by the job's own lifetime: the thread is a daemon.
        while True:
            try:
                alive = workflow.is_running() and workflow.create_time() == started
            except psutil.Error:
                alive = False
            if not alive:
                os._exit(143)  # as if terminated by SIGTERM
            threading.Event().wait(interval)

    thread = threading.Thread(target=watch, name="watch-workflow", daemon=True)
    thread.start()
    return thread


# --------------------------------------------------------------------------- last good results


def record_path(subject: str | Path, path: str) -> Path:
    """Snakemake's record of ``path`` below ``subject`` (``.snakemake/metadata`` or
    ``.snakemake/incomplete``): the path, URL-safe base64, split into parts that fit a
    file name, as ``snakemake.persistence`` names them.

    Examples
    --------
    >>> record_path(".snakemake/metadata", "results/a.csv").name
    'cmVzdWx0cy9hLmNzdg=='
    """
    subject = Path(subject)
    try:
        max_len = os.pathconf(subject, "PC_NAME_MAX") if os.name == "posix" else 255
    except OSError:  # the folder does not exist yet
        max_len = 255
    max_len = max_len or 255
    b64 = urlsafe_b64encode(path.encode()).decode()
    parts = [b64[i : i + max_len - 1] for i in range(0, len(b64), max_len - 1)]
    return subject.joinpath(*["@" + part for part in parts[:-1]], parts[-1])


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _move(source: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    _remove(dest)
    shutil.move(source, dest)  # a rename on one file system


def _write_state(store: Path, state: Mapping[str, Any]) -> None:
    store.mkdir(parents=True, exist_ok=True)
    tmp = store / f".{STATE}.tmp"
    tmp.write_text(json.dumps(state, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, store / STATE)


def _read_state(store: Path) -> dict[str, Any] | None:
    try:
        return json.loads((store / STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _newest_mtime(paths: Iterable[Path]) -> float | None:
    times = []
    for path in paths:
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        times.extend(p.stat().st_mtime for p in files)
    return max(times) if times else None


def keep_last_good(outputs: Iterable[str], directory: str | Path = ".") -> dict[str, Any]:
    """Move the existing ``outputs`` a run will recompute into :data:`LAST_GOOD`.

    Called when the run starts. If files are still set aside from a run that was killed,
    they stay (they are the last complete results, and this run resumes the killed one);
    the killed run's own outputs among ``outputs`` are removed, as Snakemake would
    recompute them anyway.

    Parameters
    ----------
    outputs : iterable of str
        Every output of the jobs this run will run, relative to ``directory``.
    directory : str or Path
        The working directory of the workflow.

    Returns
    -------
    dict
        The state written to ``results/.last_good/state.json``: ``kept`` (the outputs
        set aside), ``planned`` (every output this run and a killed one it resumes
        recompute), ``complete`` (none of them half-written), ``finished`` (when the
        set-aside results were written) and ``resumed``.
    """
    root = Path(directory)
    store = root / LAST_GOOD
    planned = sorted(set(map(str, outputs)))
    state = _read_state(store)
    if state is not None:
        # A killed run's set-aside files are the last good results: keep them.
        state["planned"] = sorted(set(state["planned"]) | set(planned))
        state["resumed"] = True
        _write_state(store, state)
        for rel in planned:
            if rel not in state["kept"] or (store / "files" / rel).exists():
                _remove(root / rel)
        return state
    if store.exists():
        shutil.rmtree(store)  # an unfinished set-aside without its state: nothing kept
    kept = [rel for rel in planned if (root / rel).exists() or (root / rel).is_symlink()]
    newest = _newest_mtime(root / rel for rel in kept)
    # Snakemake marks an output half-written until its job has finished.
    half = [rel for rel in kept if record_path(root / INCOMPLETE_DIR, rel).is_file()]
    state = {
        "kept": kept,
        "planned": planned,
        "complete": bool(kept) and not half,
        "finished": (
            datetime.fromtimestamp(newest, UTC).strftime("%Y-%m-%d %H:%M UTC") if newest else None
        ),
        "resumed": False,
    }
    # The state first: a run killed while moving finds what it had meant to move.
    _write_state(store, state)
    for rel in kept:
        _move(root / rel, store / "files" / rel)
        record = record_path(root / METADATA_DIR, rel)
        if record.is_file():
            _move(record, store / "metadata" / rel)
    return state


@dataclass(frozen=True)
class Restored:
    """What :func:`restore_last_good` did.

    ``restored`` files of the last complete run are back; ``removed`` outputs of the
    failed run had no earlier version; ``finished`` is when the restored results were
    written; ``complete`` whether they were a complete run's; ``first`` that there were
    no earlier results, so the run's finished outputs were kept.
    """

    restored: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    finished: str | None = None
    complete: bool = False
    first: bool = False


def restore_last_good(directory: str | Path = ".") -> Restored:
    """Put back what :func:`keep_last_good` set aside; called when a run fails.

    Every output the run was to recompute is returned to its state before the run: the
    set-aside file (and its Snakemake record) is moved back, and an output that did not
    exist before is removed. Snakemake's half-written marker of a restored file is
    removed too, so the next run sees the last complete results as they were. When
    nothing had been set aside (no earlier results: a first run), the outputs the run
    finished stay, as Snakemake leaves them, and the same command continues from them.
    """
    root = Path(directory)
    store = root / LAST_GOOD
    state = _read_state(store)
    if state is None:
        return Restored()
    kept = set(state["kept"])
    if not kept:
        # Nothing earlier to return to (a first run): what the run finished is current
        # and stays, so that the same command continues from it.
        shutil.rmtree(store)
        return Restored(first=True)
    restored, removed = [], []
    for rel in state["planned"]:
        saved = store / "files" / rel
        target = root / rel
        if rel in kept:
            if not (saved.exists() or saved.is_symlink()):
                continue  # never moved (the run was killed while setting aside)
            _remove(target)
            _move(saved, target)
            record = record_path(root / METADATA_DIR, rel)
            if (store / "metadata" / rel).is_file():
                record.parent.mkdir(parents=True, exist_ok=True)
                _move(store / "metadata" / rel, record)
            elif record.is_file():
                record.unlink()
            restored.append(rel)
        elif target.exists() or target.is_symlink():
            _remove(target)
            record_path(root / METADATA_DIR, rel).unlink(missing_ok=True)
            removed.append(rel)
        marker = record_path(root / INCOMPLETE_DIR, rel)
        if marker.is_file():
            marker.unlink()
    shutil.rmtree(store)
    return Restored(
        tuple(restored), tuple(removed), state.get("finished"), bool(state.get("complete"))
    )


def discard_last_good(directory: str | Path = ".") -> None:
    """Delete the set-aside results; called when a run has succeeded."""
    store = Path(directory) / LAST_GOOD
    if store.exists():
        shutil.rmtree(store)


def restored_message(restored: Restored) -> str:
    """What a failed run says about the results it leaves: which are current, from when.

    Examples
    --------
    >>> print(restored_message(Restored(("results/a.csv",), (), "2026-01-02 10:00 UTC", True)))
    This run did not complete, so it changed none of your results: everything under results/
    is as the last complete run left it (written 2026-01-02 10:00 UTC) and belongs to that
    run's data and config; the 1 file this run was recomputing was put back, and only the
    logs in results/logs/ are from this run. Fix the problem shown above and run the same
    command again.
    """
    n = len(restored.restored)
    if restored.first:
        text = (
            "This run did not complete. There were no earlier results of its steps to "
            "keep; the results it finished stay under results/ and the same command "
            "continues from them."
        )
    elif not n and not restored.removed:
        text = (
            "This run did not complete and had changed no result: everything under "
            "results/ is as it was before the run."
        )
    elif restored.complete:
        files = (
            "1 file this run was recomputing was"
            if n == 1
            else f"{n} files this run was recomputing were"
        )
        text = (
            "This run did not complete, so it changed none of your results: everything "
            f"under results/ is as the last complete run left it (written {restored.finished}) "
            f"and belongs to that run's data and config; the {files} put back, and only "
            "the logs in results/logs/ are from this run."
        )
    else:
        text = (
            "This run did not complete, and the results it was recomputing were not "
            "complete before it either (left half-written by an interrupted run): "
            f"results/ is as it was before this run ({n} file(s) put back, "
            f"{len(restored.removed)} output(s) of this run removed); only the logs in "
            "results/logs/ are this run's."
        )
    return textwrap.fill(
        text + " Fix the problem shown above and run the same command again.", width=88
    )
