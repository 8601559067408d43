"""Robustness analyses: each variant in words and Table 5 (the Method and Results text is
in the templates ``method.md.j2`` and ``results/robustness.md.j2``).

The variants come from the config's ``robustness`` list; every number from
``results/tables/robustness.csv``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from process_outcome.document import (
    Rich,
    Row,
    Table,
    digits_for,
    it,
    lower_first,
    number,
    ref,
    rich,
    sup,
)
from process_outcome.manuscript.inputs import Design, Results
from process_outcome.manuscript.quoting import (
    SINGULAR_FOOTNOTE,
    STARS_NOTE,
    stars,
    truthy,
)

__all__ = [
    "table5",
    "variant_description",
]

SOURCE = "robustness"
KEY = ("variant", "outcome", "process", "aim", "parameter")


def variant_description(variant: Mapping[str, Any]) -> str:
    """What a robustness variant changes, in words.

    Examples
    --------
    >>> variant_description({"name": "x", "label": "X", "process_sessions": [1, 3]})
    'process ratings from sessions 1–3 only'
    """
    parts = []
    if variant.get("process_before_outcome"):
        parts.append(
            "process ratings only from sessions before the patient's final outcome "
            "assessment, so that every rating preceded the outcome it is to predict"
        )
    if "process_sessions" in variant:
        first, last = variant["process_sessions"]
        parts.append(f"process ratings from sessions {first}–{last} only")
    if "min_caseload_slopes" in variant:
        k = variant["min_caseload_slopes"]
        parts.append(
            "random-slope models (Aims 2 and 3) restricted to therapists with at least "
            f"{k} patients"
        )
    if "min_outcome_assessments" in variant:
        parts.append(
            f"patients with at least {variant['min_outcome_assessments']} outcome assessments"
        )
    if variant.get("completers_only"):
        parts.append("only patients whose outcome was assessed at the study's final session")
    adjust = []
    if variant.get("covariates"):
        adjust += [
            lower_first(spec.get("label", key)) for key, spec in variant["covariates"].items()
        ]
    if variant.get("adjust_sessions"):
        adjust.append("the patient's number of sessions")
    if adjust:
        parts.append("every model adjusted for " + " and ".join(adjust))
    return "; ".join(parts)


def _label(design: Design, aim: str, parameter: str, process: str) -> str:
    if aim == "aim1":
        return f"{parameter.capitalize()} (Aim 1)"
    if aim == "aim2":
        return "Slope SD (Aim 2)"
    return f"× {lower_first(design.label(parameter))} (Aim 3)"


def _stars(row: pd.Series) -> str:
    # Aim 3 rows take their stars from the FDR-adjusted p, as Table 4 does.
    p = row["p_fdr"] if row["aim"] == "aim3" else row["p"]
    return "" if pd.isna(p) else stars(p)


def _key(row: pd.Series) -> dict[str, str]:
    return {k: row[k] for k in KEY}


def table5(design: Design, results: Results) -> Table:
    """Table 5: key estimates of the main analysis and of each robustness variant."""
    variants = design.config.get("robustness", [])
    rob = results.optional("robustness")
    names = ["main", *(v["name"] for v in variants)]
    heads = ["Main", *(v["label"] for v in variants)]
    columns = (rich("Estimate"), *(rich(h) for h in heads))
    rows: list[Row] = []
    if rob is None or not variants:
        rows.append(Row((rich("No robustness analyses were configured."),), "panel"))
        return Table("table5_robustness", "5", "Robustness Analyses", columns, tuple(rows))
    by_variant = {n: rob[rob["variant"] == n] for n in names}
    any_singular = False

    def sample_row(label: str, column: str) -> Row:
        cells = []
        for n in names:
            part = by_variant[n]
            first = part[part["aim"] == "aim1"].head(1)
            if first.empty:
                cells.append(rich("—"))
                continue
            r = first.iloc[0]
            cells.append(number(r[column], 0, ref(SOURCE, column, **_key(r))))
        return Row((rich(label), *cells))

    rows += [sample_row("Patients", "n_patients"), sample_row("Therapists", "n_therapists")]
    main = by_variant["main"]
    for o in design.outcomes:
        rows.append(Row((rich(o.label),), "panel"))
        for p in design.processes:
            keys = main[(main["outcome"] == o.key) & (main["process"] == p.key)]
            if keys.empty:
                continue
            rows.append(Row((rich(p.label),), "subpanel"))
            for k in keys.itertuples(index=False):
                cells: list[Rich] = []
                digits = digits_for(k.se) if pd.notna(k.se) else 2
                for n in names:
                    part = by_variant[n]
                    hit = part[
                        (part["outcome"] == o.key)
                        & (part["process"] == p.key)
                        & (part["aim"] == k.aim)
                        & (part["parameter"] == k.parameter)
                    ]
                    if hit.empty or pd.isna(hit.iloc[0]["estimate"]):
                        cells.append(rich("—"))
                        continue
                    r = hit.iloc[0]
                    cell = number(r["estimate"], digits, ref(SOURCE, "estimate", **_key(r)))
                    cell += _stars(r)
                    if truthy(r["singular"]):
                        cell += sup("a")
                        any_singular = True
                    cells.append(cell)
                label = _label(design, k.aim, k.parameter, p.key)
                rows.append(Row((rich(label), *cells), indent=1))
    note = rich(
        "Estimates of the main analysis and of each robustness variant (columns; the Method "
        "describes each). Within and between = within- and between-therapist effect of the "
        "process (Aim 1, random-intercept model); slope SD = standard deviation of the "
        "therapists' within-therapist slopes (Aim 2; stars from the mixture likelihood-ratio "
        "test); × characteristic = cross-level interaction (Aim 3; stars from the "
        "Benjamini–Hochberg adjusted ",
        it("p"),
        "). Patients and therapists: the Aim 1 sample. — = not estimable. ",
        STARS_NOTE,
    )
    if any_singular:
        note += rich(" ", SINGULAR_FOOTNOTE)
    return Table(
        "table5_robustness",
        "5",
        "Key Estimates of Aims 1–3 in the Main Analysis and the Robustness Analyses",
        columns,
        tuple(rows),
        note,
    )
