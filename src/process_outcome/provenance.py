"""Provenance facts shared by the manuscript and the supplement: the workflow's own files,
installed package versions, the git state of the checkout, and the names under which
shared files give the input data (never a path of the lab's machine)."""

from __future__ import annotations

import copy
import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePath
from typing import Any

__all__ = [
    "KEY_PACKAGES",
    "WORKFLOW_PATHS",
    "git_state",
    "package_versions",
    "shared_config",
    "shared_path",
]

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


def shared_path(path: str | Path, directory: str | Path | None = None) -> str:
    """The name under which a shared file gives an input file: never a machine path.

    A file inside the working directory ``directory`` (default: the current one) is
    named by its path relative to it, as a config would give it; a file elsewhere (an
    absolute path to the lab's share, or one that climbs out with ``..``) by its file
    name alone, since its folders name the lab's machine. Shared files pair the name
    with the file's size and SHA-256, which identify it. Symbolic links are not
    followed: a link inside the directory keeps its own name.

    Examples
    --------
    >>> shared_path("/srv/lab share/2026/sessions.csv", "/home/me/study")
    'sessions.csv'
    >>> shared_path("/home/me/study/data/sessions.csv", "/home/me/study")
    'data/sessions.csv'
    >>> shared_path("data/../data/sessions.csv", "/home/me/study")
    'data/sessions.csv'
    >>> shared_path("../other/sessions.csv", "/home/me/study")
    'sessions.csv'
    """
    base = os.path.abspath(directory if directory is not None else os.getcwd())
    full = os.path.normpath(os.path.join(base, os.fspath(path)))
    rel = os.path.relpath(full, base)
    if rel == os.pardir or rel.startswith(os.pardir + os.sep) or os.path.isabs(rel):
        return PurePath(full).name
    return PurePath(rel).as_posix()


def shared_config(config: Mapping[str, Any], directory: str | Path | None = None) -> dict:
    """The config as shared files give it: ``data.files`` named by :func:`shared_path`.

    Every other key is kept; a table without a file (``None``) stays ``None``.

    Examples
    --------
    >>> shared_config({"data": {"files": {"sessions": "/srv/x/s.csv", "patients": None}}},
    ...               "/home/me")["data"]["files"]
    {'sessions': 's.csv', 'patients': None}
    """
    out = copy.deepcopy(_plain(config))
    files = (out.get("data") or {}).get("files")
    if isinstance(files, dict):
        for table, path in files.items():
            if path:
                files[table] = shared_path(path, directory)
    return out


def _plain(obj: Any) -> Any:
    # Snakemake's config holds its own mapping types; copies are plain dicts and lists.
    if isinstance(obj, Mapping):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj
