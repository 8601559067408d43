"""The package's metadata: configs as published, CITATION.cff, RO-Crate, provenance,
package lock and software versions.

``CITATION.cff`` is checked against the Citation File Format 1.2.0 JSON schema, vendored
as ``workflow/schemas/citation-cff-1.2.0.json`` (the official schema, copied from the
``cffconvert`` 2.0.0 distribution, where it is ``cffconvert/schemas/1.2.0/schema.json``).
"""

from __future__ import annotations

import copy
import hashlib
import importlib.metadata
import json
import platform
import re
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from process_outcome.errors import InputError
from process_outcome.files import plain, sha256_file
from process_outcome.provenance import (
    KEY_PACKAGES,
    package_versions,
    shared_config,
    shared_path,
)

__all__ = [
    "MEDIA_TYPES",
    "ORIGINAL_STUDY",
    "TABLES",
    "canonical_json",
    "citation_cff",
    "config_hash",
    "dump_yaml",
    "media_type",
    "package_lock",
    "packaged_config",
    "provenance",
    "redacted_config",
    "ro_crate",
    "software_versions",
    "study_date",
    "validate_cff",
]

TABLES = ("sessions", "therapists", "patients")


MEDIA_TYPES = {
    ".md": "text/markdown",
    ".html": "text/html",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".csv": "text/csv",
    ".tex": "application/x-tex",
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".json": "application/json",
    ".yaml": "application/yaml",
    ".yml": "application/yaml",
    ".cff": "application/yaml",
    ".py": "text/x-python",
    ".smk": "text/x-python",
    ".toml": "application/toml",
    ".lock": "text/plain",
    ".txt": "text/plain",
    ".rst": "text/x-rst",
    ".j2": "text/plain",
    ".typed": "text/plain",
}


ORIGINAL_STUDY = {
    "type": "article",
    "title": (
        "Therapist-level moderation of within- and between-therapist process-outcome associations"
    ),
    "authors": [
        {"family-names": "Coyne", "given-names": "Alice E."},
        {"family-names": "Constantino", "given-names": "Michael J."},
    ],
    "journal": "Journal of Consulting and Clinical Psychology",
    "volume": 90,
    "issue": "1",
    "start": "75",
    "end": "89",
    "year": 2022,
    "doi": "10.1037/ccp0000676",
}


def media_type(path: str | Path) -> str:
    """The media (MIME) type of a package file, judged by its name."""
    name = PurePosixPath(str(path)).name
    if name == "Snakefile":
        return "text/x-python"
    if name == "SHA256SUMS":
        return "text/plain"
    if name == "ro-crate-metadata.json":
        return "application/ld+json"
    return MEDIA_TYPES.get(PurePosixPath(name).suffix.lower(), "application/octet-stream")


def canonical_json(obj: Any) -> str:
    """Compact JSON with sorted keys: the form that is hashed."""
    return json.dumps(plain(obj), sort_keys=True, separators=(",", ":"), allow_nan=False)


def redacted_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The config as it may be published: the de-identification salt removed and the
    data files named without machine paths (:func:`~process_outcome.provenance.shared_path`).

    A published salt would let anyone recompute the salted hashes of guessed ids.
    """
    out = copy.deepcopy(plain(shared_config(config)))
    supp = out.get("supplement")
    if isinstance(supp, dict) and supp.get("salt") is not None:
        supp["salt"] = "<redacted>"
    return out


def config_hash(config: Mapping[str, Any]) -> str:
    """SHA-256 of the redacted config in canonical JSON (what ``config_used.yaml`` holds)."""
    return hashlib.sha256(canonical_json(redacted_config(config)).encode()).hexdigest()


def packaged_config(
    config: Mapping[str, Any], files: Mapping[str, str], *, note: str
) -> dict[str, Any]:
    """The config that runs the packaged workflow on packaged data files.

    Parameters
    ----------
    config : mapping
        The config that produced the results (defaults filled in).
    files : mapping
        Table name -> path of the packaged file, relative to the package root.
    note : str
        Sentence put in front of ``study.description`` so that every report made from
        these data says what they are.
    """
    out = redacted_config(config)
    out["data"]["source"] = "files"
    out["data"]["files"] = {t: files.get(t) for t in TABLES if t in files}
    if "patients" not in files:
        out["data"]["files"]["patients"] = None
    out["data"]["sheets"] = {}
    supp = out.setdefault("supplement", {})
    supp["share_deidentified"] = False
    supp["salt"] = None
    description = out.get("study", {}).get("description", "")
    out.setdefault("study", {})["description"] = (note + " " + description).strip()
    return out


def dump_yaml(obj: Any, header: str = "") -> str:
    """YAML in the config's key order, with an optional comment header."""
    lines = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
    return lines + yaml.safe_dump(plain(obj), sort_keys=False, allow_unicode=True)


def citation_cff(config: Mapping[str, Any]) -> dict[str, Any]:
    """``CITATION.cff`` content (Citation File Format 1.2.0) from the study metadata."""
    study = config["study"]
    supp = config["supplement"]
    authors = []
    for a in study.get("authors", []):
        person: dict[str, Any] = {"family-names": a["family_names"]}
        if a.get("given_names"):
            person["given-names"] = a["given_names"]
        if a.get("affiliation"):
            person["affiliation"] = a["affiliation"]
        if a.get("orcid"):
            orcid = a["orcid"]
            person["orcid"] = orcid if orcid.startswith("http") else f"https://orcid.org/{orcid}"
        authors.append(person)
    if not authors:
        # A manuscript under blind review has no names to give.
        authors = [{"name": "Anonymous (blinded for peer review)"}]
    cff: dict[str, Any] = {
        "cff-version": "1.2.0",
        "message": "If you use this supplementary material, please cite it as below.",
        "type": "dataset",
        "title": f"{study['title']}: supplementary material",
        "authors": authors,
    }
    if study.get("version"):
        cff["version"] = str(study["version"])
    if study.get("doi"):
        cff["doi"] = study["doi"]
    if study.get("date_released"):
        cff["date-released"] = str(study["date_released"])
    if study.get("description"):
        cff["abstract"] = study["description"]
    if supp.get("keywords"):
        cff["keywords"] = list(supp["keywords"])
    cff["license"] = supp["license"]
    cff["references"] = [ORIGINAL_STUDY]
    return cff


def validate_cff(cff: Mapping[str, Any], schema_path: str | Path) -> None:
    """Check CITATION.cff content against the CFF 1.2.0 JSON schema.

    Raises
    ------
    InputError
        Naming each invalid entry; they come from the config's ``study`` and
        ``supplement`` sections.
    """
    import jsonschema

    schema = json.loads(Path(schema_path).read_text(encoding="utf-8"))
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(plain(dict(cff))), key=lambda e: list(e.path))
    if errors:
        listed = "; ".join(
            f"{'.'.join(map(str, e.path)) or '(top level)'}: {e.message[:200]}" for e in errors
        )
        raise InputError(
            f"CITATION.cff would not be valid Citation File Format 1.2.0: {listed}. Fix the "
            "study and supplement sections of the config (license must be an SPDX id such "
            "as CC-BY-4.0; orcid like 0000-0002-1825-0097)."
        )


def ro_crate(
    package_dir: str | Path,
    files: Mapping[str, str],
    config: Mapping[str, Any],
    date_published: str,
) -> dict[str, Any]:
    """RO-Crate 1.1 metadata (Workflow RO-Crate) of the package, via ``rocrate``.

    Parameters
    ----------
    package_dir : str or Path
        The package folder.
    files : mapping
        Package path -> description, for every file to list (in the order given).
    config : mapping
        The config (study title, description, license, authors, keywords).
    date_published : str
        ISO date of the root dataset: fixed, so that the metadata are reproducible.
    """
    import snakemake
    from rocrate.model.contextentity import ContextEntity
    from rocrate.model.person import Person
    from rocrate.rocrate import ROCrate

    package_dir = Path(package_dir)
    crate = ROCrate(version="1.1")
    for rel, description in files.items():
        props = {
            "name": PurePosixPath(rel).name,
            "description": description,
            "encodingFormat": media_type(rel),
        }
        if rel == "Snakefile":
            crate.add_workflow(
                package_dir / rel,
                dest_path=rel,
                main=True,
                lang="snakemake",
                lang_version=snakemake.__version__,
                properties=props,
            )
        else:
            crate.add_file(package_dir / rel, dest_path=rel, properties=props)
    study = config["study"]
    root = crate.root_dataset
    root["name"] = f"{study['title']}: supplementary material"
    root["description"] = study.get("description") or study["title"]
    root["datePublished"] = date_published
    spdx = config["supplement"]["license"]
    root["license"] = crate.add(
        ContextEntity(
            crate,
            f"https://spdx.org/licenses/{spdx}",
            properties={"@type": "CreativeWork", "name": spdx, "identifier": spdx},
        )
    )
    authors = []
    for i, a in enumerate(study.get("authors", [])):
        orcid = a.get("orcid")
        if orcid and not orcid.startswith("http"):
            orcid = f"https://orcid.org/{orcid}"
        name = " ".join(x for x in (a.get("given_names"), a["family_names"]) if x)
        props = {"name": name}
        if a.get("affiliation"):
            props["affiliation"] = a["affiliation"]
        authors.append(crate.add(Person(crate, orcid or f"#author-{i + 1}", properties=props)))
    if authors:
        root["author"] = authors
    if config["supplement"].get("keywords"):
        root["keywords"] = ", ".join(config["supplement"]["keywords"])
    if study.get("version"):
        root["version"] = str(study["version"])
    return crate.metadata.generate()


def package_lock() -> str:
    """``name==version`` of every installed distribution, sorted; the project left out.

    The project itself is installed from the package's ``src/`` (it is not on PyPI).
    """
    seen: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if not name:
            continue
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key == "process-outcome" or key in seen:
            continue  # the first on sys.path is the one imported
        seen[key] = f"{key}=={dist.version}"
    header = (
        f"# Exact package versions of the environment that produced the results "
        f"(Python {platform.python_version()}).\n"
        "# pip install -r requirements.lock && pip install --no-deps -e .\n"
    )
    return header + "\n".join(sorted(seen.values())) + "\n"


def software_versions() -> dict[str, Any]:
    """Python, platform and the versions of the packages the analysis rests on."""
    packages = package_versions(KEY_PACKAGES)
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "packages": packages,
    }


def provenance(
    *,
    config: Mapping[str, Any],
    inputs: Mapping[str, str],
    git: Mapping[str, Any],
    lock_sha256: str,
    start_time: str | None,
    end_time: str | None,
) -> dict[str, Any]:
    """The content of ``provenance.json``."""
    seeds = {"synthetic_replica": config["supplement"]["seed"]}
    if config["data"]["source"] == "simulate":
        seeds["simulate"] = config["simulate"]["seed"]
    note = (
        "Wall-clock times of the run (start: the earliest result the package draws on; "
        "end: when the package was written). They make supplement.zip differ between runs."
        if start_time
        else (
            "Not recorded, so that supplement.zip is byte-identical across runs with the "
            "same inputs, config, workflow and packages; set supplement.record_run_times: "
            "true to record them."
        )
    )
    return {
        "inputs": [
            {
                "table": table,
                "path": shared_path(path),
                "bytes": Path(path).stat().st_size,
                "sha256": sha256_file(path),
            }
            for table, path in inputs.items()
        ],
        "data_source": config["data"]["source"],
        "config": {"sha256": config_hash(config), "file": "config/config_used.yaml"},
        "workflow": {
            "git_commit": git["commit"],
            "git_commit_time": git["commit_time"],
            "git_dirty": git["dirty"],
            "git_changed_files": git["changed"],
        },
        "software": software_versions() | {"lock": "requirements.lock", "lock_sha256": lock_sha256},
        "seeds": seeds,
        "run": {"start_time": start_time, "end_time": end_time, "note": note},
    }


def study_date(config: Mapping[str, Any], git: Mapping[str, Any]) -> str:
    """The package's publication date: ``study.date_released``, else the commit's date.

    Both are fixed for given inputs; outside a git checkout without a configured date,
    1980-01-01 (the zip's fixed time) marks the date as unknown.
    """
    if config["study"].get("date_released"):
        return str(config["study"]["date_released"])
    if git.get("commit_time"):
        return str(git["commit_time"])[:10]
    return "1980-01-01"
