"""The manuscript's design-planning section, rendered when ``results/power/`` exists.

:func:`power_context` reads the power results and returns the context;
:func:`power_section` makes the manuscript section that ``_power.html.j2`` renders
(HTML) and whose paragraphs the Markdown and Word writers print;
:func:`with_power_section` places it before the appendix.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from process_outcome.analysis.power_summary import manuscript_context
from process_outcome.document import Manuscript, Paragraph, Section, rich
from process_outcome.files import read_json, sha256_file

__all__ = [
    "POWER_FILES",
    "PowerSection",
    "power_context",
    "power_results",
    "power_section",
    "power_sentences",
    "with_power_section",
]

POWER_FILES = ("power.csv", "recovery.csv", "type1.csv", "design.json")
TESTS = {
    "aim2_slope_variance": "aim 2 test of the therapist slope variance (mixture LR test)",
    "aim3_moderation": "aim 3 test of the moderator effect (interaction t test)",
}


@dataclasses.dataclass(frozen=True)
class PowerSection(Section):
    """The design-planning section; ``context`` is :func:`power_context`'s result."""

    context: Mapping[str, Any] = dataclasses.field(default_factory=dict)


def power_context(paths: Sequence[str | Path]) -> dict[str, Any] | None:
    """Context of the power section from the power results, or ``None`` without them.

    Parameters
    ----------
    paths : sequence of path
        ``results/power/power.csv``, ``recovery.csv``, ``type1.csv`` and
        ``design.json`` (any order).

    Returns
    -------
    dict or None
        :func:`process_outcome.analysis.power_summary.manuscript_context` plus ``sentences``
        (:func:`power_sentences`).

    Examples
    --------
    >>> power_context([]) is None
    True
    """
    by_name = {Path(p).name: Path(p) for p in paths}
    if not all(name in by_name and by_name[name].exists() for name in POWER_FILES):
        return None
    context = manuscript_context(
        pd.read_csv(by_name["power.csv"]),
        pd.read_csv(by_name["recovery.csv"]),
        pd.read_csv(by_name["type1.csv"]),
        read_json(by_name["design.json"]),
    )
    context["sentences"] = power_sentences(context)
    return context


def power_results(directory: str | Path = "results/power") -> dict[str, str]:
    """The power results present (path: SHA-256), or ``{}`` if ``snakemake power`` has
    not run.

    The report rule takes them as a parameter, not as inputs, so that the default
    target never runs the power grid, and the hashes re-render the manuscript when the
    power results change.

    Examples
    --------
    >>> power_results("/nonexistent")
    {}
    """
    paths = [Path(directory) / name for name in POWER_FILES]
    if not all(f.is_file() for f in paths):
        return {}
    return {str(f): sha256_file(f) for f in paths}


def _design(d: Mapping[str, Any]) -> str:
    return f"{d['n_therapists']} therapists with {d['patients_per_therapist']} patients each"


def _planning(context: Mapping[str, Any]) -> str:
    if context.get("planning") == "safeguard":
        return "safeguard planning values"
    return "point estimates, without allowance for their uncertainty"


def power_sentences(context: Mapping[str, Any]) -> list[str]:
    """The section's text as plain sentences (one paragraph each).

    Examples
    --------
    >>> ctx = {"replicates": 500, "n_cells": 12, "alpha": 0.05, "values_source": "x",
    ...     "grid": {"n_therapists": [20, 40], "patients_per_therapist": [5],
    ...     "max_sessions": [9]}, "own_design": {}, "nearest": {"n_therapists": 20,
    ...     "patients_per_therapist": 5, "max_sessions": 9}, "effects": [], "designs": [],
    ...     "type1": {}, "coverage": None}
    >>> power_sentences(ctx)[0].startswith("To plan a replication, 500 studies")
    True
    """
    grid = context["grid"]
    text = [
        f"To plan a replication, {context['replicates']} studies were simulated for each "
        f"of {context['n_cells']} designs ({', '.join(map(str, grid['n_therapists']))} "
        f"therapists × {', '.join(map(str, grid['patients_per_therapist']))} patients per "
        f"therapist, up to {', '.join(map(str, grid['max_sessions']))} assessments) with "
        "the workflow's own simulator (unequal caseloads, dropout and missed surveys), "
        "cleaning and models; each was tested at α = "
        f"{context['alpha']:g}. Generating values ({_planning(context)}): "
        f"{context['values_source']}."
    ]
    own = context["own_design"]
    near = context["nearest"]
    where = f"With {_design(near)}"
    if own:
        where += (
            f" (the planned design closest to this study's {own['n_therapists']} therapists "
            f"with {own['patients_per_therapist']:g} patients each)"
        )
    parts = []
    for e in context["effects"]:
        if e.get("power_fdr") is not None:
            # aim 3 is judged after BH across the characteristics, as in the Results
            n_mod = context.get("n_moderators", 2)
            part = (
                f"the power of the {TESTS[e['effect']]} for a true value of "
                f"{e['true_value']:.3g} after the Benjamini–Hochberg adjustment across "
                f"{n_mod} characteristics was {e['power_fdr']:.2f} (Monte Carlo SE "
                f"{e['power_fdr_mc_se']:.2f}; unadjusted {e['power']:.2f}; "
                f"{e['singular_share']:.0%} singular fits)"
            )
        else:
            part = (
                f"the power of the {TESTS[e['effect']]} for a true value of "
                f"{e['true_value']:.3g} was {e['power']:.2f} (Monte Carlo SE "
                f"{e['power_mc_se']:.2f}; {e['singular_share']:.0%} singular fits)"
            )
        if e["mde"] is not None:
            part += f"; the minimum detectable moderator effect at 80% power was {e['mde']:.3f}"
        parts.append(part)
    if parts:
        text.append(where + ", " + "; ".join(parts) + ".")
    needs = []
    for d in context["designs"]:
        label = d["label"].split(":", 1)[0]  # "Aim 2" / "Aim 3"
        if d["found"]:
            needs.append(
                f"{label} needs {_design(d)} (power {d['power']:.2f}) for a true value of "
                f"{d['true_value']:.3g}"
            )
        else:
            needs.append(
                f"{label} does not reach 80% power for a true value of {d['true_value']:.3g} "
                "within the planned designs"
            )
    if needs:
        text.append("The smallest planned design with 80% power: " + "; ".join(needs) + ".")
    checks = [
        f"the {TESTS[test].split(' (')[0]} rejected a true null in {lo:.1%}–{hi:.1%} of replicates"
        for test, (lo, hi) in sorted(context["type1"].items())
    ]
    if context["coverage"] is not None:
        lo, hi = context["coverage"]
        checks.append(f"95% CIs of the fixed effects covered the true value in {lo:.1%}–{hi:.1%}")
    if checks:
        text.append("Across designs, " + "; ".join(checks) + ".")
    return text


def power_section(context: Mapping[str, Any]) -> PowerSection:
    """The manuscript section of a :func:`power_context`."""
    return PowerSection(
        key="power",
        title="Design Planning",
        blocks=tuple(Paragraph(rich(s)) for s in context["sentences"]),
        context=context,
    )


def with_power_section(manuscript: Manuscript, paths: Sequence[str | Path] | None) -> Manuscript:
    """The manuscript with the power section before its last (appendix) section, when
    the power results exist; otherwise unchanged."""
    context = power_context(paths or [])
    if context is None:
        return manuscript
    sections = manuscript.sections
    return dataclasses.replace(
        manuscript, sections=(*sections[:-1], power_section(context), *sections[-1:])
    )
