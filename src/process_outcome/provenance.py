"""Provenance facts shared by the manuscript and the supplement: the workflow's own files,
installed package versions and the git state of the checkout."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["KEY_PACKAGES", "WORKFLOW_PATHS", "git_state", "package_versions"]

# The packages the analysis, report and supplement rest on: the one list that both the
# manuscript's software paragraph and the supplement's provenance report.
KEY_PACKAGES = (
    "process-outcome",
    "numpy",
    "scipy",
    "pandas",
    "statsmodels",
    "pingouin",
    "matplotlib",
    "snakemake",
    "jinja2",
    "python-docx",
    "rocrate",
)

WORKFLOW_PATHS = (
    "Snakefile",
    "profiles",
    "workflow",
    "scripts",
    "src",
    "config",
    "environment.yml",
    "pyproject.toml",
)


def package_versions(names: Sequence[str]) -> dict[str, str | None]:
    """Installed version of each named distribution (``None`` when not installed)."""
    from importlib import metadata

    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_state(path: str | Path, paths: Sequence[str] = WORKFLOW_PATHS) -> dict[str, Any]:
    """Commit, commit time and dirty flag of the workflow's git checkout.

    ``dirty`` is judged on the workflow's own files (``paths``), untracked ones
    included, and ``changed`` lists them; results, notes and caches do not count. All
    values are ``None`` outside a git checkout (for example an unpacked supplement).

    Returns
    -------
    dict
        ``commit``, ``commit_time`` (ISO 8601), ``commit_epoch`` (seconds), ``dirty``,
        ``changed``.
    """

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(path), *args],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout

    try:
        commit = git("rev-parse", "HEAD").strip()
        stamp = git("log", "-1", "--format=%cI %ct", "HEAD").split()
        status = git("status", "--porcelain", "--untracked-files=all", "--", *paths)
    except (OSError, subprocess.SubprocessError):
        return dict.fromkeys(("commit", "commit_time", "commit_epoch", "dirty", "changed"))
    changed = sorted(line[3:] for line in status.splitlines() if line.strip())
    return {
        "commit": commit,
        "commit_time": stamp[0],
        "commit_epoch": int(stamp[1]),
        "dirty": bool(changed),
        "changed": changed,
    }
