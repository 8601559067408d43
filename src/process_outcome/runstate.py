"""State of workflow runs: what an interrupted run leaves behind, and what a job does
when the workflow that started it is gone.

A power cut, ``kill -9`` or a cluster's job limit stops Snakemake without its clean-up:
its directory locks stay in ``.snakemake/locks`` (the next run would stop with
"Directory cannot be locked" until the user finds ``--unlock``) and the jobs it had
started keep running as orphans. The workflow's default profile adds
``--rerun-incomplete`` for the half-written outputs; this module handles the rest.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import psutil

__all__ = [
    "LOCK_DIR",
    "data_file_problem",
    "missing_data_files",
    "release_stale_locks",
    "snakemake_running_in",
    "stale_locks",
    "watch_parent_workflow",
]

LOCK_DIR = Path(".snakemake") / "locks"
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
