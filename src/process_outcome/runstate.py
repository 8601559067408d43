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
        if path and not (Path(directory) / path).is_file():
            where = Path(directory).resolve() / path
            problems.append(
                f"data.files.{name} is {path!r}, but there is no such file ({where}). "
                "Correct the path in your config (relative paths start from the "
                "directory you run snakemake in) or create the file."
            )
    return problems


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
