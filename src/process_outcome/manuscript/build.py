"""Assembling the manuscript from its sections and writing every report format.

Every sentence and number of the report is produced by the section modules of this
package from the results tables, the model summaries, the flow counts and the config;
the templates in ``workflow/templates`` only lay the blocks out. Wording follows APA 7
and JARS-Quant for multilevel models.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from process_outcome.document import Block, Heading, Manuscript, Section, Table, render_markdown
from process_outcome.document.markdown import markdown_table
from process_outcome.document.pandoc import Style, render_documents, to_format
from process_outcome.files import atomic_write_text
from process_outcome.manuscript.appendix import appendix_section, collect_provenance
from process_outcome.manuscript.figures import figures
from process_outcome.manuscript.inputs import Design, Provenance, Results, read_results
from process_outcome.manuscript.method import (
    descriptive_methods,
    measures_blocks,
    participants,
    software_blocks,
)
from process_outcome.manuscript.method_analysis import analytic_strategy
from process_outcome.manuscript.power import with_power_section
from process_outcome.manuscript.results import aim1_results, descriptive_results
from process_outcome.manuscript.results_aim2 import aim2_results
from process_outcome.manuscript.results_aim3 import aim3_results
from process_outcome.manuscript.robustness import robustness_method, robustness_results
from process_outcome.manuscript.simulation import simulation_section
from process_outcome.manuscript.tables import TABLE_FUNCTIONS
from process_outcome.outputs import outputs

__all__ = ["all_tables", "build_manuscript", "write_manuscript"]


# The Results section's parts in order: each part's prose, then its registered printed
# tables and figures (process_outcome.outputs).
RESULTS_PARTS: dict[str, Callable[[Design, Results], list[Block]]] = {
    "Descriptives": descriptive_results,
    "Aim 1": aim1_results,
    "Aim 2": aim2_results,
    "Aim 3": aim3_results,
    "Robustness": robustness_results,
}


def build_manuscript(
    config: Mapping[str, Any],
    results: Results,
    provenance: Provenance,
    images: Mapping[str, bytes],
) -> Manuscript:
    """The whole manuscript as a document model.

    Parameters
    ----------
    config : mapping
        The validated config.
    results : Results
        The results files' contents.
    provenance : Provenance
    images : mapping of str to bytes
        PNG of each figure keyed by its registered name.

    Returns
    -------
    Manuscript
    """
    design = Design.from_config(config)
    figs = figures(design, images)
    # The descriptive analyses open the analytic strategy, under its heading.
    strategy = analytic_strategy(design, results)
    head = 1 if strategy and isinstance(strategy[0], Heading) else 0
    method: list[Block] = [
        *participants(design, results),
        *measures_blocks(design, results),
        *strategy[:head],
        *descriptive_methods(design),
        *strategy[head:],
        *robustness_method(design),
        *software_blocks(provenance),
    ]
    printed = all_tables(config, results)
    res: list[Block] = []
    for part, prose in RESULTS_PARTS.items():
        blocks = prose(design, results)
        res += blocks
        # A part that was not run has no table or figure: Aim 3 without moderators (its
        # prose says so), robustness analyses without variants (no prose at all).
        if not blocks or (part == "Aim 3" and not design.moderators):
            continue
        res += [printed[o.name] for o in outputs(folder="report/tables", part=part)]
        res += [figs[o.name] for o in outputs(folder="figures", part=part)]
    sections = [
        Section("method", "Method", tuple(method)),
        Section("results", "Results", tuple(res)),
    ]
    # Citeproc lists the works cited here, after the main text and before the sections
    # about the workflow's run.
    sections.append(Section("references", "References", ()))
    if design.simulated and results.optional("truth_recovery") is not None:
        sections.append(simulation_section(design, results))
    sections.append(appendix_section(design, provenance))
    authors = tuple(
        " ".join(x for x in (a.get("given_names"), a.get("family_names")) if x)
        for a in config["study"].get("authors", [])
    )
    manuscript = Manuscript(
        title=config["study"]["title"],
        authors=authors,
        description=config["study"].get("description", ""),
        date=provenance.date,
        sections=tuple(sections),
    )
    return manuscript


def all_tables(config: Mapping[str, Any], results: Results) -> dict[str, Table]:
    """The printed tables keyed by their registered names (Table 4 says so when Aim 3
    was not run)."""
    design = Design.from_config(config)
    return {
        o.name: TABLE_FUNCTIONS[o.name](design, results) for o in outputs(folder="report/tables")
    }


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
    """Read the results, build the manuscript and write every report format.

    Parameters
    ----------
    config : mapping
        The validated config.
    tables, models, flow
        See :func:`read_results`.
    figures_png : sequence of str
        The figures' PNG files (named by their registered names).
    data_files : sequence of str
        The input data files, hashed for the provenance appendix.
    template_dir : str
        ``workflow/templates``.
    workflow_dir : str
        The workflow's directory, for its git commit.
    out : mapping
        Output paths of the registered outputs of the ``manuscript`` rule, keyed
        ``manuscript_html``, ``manuscript_docx``, ``manuscript_md`` and the printed
        tables' names.
    power : sequence of str
        The design-planning results, if any (:mod:`process_outcome.manuscript.power`).
    """
    results = read_results(tables, models, flow)
    images = {Path(p).stem: Path(p).read_bytes() for p in figures_png}
    provenance = collect_provenance(config, data_files, workflow_dir)
    manuscript = with_power_section(build_manuscript(config, results, provenance, images), power)
    md_path = Path(out["manuscript_md"])
    figure_dir = os.path.relpath(Path(figures_png[0]).parent, md_path.parent)
    markdown = render_markdown(manuscript, figure_dir)
    atomic_write_text(md_path, markdown)
    style = journal_style(config, template_dir)
    epoch = int(provenance.date.timestamp())
    formats = {"html": out["manuscript_html"], "docx": out["manuscript_docx"]}
    if "manuscript_pdf" in out:
        formats["pdf"] = out["manuscript_pdf"]
    render_documents(
        markdown, md_path.parent, {k: Path(v) for k, v in formats.items()}, style, epoch
    )
    for key, table in all_tables(config, results).items():
        latex = to_format("\n".join(markdown_table(table)), "latex", md_path.parent, style)
        atomic_write_text(out[key], latex.decode("utf-8"))


def journal_style(config: Mapping[str, Any], template_dir: str | Path) -> Style:
    """The journal style of the config's ``manuscript:`` section: CSL, reference .docx
    and ``.bib`` files (the lab's beside the package's), relative paths from the working
    directory."""
    assets = Path(template_dir) / "manuscript"
    settings = config.get("manuscript", {})
    csl = settings.get("csl") or assets / "apa.csl"
    docx = settings.get("reference_docx")
    bibs = [assets / "references.bib", *map(Path, settings.get("bibliography", []))]
    return Style(
        lua_filter=assets / "labels.lua",
        css=assets / "apa.css",
        csl=Path(csl).resolve(),
        bibliography=tuple(b.resolve() for b in bibs),
        reference_docx=Path(docx).resolve() if docx else None,
        running_head=str(settings.get("running_head") or ""),
    )
