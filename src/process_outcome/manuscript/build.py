"""Assembling the manuscript: the results context, the templates of its sections, one
Pandoc Markdown document, and every format pandoc makes of it.

The words are the templates' (``workflow/templates/manuscript``, or the lab's own folder,
``manuscript: templates``); the numbers come from the results files through the context
(:mod:`~process_outcome.manuscript.context`) and the APA filters
(:mod:`~process_outcome.manuscript.filters`); the printed tables and figures are built
here from the results tables and placed by the templates (``{{ table("…") }}``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

from process_outcome.document import Section, Table
from process_outcome.document.markdown import markdown_section, markdown_table
from process_outcome.document.pandoc import Style, render_documents, to_format
from process_outcome.errors import InputError
from process_outcome.files import atomic_write_text
from process_outcome.manuscript.appendix import appendix_section, collect_provenance
from process_outcome.manuscript.context import Row, TableView, label_of
from process_outcome.manuscript.figures import figures
from process_outcome.manuscript.inputs import Design, Provenance, Results, read_results
from process_outcome.manuscript.power import power_context
from process_outcome.manuscript.references import PACKAGE_REFERENCES, cite, cite_narrative
from process_outcome.manuscript.robustness import variant_description
from process_outcome.manuscript.simulation import simulation_section
from process_outcome.manuscript.tables import TABLE_FUNCTIONS
from process_outcome.manuscript.templates import environment, render_template
from process_outcome.outputs import outputs

__all__ = [
    "FRONT_MATTER",
    "all_tables",
    "front_matter",
    "journal_style",
    "render_manuscript",
    "write_manuscript",
]

FRONT_MATTER = (
    "title",
    "running_head",
    "authors",
    "author_note",
    "abstract",
    "keywords",
    "significance",
)


def all_tables(config: Mapping[str, Any], results: Results) -> dict[str, Table]:
    """The printed tables keyed by their registered names."""
    design = Design.from_config(config)
    return {
        o.name: TABLE_FUNCTIONS[o.name](design, results) for o in outputs(folder="report/tables")
    }


def front_matter(config: Mapping[str, Any]) -> dict[str, Any]:
    """The authors' front matter: the config's ``manuscript:`` values, replaced by those
    of the file it names (``front_matter``); ``None`` where the authors have not written
    it (the title page then says so)."""
    settings = config.get("manuscript", {})
    front = {k: settings.get(k) for k in FRONT_MATTER}
    if settings.get("front_matter"):
        path = Path(settings["front_matter"])
        try:
            given = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as e:
            raise InputError(f"manuscript: front_matter {path}: cannot be read ({e})") from None
        unknown = sorted(set(given) - set(FRONT_MATTER))
        if unknown:
            raise InputError(
                f"manuscript: front_matter {path}: unknown keys {unknown}; use {list(FRONT_MATTER)}"
            )
        front |= given
    return front


def _context(
    config: Mapping[str, Any],
    results: Results,
    provenance: Provenance,
    images: Mapping[str, bytes],
    image_dir: str,
    power: Mapping[str, Any] | None,
    printed: Mapping[str, Table],
) -> dict[str, Any]:
    design = Design.from_config(config)
    settings = config.get("manuscript", {})
    placement = settings.get("tables", {})
    figs = figures(design, images)
    placed: dict[str, list[str]] = {"main": [], "supplement": []}

    def place(name: str) -> str:
        where = placement.get(name, "main")
        if name in placed["main"] or name in placed["supplement"]:
            raise KeyError(f"table or figure {name!r} is placed twice")
        if where == "off":
            return ""
        placed[where].append(name)
        if name in printed:
            md = "\n".join(markdown_table(printed[name], supplement=where == "supplement"))
        elif name in figs:
            md = markdown_section(
                Section("", "", (figs[name],)), image_dir, supplement=where == "supplement"
            )
        else:
            raise KeyError(f"no printed table or figure named {name!r}")
        return "" if where == "supplement" else md

    def supplement_tables() -> str:
        parts = []
        for name in placed["supplement"]:
            if name in printed:
                parts.append("\n".join(markdown_table(printed[name], supplement=True)))
            else:
                parts.append(
                    markdown_section(Section("", "", (figs[name],)), image_dir, supplement=True)
                )
        return "\n".join(parts)

    steps = results.flow["steps"]
    flow = {
        "first": Row(steps[0], "flow", {"step": steps[0]["step"]}),
        "final": Row(steps[-1], "flow", {"step": steps[-1]["step"]}),
    }
    reasons = results.flow.get("exclusions", {})
    exclusions = {
        "duplicates": sum(n for r, n in reasons.items() if r.startswith("exact duplicate")),
        "out_of_range": sum(n for r, n in reasons.items() if "outside the range" in r),
        "patients": sum(n for r, n in reasons.items() if r.startswith("patient excluded")),
        "any": bool(reasons),
    }
    versions = dict(provenance.software)
    python = versions.pop("Python", "")
    versions.pop("process-outcome", None)
    software = [
        {"name": n, "version": v, "cite": PACKAGE_REFERENCES.get(n)} for n, v in versions.items()
    ]
    variants = [
        {"label": v["label"], "text": f"{v['label']} ({variant_description(v)})"}
        for v in config.get("robustness", [])
    ]
    study = {
        "simulated": design.simulated,
        "title": front_matter(config)["title"],
        "original": settings.get("original_study", {}).get("cite"),
        "findings": settings.get("original_study", {}).get("findings", []),
    }
    tables = {name: TableView(name, frame) for name, frame in results.tables.items()}

    def correlation(a: str, b: str):
        view = tables["correlations"]
        found = view.rows(x=a, y=b) or view.rows(x=b, y=a)
        if len(found) != 1:
            raise LookupError(f"results table correlations: {len(found)} rows for {a}, {b}")
        return found[0]

    optional = [o.name for o in outputs(folder="tables")]
    context = {
        "study": study,
        "flow": flow,
        "exclusions": exclusions,
        "software": software,
        "python": python,
        "variants": variants,
        "config": config,
        "front": front_matter(config),
        "outcomes": [label_of(o) for o in design.outcomes],
        "processes": [label_of(p) for p in design.processes],
        "moderators": [label_of(m) for m in design.moderators],
        "robustness": config.get("robustness", []),
        "tables": tables,
        "has": {name: name in tables for name in optional},
        "models": results.models,
        "power": power,
        "correlation": correlation,
        "cite": cite,
        "citet": cite_narrative,
        "table": place,
        "figure": place,
        "supplement_tables": supplement_tables,
        "simulation_text": lambda: (
            markdown_section(simulation_section(design, results), image_dir)
            if design.simulated and results.optional("truth_recovery") is not None
            else ""
        ),
        "appendix_text": lambda: (
            ""
            if settings.get("appendix", "supplement") == "off"
            else markdown_section(
                appendix_section(
                    design, provenance, settings.get("appendix", "supplement") == "main"
                ),
                image_dir,
            )
        ),
        "appendix_where": settings.get("appendix", "supplement"),
    }
    return context


_LABEL = re.compile(r"@((?:tbl|fig):\w+)")


def render_manuscript(
    config: Mapping[str, Any],
    results: Results,
    provenance: Provenance,
    images: Mapping[str, bytes],
    template_dir: str | Path,
    image_dir: str = "../figures",
    power: Mapping[str, Any] | None = None,
    printed: Mapping[str, Table] | None = None,
) -> str:
    """The whole manuscript as one Pandoc Markdown document.

    Each section named in ``manuscript: sections`` is its template (the lab's
    ``<name>.md`` / ``<name>.md.j2`` first, then the package's ``<name>.md.j2``), rendered
    with the results context, inside a Div of class ``section``.
    """
    settings = config.get("manuscript", {})
    lab = [settings["templates"]] if settings.get("templates") else []
    for d in lab:
        if not Path(d).is_dir():
            raise InputError(f"manuscript: templates: folder {d} does not exist")
    env = environment(template_dir, lab)
    names = set(env.list_templates())
    if printed is None:
        printed = all_tables(config, results)
    context = _context(config, results, provenance, images, image_dir, power, printed)
    context["exists"] = lambda name: name in names
    front = context["front"]
    # The title page is the template's: the metadata title only names the files (the
    # HTML page's title, the Word and PDF document properties).
    title = front["title"] or "Title to be written by the authors"
    meta: dict[str, Any] = {"pagetitle": title, "title-meta": title}
    if front["running_head"]:
        meta["running-head"] = front["running_head"]
    parts = ["---", yaml.safe_dump(meta, allow_unicode=True, sort_keys=False).rstrip(), "---", ""]
    for name in settings.get("sections", ()):
        candidates = [f"{name}.md.j2", f"{name}.md"]
        found = next((c for c in candidates if c in names), None)
        if found is None:
            raise InputError(
                f"manuscript: sections names {name!r}, but no template {name}.md.j2 or "
                f"{name}.md is in the lab's folder or the package's"
            )
        body = render_template(env, found, context).strip()
        if body:
            parts += [f"::: {{#{name} .section .{name}}}", "", body, "", ":::", ""]
    text = "\n".join(parts).rstrip("\n") + "\n"
    present = set(re.findall(r"\{#((?:tbl|fig):\w+)", text))
    for label in dict.fromkeys(_LABEL.findall(text)):
        if label not in present:
            where = settings.get("tables", {}).get(label.split(":", 1)[1])
            why = "switched off in manuscript: tables" if where == "off" else "not placed"
            raise InputError(
                f"the manuscript refers to @{label}, which is {why}: place it with "
                f'{{{{ table("{label.split(":", 1)[1]}") }}}} or remove the reference'
            )
    return text


def journal_style(config: Mapping[str, Any], template_dir: str | Path) -> Style:
    """The journal style of the config's ``manuscript:`` section: CSL, reference .docx
    and ``.bib`` files (the lab's beside the package's), relative paths from the working
    directory."""
    assets = Path(template_dir) / "manuscript"
    settings = config.get("manuscript", {})
    csl = settings.get("csl") or assets / "apa.csl"
    docx = settings.get("reference_docx")
    bibs = [assets / "references.bib", *map(Path, settings.get("bibliography", []))]
    for path in (Path(csl), *bibs, *([Path(docx)] if docx else [])):
        if not path.is_file():
            raise InputError(f"manuscript: the style file {path} does not exist")
    front = front_matter(config)
    return Style(
        lua_filter=(assets / "labels.lua").resolve(),
        css=(assets / "apa.css").resolve(),
        csl=Path(csl).resolve(),
        bibliography=tuple(b.resolve() for b in bibs),
        reference_docx=Path(docx).resolve() if docx else None,
        running_head=str(front["running_head"] or ""),
    )


def write_manuscript(
    config: Mapping[str, Any],
    tables: Mapping[str, str],
    models: Sequence[str],
    flow: str,
    figures_png: Sequence[str],
    data_files: Sequence[str],
    template_dir: str,
    workflow_dir: str,
    out: Mapping[str, str],
    power: Sequence[str] = (),
) -> None:
    """Read the results, render the manuscript and write every format.

    This is the manuscript's one entry point (the rule body and the tests call it).

    Parameters
    ----------
    config : mapping
        The validated config.
    tables : mapping of str to str
        Paths of the results tables keyed by their registered names.
    models : sequence of str
        Model summaries ``…/models/<aim>/<outcome>/<process>.json``.
    flow : str
        ``results/data/flow.json``.
    figures_png : sequence of str
        The figures' PNG files (named by their registered names).
    data_files : sequence of str
        The input data files, hashed for the provenance appendix.
    template_dir : str
        ``workflow/templates`` (the package's templates are in its ``manuscript/``).
    workflow_dir : str
        The workflow's directory, for its git commit.
    out : mapping
        Output paths keyed ``manuscript_md`` (the Pandoc Markdown document),
        ``manuscript_html``, ``manuscript_docx``, optionally ``manuscript_pdf``, and the
        printed tables' names (LaTeX).
    power : sequence of str
        The design-planning results, if any (:mod:`process_outcome.manuscript.power`).
    """
    results = read_results(tables, models, flow)
    images = {Path(p).stem: Path(p).read_bytes() for p in figures_png}
    provenance = collect_provenance(config, data_files, workflow_dir)
    md_path = Path(out["manuscript_md"])
    figure_dir = os.path.relpath(Path(figures_png[0]).parent, md_path.parent)
    style = journal_style(config, template_dir)
    printed = all_tables(config, results)
    markdown = render_manuscript(
        config, results, provenance, images, template_dir, figure_dir, power_context(power), printed
    )
    atomic_write_text(md_path, markdown)
    formats = {"html": out["manuscript_html"], "docx": out["manuscript_docx"]}
    if "manuscript_pdf" in out:
        formats["pdf"] = out["manuscript_pdf"]
    epoch = int(provenance.date.timestamp())
    # The printed tables in LaTeX for the authors, in one pandoc run beside the others.
    split = "\n\n`%%next table%%`{=latex}\n\n"
    source = split.join("\n".join(markdown_table(t, traced=False)) for t in printed.values())
    with ThreadPoolExecutor(1) as pool:
        latex = pool.submit(to_format, source, "latex", md_path.parent, style)
        paths = {k: Path(v) for k, v in formats.items()}
        render_documents(markdown, md_path.parent, paths, style, epoch)
        tex = latex.result().decode("utf-8")
    for key, part in zip(printed, tex.split("%%next table%%"), strict=True):
        atomic_write_text(out[key], part.strip() + "\n")
