"""Running one rule body: logging to the rule's log, a user's mistake as a plain
message with exit status 1, and stopping when the workflow is gone."""

from __future__ import annotations

import errno
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from process_outcome.errors import InputError
from process_outcome.runstate import watch_parent_workflow

log = logging.getLogger("process_outcome")

__all__ = ["DISK_ERRORS", "disk_message", "run"]

DISK_ERRORS = {errno.ENOSPC, errno.EDQUOT}


def disk_message(exc: OSError, step: str) -> str:
    """One line for a write that failed because the disk (or the quota) is full.

    Examples
    --------
    >>> disk_message(OSError(errno.ENOSPC, "No space left on device", "results/x.csv"), "tables")
    'no space left on the disk while tables wrote results/x.csv: free some space and run \
snakemake again (the finished steps are kept).'
    """
    what = "disk quota exceeded" if exc.errno == errno.EDQUOT else "no space left on the disk"
    where = f" wrote {exc.filename}" if exc.filename else " wrote its outputs"
    return (
        f"{what} while {step}{where}: free some space and run snakemake again (the "
        "finished steps are kept)."
    )


def run(step: Callable[..., None], log_path: str | Path, **kwargs: Any) -> None:
    """Run one workflow step, logging to ``log_path``.

    A user's mistake (:class:`InputError`) is printed as a plain message, without a
    traceback, to the log and to standard error, and the process exits with status 1 so
    that Snakemake stops and removes the step's outputs. A step whose Snakemake was
    killed stops too (:func:`~process_outcome.runstate.watch_parent_workflow`).
    """
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(log_path, mode="w", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    start = time.perf_counter()
    watch_parent_workflow()
    try:
        step(**kwargs)
    except InputError as exc:
        message = f"\nERROR: {exc}\n"
        log.error("%s", exc)
        sys.stderr.write(message)
        sys.exit(1)
    except OSError as exc:
        if exc.errno not in DISK_ERRORS:
            raise
        # A full disk (or quota) is the machine's state, not a bug: one line, no traceback.
        text = disk_message(exc, step.__name__)
        log.error("%s", text)
        sys.stderr.write(f"\nERROR: {text}\n")
        sys.exit(1)
    finally:
        log.info("%s finished in %.2f s", step.__name__, time.perf_counter() - start)
        handler.close()
        root.removeHandler(handler)
