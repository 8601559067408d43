"""Results section, Aim 2: therapist differences in the within-therapist association."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from process_outcome.config import Measure
from process_outcome.document import (
    Block,
    Heading,
    Paragraph,
    Ref,
    Rich,
    apa_r,
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
    select_table,
    singular_reason,
    truthy,
)
from process_outcome.manuscript.results import fixed_row

__all__ = ["aim2_results", "bound_number", "lr_test_text", "share_text", "slope_sd_interval"]


def bound_number(x: float, digits: int, source: Ref) -> Rich:
    """A CI bound; a bound that is exactly 0 (an SD's profile at its boundary) prints 0."""
    return value("0", source) if float(x) == 0.0 else number(x, digits, source)


def slope_sd_interval(t: Mapping[str, Any], src: Ref, digits: int) -> Rich:
    """``[0.18, 0.83]``: the profile-likelihood CI of a slope SD (en dash if absent)."""
    if pd.isna(t.get("slope_sd_ci_low")) or pd.isna(t.get("slope_sd_ci_high")):
        return rich("[–, –]")
    return rich(
        "[",
        bound_number(t["slope_sd_ci_low"], digits, src.at("slope_sd_ci_low")),
        ", ",
        bound_number(t["slope_sd_ci_high"], digits, src.at("slope_sd_ci_high")),
        "]",
    )


def share_text(share: float, src: Ref, exact: bool = False) -> Rich:
    """A share as a percentage; ``> 99`` / ``< 1`` where a whole number would print 100
    or 0 for a share that is not ``exact`` (a normal distribution's tail is never 0)."""
    scaled = Ref(src.source, src.key, src.column, 100.0)
    if share >= 0.995 and not (exact and share == 1):
        return value("> 99", scaled)
    if share < 0.005 and not (exact and share == 0):
        return value("< 1", scaled)
    return percent_value(share, src)


def lr_test_text(t: Mapping[str, Any], src: Ref) -> Rich:
    """``LR = 6.46, p = .025 (equal mixture of χ² distributions with one and two df)``:
    the reference distribution of a variance tested at its boundary (spelled out in words,
    so that every digit in the Results is a statistic)."""
    return fill(
        "{LR} = {lr}, {p} (equal mixture of χ² distributions with one and two {df})",
        LR=it("LR"),
        lr=number(t["lr"], 2, src.at("lr")),
        p=p_text(t["p_mixture"], src.at("p_mixture")),
        df=it("df"),
    )


def aim2_results(design: Design, results: Results) -> list[Block]:
    """Results, Aim 2: slope-variance tests, slope SD and range, beneficial share."""
    blocks: list[Block] = [
        Heading(rich("Aim 2: Therapist Differences in the Within-Therapist Association"), 2)
    ]
    for o in design.outcomes:
        for p in design.processes:
            t, tsrc = select_table(results, "aim2_slope_tests", outcome=o.key, process=p.key)
            fx, fsrc = fixed_row(
                results.table("aim2_fixed_effects"),
                "aim2_fixed_effects",
                o.key,
                p.key,
                f"{p.key}_within",
            )
            d = digits_for(t["slope_sd"])
            test = lr_test_text(t, tsrc)
            spread = fill(
                "the SD of therapists' slopes was estimated at {sd} (95% profile-likelihood "
                "CI {ci}), so 95% of therapists' slopes would lie between {low} and {high} "
                "around the average slope ({average})",
                sd=number(t["slope_sd"], d, tsrc.at("slope_sd")),
                ci=slope_sd_interval(t, tsrc, d),
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
            good = -1.0 if o.higher_is == "worse" else 1.0
            # The model-implied share first: the EB slopes are shrunken toward the average
            # slope, so counting them understates how many therapists the fitted
            # distribution puts on the other side of zero.
            s += fill(
                " The fitted distribution of slopes (normal, with the average slope as mean "
                "and the slope SD) implies that {percent}% of therapists have a {sign} "
                "slope, the beneficial direction in which higher {process} ratings go with "
                "{direction}; {k} of the {n} therapists with at least two patients had a "
                "{sign} empirical-Bayes slope (a therapist with one patient has no "
                "within-therapist contrast, so that slope carries no information of its own "
                "and is not counted).",
                percent=share_text(
                    float(t["share_implied"]),
                    tsrc.at("share_implied"),
                    exact=float(t["slope_sd"]) == 0,
                ),
                sign=beneficial_sign(o),
                process=lower_first(p.label),
                direction=outcome_direction(o, good),
                k=count_value(int(t["n_eb_beneficial"]), tsrc.at("n_eb_beneficial")),
                n=count_value(int(t["n_eb_therapists"]), tsrc.at("n_eb_therapists")),
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
    corr = [
        correlation_text(design, results, o, str(r.process_a), str(r.process_b))
        for o in design.outcomes
        for r in results.table("aim2_slope_correlations")[
            results.table("aim2_slope_correlations")["outcome"] == o.key
        ].itertuples(index=False)
    ]
    if corr:
        blocks.append(
            Paragraph(
                rich(
                    "Strengths and weaknesses across processes were described by the "
                    "correlation of therapists' empirical-Bayes slopes on two processes. ",
                    join(corr, " "),
                    " Because higher ratings of every process are meant to help, a "
                    "positive correlation means that therapists whose patients benefit more "
                    "from one process also benefit more from the other, and a negative one "
                    "that a strength with one process goes with a weakness with the other. "
                    "Empirical-Bayes slopes are shrunken toward the average slope, so these "
                    "correlations are descriptive.",
                )
            )
        )
    blocks.append(
        Paragraph(
            rich(
                "@fig:figure2_aim2_caterpillar shows every therapist's slope "
                "with its 95% interval; @tbl:table3_aims12 gives "
                "the random-slope models."
            )
        )
    )
    return blocks


def correlation_text(design: Design, results: Results, o: Measure, a: str, b: str) -> Rich:
    """One slope correlation: with CI and p, or the point estimate only when either slope
    model is singular (then the slopes are not identified apart from the intercepts)."""
    row, src = select_table(
        results,
        "aim2_slope_correlations",
        outcome=o.key,
        process_a=a,
        process_b=b,
    )
    words = {
        "outcome": post_label(o),
        "a": lower_first(design.label(a)),
        "b": lower_first(design.label(b)),
        "n": count_value(row["n"], src.at("n")),
    }
    singular = [
        lower_first(design.label(q))
        for q in (a, b)
        if truthy(
            select_table(results, "aim2_slope_tests", outcome=o.key, process=q)[0]["singular"]
        )
    ]
    if truthy(row.get("singular", False)) or singular:
        r = rich(it("r"), " = ", value(apa_r(row["r"]), src.at("r")))
        models = plural(len(singular), "model was", "models were")
        return fill(
            "For {outcome}, the {a} and {b} slopes of the {n} therapists correlated {r}, "
            "given without a confidence interval or test because the {names} slope {models} "
            "singular: those slopes are not identified apart from the therapist intercepts, "
            "so the correlation partly restates how the intercepts correlate.",
            r=r,
            names=series(singular).plain,
            models=models,
            **words,
        )
    meaning = (
        "therapists whose patients benefited more from one process tended to benefit more "
        "from the other"
        if float(row["r"]) > 0
        else "therapists whose patients benefited more from one process tended to benefit "
        "less from the other"
    )
    return fill(
        "for {outcome}, the {a} and {b} slopes of the {n} therapists correlated {r}: {meaning}",
        r=r_text(row, src),
        meaning=meaning,
        **words,
    )
