"""The simulation section: recovery of the simulated truth (simulated data only)."""

from __future__ import annotations

import pandas as pd

from process_outcome.document import (
    EN_DASH,
    Paragraph,
    Row,
    Section,
    Table,
    interval,
    lower_first,
    number,
    ref,
    rich,
    value,
)
from process_outcome.manuscript.inputs import Design, Results
from process_outcome.manuscript.quoting import truthy

__all__ = ["simulation_section"]


def simulation_section(design: Design, results: Results) -> Section:
    """Estimates beside the generating parameters (simulated data only)."""
    truth = results.optional("truth_recovery")
    assert truth is not None
    rows: list[Row] = []
    for o in design.outcomes:
        part = truth[truth["outcome"] == o.key]
        if part.empty:
            continue
        rows.append(Row((rich(o.label),), "panel"))
        for r in part.itertuples(index=False):
            key = {
                "outcome": o.key,
                "process": r.process if isinstance(r.process, str) else "",
                "moderator": r.moderator if isinstance(r.moderator, str) else "",
                "parameter": r.parameter,
            }
            src = ref("truth_recovery", **key)
            if r.parameter == "slope_sd":
                label = f"SD of therapists' {lower_first(design.label(r.process))} slopes"
            elif r.parameter == "intercept_sd":
                label = "SD of therapist intercepts"
            else:
                label = design.term_label(r.parameter)
            has_ci = not pd.isna(r.ci_low)
            covered = str(r.covered) if has_ci else ""
            rows.append(
                Row(
                    (
                        rich(label),
                        rich(
                            {"aim1 joint": "Aim 1, joint", "aim2": "Aim 2", "aim3": "Aim 3"}.get(
                                r.model, r.model
                            )
                        ),
                        number(r.true, 3, src.at("true")),
                        number(r.estimate, 3, src.at("estimate")),
                        interval(r.ci_low, r.ci_high, 3, src) if has_ci else rich(EN_DASH),
                        rich({"True": "yes", "False": "no"}.get(covered, EN_DASH)),
                    ),
                    indent=1,
                )
            )
    with_ci = truth[truth["ci_low"].notna()]
    covered = int(sum(truthy(v) for v in with_ci["covered"]))
    total = len(with_ci)
    tsrc = ref("truth_recovery", "<covered>")
    text = rich(
        "The data were simulated, so the parameters that generated them are known. Of the ",
        value(str(total), ref("truth_recovery", "<with_ci>")),
        " parameters with a 95% CI, ",
        value(str(covered), tsrc),
        " CIs contained the true value (Table S1). With one simulated sample, a few misses "
        "are expected (about 5% of intervals); a systematic miss would point to a problem "
        "in the analysis. Therapist SDs are estimated without a CI; compare them with the "
        "true values directly.",
    )
    note = rich(
        "True = value used to generate the data; Estimate = fitted value from the model "
        "named; CI = 95% confidence interval; Covered = the CI contains the true value. "
        "The true slope SD includes the part explained by moderators.",
    )
    table = Table(
        "tableS1_truth",
        "S1",
        "Estimates and Generating Parameters of the Simulated Study",
        (
            rich("Parameter"),
            rich("Model"),
            rich("True"),
            rich("Estimate"),
            rich("95% CI"),
            rich("Covered"),
        ),
        tuple(rows),
        note,
        align="llrrrc",
    )
    banner = rich(
        "Simulated data: this section exists only because the data were simulated. It is "
        "a check of the workflow, not part of a manuscript about real data.",
    )
    return Section(
        "simulation",
        "Simulation Check: Estimates Versus True Parameters",
        (Paragraph(text), table),
        banner,
    )
