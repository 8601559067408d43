"""Results section, Aim 2: therapist differences in the within-therapist association."""

from __future__ import annotations

from process_outcome.document import (
    Block,
    Heading,
    Paragraph,
    Ref,
    digits_for,
    it,
    join,
    lower_first,
    number,
    p_text,
    plural,
    r_text,
    rich,
    series,
    significant,
    t_test_text,
    value,
)
from process_outcome.manuscript.inputs import Design, Results
from process_outcome.manuscript.quoting import (
    beneficial_sign,
    count_value,
    fill,
    outcome_direction,
    percent_value,
    post_label,
    select_row,
    singular_reason,
    truthy,
)
from process_outcome.manuscript.results import fixed_row

__all__ = ["aim2_results"]


def aim2_results(design: Design, results: Results) -> list[Block]:
    """Results, Aim 2: slope-variance tests, slope SD and range, beneficial share."""
    blocks: list[Block] = [
        Heading(rich("Aim 2: Therapist Differences in the Within-Therapist Association"), 2)
    ]
    for o in design.outcomes:
        for p in design.processes:
            t, tsrc = select_row(
                results.table("aim2_slope_tests"), "aim2_slope_tests", outcome=o.key, process=p.key
            )
            fx, fsrc = fixed_row(
                results.table("aim2_fixed_effects"),
                "aim2_fixed_effects",
                o.key,
                p.key,
                f"{p.key}_within",
            )
            d = digits_for(t["slope_sd"])
            test = fill(
                "{LR} = {lr}, {p}",
                LR=it("LR"),
                lr=number(t["lr"], 2, tsrc.at("lr")),
                p=p_text(t["p_mixture"], tsrc.at("p_mixture")),
            )
            spread = fill(
                "the SD of therapists' slopes was estimated at {sd}, so 95% of therapists' "
                "slopes would lie between {low} and {high} around the average slope ({average})",
                sd=number(t["slope_sd"], d, tsrc.at("slope_sd")),
                low=number(t["slope_low"], d, tsrc.at("slope_low")),
                high=number(t["slope_high"], d, tsrc.at("slope_high")),
                average=t_test_text(fx, fsrc),
            )
            words = {"process": lower_first(p.label), "outcome": post_label(o)}
            if significant(t["p_mixture"]):
                s = fill(
                    "Therapists differed in the within-therapist association of {process} "
                    "with {outcome}, {test}; {spread}.",
                    test=test,
                    spread=spread,
                    **words,
                )
            else:
                s = fill(
                    "There was no statistically significant evidence that therapists differed "
                    "in the within-therapist association of {process} with {outcome}, "
                    "{test}; {spread}.",
                    test=test,
                    spread=spread,
                    **words,
                )
            n = int(t["n_therapists"])
            share = float(t["share_beneficial"])
            good = -1.0 if o.higher_is == "worse" else 1.0
            s += fill(
                " For {k} of {n} therapists ({percent}%), the empirical-Bayes slope was "
                "{sign}, the beneficial direction in which higher {process} ratings go with "
                "{direction}.",
                k=value(f"{round(share * n)}", Ref(tsrc.source, tsrc.key, "share_beneficial", n)),
                n=count_value(n, tsrc.at("n_therapists")),
                percent=percent_value(share, tsrc.at("share_beneficial")),
                sign=beneficial_sign(o),
                process=lower_first(p.label),
                direction=outcome_direction(o, good),
            )
            if truthy(t["singular"]):
                model = results.models[f"aim2/{o.key}/{p.key}"]
                s += fill(
                    " The random-slope fit was singular ({reason}), so the therapist slopes "
                    "are not separately identified from the intercepts: the slope SD, the "
                    "range and the share of beneficial slopes describe the fitted model, not "
                    "reliable differences between therapists.",
                    reason=singular_reason(model["fit"], f"aim2/{o.key}/{p.key}"),
                )
            blocks.append(Paragraph(s))
    corr = []
    for o in design.outcomes:
        rows = results.table("aim2_slope_correlations")[
            results.table("aim2_slope_correlations")["outcome"] == o.key
        ]
        for r in rows.itertuples(index=False):
            row, src = select_row(
                results.table("aim2_slope_correlations"),
                "aim2_slope_correlations",
                outcome=o.key,
                process_a=r.process_a,
                process_b=r.process_b,
            )
            singular = [
                lower_first(design.label(q))
                for q in (r.process_a, r.process_b)
                if truthy(
                    select_row(
                        results.table("aim2_slope_tests"),
                        "aim2_slope_tests",
                        outcome=o.key,
                        process=q,
                    )[0]["singular"]
                )
            ]
            s = rich(
                f"for {post_label(o)}, the {lower_first(design.label(r.process_a))} and "
                f"{lower_first(design.label(r.process_b))} slopes of the ",
                count_value(row["n"], src.at("n")),
                " therapists correlated ",
                r_text(row, src),
            )
            if singular:
                models = plural(len(singular), "model was", "models were")
                s += rich(
                    f" (the {series(singular).plain} slope {models} singular, so this "
                    "correlation carries little information)"
                )
            corr.append(s)
    if corr:
        blocks.append(
            Paragraph(
                rich(
                    "Strengths and weaknesses across processes: ",
                    join(corr, "; "),
                    ". A positive correlation means that therapists whose patients benefit "
                    "more from one process also benefit more from the other. Empirical-Bayes "
                    "slopes are shrunken toward the average slope, so these correlations are "
                    "descriptive.",
                )
            )
        )
    blocks.append(
        Paragraph(
            rich(
                "Figure 2 shows every therapist's slope with its 95% interval; Table 3 gives "
                "the random-slope models."
            )
        )
    )
    return blocks
