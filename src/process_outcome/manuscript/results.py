"""Results section: descriptive statistics and one function per aim (Aims 1, 2 and 3)."""

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
    apa_df,
    apa_p,
    apa_p_value,
    apa_r,
    count_word,
    digits_for,
    it,
    join,
    lower_first,
    number,
    p_text,
    plural,
    r_text,
    ref,
    rich,
    series,
    significant,
    sub,
    t_test_text,
    value,
)
from process_outcome.manuscript.inputs import Design, Results
from process_outcome.manuscript.quoting import (
    beneficial,
    beneficial_sign,
    count_value,
    fill,
    outcome_direction,
    outcome_words,
    percent_value,
    post_label,
    select_row,
    singular_reason,
    truthy,
)

__all__ = [
    "aim1_results",
    "aim2_results",
    "aim3_results",
    "correlation_pair",
    "descriptive_results",
    "descriptive_row",
    "fixed_row",
    "moderation_sentence",
]


def descriptive_row(results: Results, variable: str) -> tuple[dict[str, Any], Ref]:
    return select_row(results.descriptives, "descriptives", variable=variable)


def descriptive_results(design: Design, results: Results) -> list[Block]:
    """Results: ICCs, patient-level and repeated-measures correlations; Tables 1–2."""
    blocks: list[Block] = [Heading(rich("Descriptive Statistics"), 2)]
    iccs = []
    for o in design.outcomes:
        row, src = descriptive_row(results, f"post_{o.key}")
        iccs.append(rich(value(apa_r(row["icc"]), src.at("icc")), f" for {post_label(o)}"))
    for p in design.processes:
        row, src = descriptive_row(results, f"{p.key}_mean")
        iccs.append(
            rich(
                value(apa_r(row["icc"]), src.at("icc")),
                f" for patients' mean {lower_first(p.label)} ratings",
            )
        )
    text = rich(
        "Table 1 gives descriptive statistics. The intraclass correlation (ICC), the share "
        "of variance lying between therapists, was ",
        series(iccs),
        ".",
    )
    corr = []
    for o in design.outcomes:
        for p in design.processes:
            row, src = correlation_pair(results.correlations, f"{p.key}_mean", f"post_{o.key}")
            corr.append(
                rich(
                    f"{lower_first(p.label)} with {post_label(o)}, ",
                    r_text(row, src),
                )
            )
    text += rich(
        " At the patient level (Table 2), patients' mean process ratings correlated as follows: ",
        join(corr, "; "),
        ".",
    )
    blocks.append(Paragraph(text))
    rm = []
    for o in design.outcomes:
        for p in design.processes:
            row, src = select_row(
                results.rm_correlations, "rm_correlations", outcome=o.key, process=p.key
            )
            symbol = it("r") + sub("rm")
            stats = rich(
                symbol,
                "(",
                value(apa_df(row["dof"]), src.at("dof")),
                ") = ",
                value(apa_r(row["r"]), src.at("r")),
                ", ",
                rich(
                    "95% CI [",
                    value(apa_r(row["ci_low"]), src.at("ci_low")),
                    ", ",
                    value(apa_r(row["ci_high"]), src.at("ci_high")),
                    "]",
                ),
                ", ",
                p_text(row["p"], src.at("p")),
            )
            if significant(row["p"]):
                words = "higher" if row["r"] > 0 else "lower"
                lead = rich(
                    f"sessions with higher {lower_first(p.label)} ratings went with {words} "
                    f"same-session {lower_first(o.label)}"
                )
            else:
                lead = rich(
                    f"{lower_first(p.label)} ratings were not significantly associated with "
                    f"same-session {lower_first(o.label)}"
                )
            rm.append(rich(lead, ", ", stats))
    blocks.append(
        Paragraph(
            rich(
                "Within patients, across their assessments (repeated-measures correlations), ",
                join(rm, "; "),
                ".",
            )
        )
    )
    return blocks


def correlation_pair(df: pd.DataFrame, a: str, b: str) -> tuple[dict[str, Any], Ref]:
    sel = df[((df["x"] == a) & (df["y"] == b)) | ((df["x"] == b) & (df["y"] == a))]
    if len(sel) != 1:
        raise ValueError(f"correlations: {len(sel)} rows for the pair {a}, {b}")
    row = sel.iloc[0].to_dict()
    return row, ref("correlations", x=row["x"], y=row["y"])


def fixed_row(df: pd.DataFrame, source: str, outcome: str, process: str, term: str):
    return select_row(df, source, outcome=outcome, process=process, term=term)


def aim1_results(design: Design, results: Results) -> list[Block]:
    """Results, Aim 1: within- and between-therapist associations, per outcome."""
    blocks: list[Block] = [Heading(rich("Aim 1: Within- and Between-Therapist Associations"), 2)]
    src = "aim1_fixed_effects"
    for o in design.outcomes:
        sentences = []
        for p in design.processes:
            w, wsrc = fixed_row(results.aim1, src, o.key, p.key, f"{p.key}_within")
            b, bsrc = fixed_row(results.aim1, src, o.key, p.key, f"{p.key}_between")
            if significant(w["p"]):
                s = rich(
                    f"Within therapists, patients whose {lower_first(p.label)} ratings were "
                    "higher than those of their therapist's other patients ended treatment "
                    f"with {outcome_words(o, w['estimate'])}, ",
                    t_test_text(w, wsrc),
                    ".",
                )
            else:
                s = rich(
                    f"The within-therapist (patient-level) association of "
                    f"{lower_first(p.label)} with {post_label(o)} was not statistically "
                    "significant, ",
                    t_test_text(w, wsrc),
                    ".",
                )
            sentences.append(s)
            if significant(b["p"]):
                s = rich(
                    "Between therapists, patients of therapists whose patients gave higher "
                    f"{lower_first(p.label)} ratings on average ended treatment with "
                    f"{outcome_words(o, b['estimate'])}, ",
                    t_test_text(b, bsrc),
                    ".",
                )
            else:
                s = rich(
                    f"The between-therapist (therapist-level) association of "
                    f"{lower_first(p.label)} with {post_label(o)} was not statistically "
                    "significant, ",
                    t_test_text(b, bsrc),
                    ".",
                )
            sentences.append(s)
            model = results.models[f"aim1/{o.key}/{p.key}"]
            if model["fit"]["singular"]:
                reason = singular_reason(model["fit"], f"aim1/{o.key}/{p.key}")
                sentences.append(
                    rich(
                        "This model's fit was singular (",
                        reason,
                        "): its estimates equal those of a single-level regression, and the "
                        "between-therapist test ignores clustering.",
                    )
                )
        if len(design.processes) > 1 and f"aim1/{o.key}/joint" in results.models:
            parts = []
            for part in ("within", "between"):
                sig, ns = [], []
                for p in design.processes:
                    row, rsrc = fixed_row(results.aim1, src, o.key, "joint", f"{p.key}_{part}")
                    item = rich(f"{lower_first(p.label)} (", t_test_text(row, rsrc), ")")
                    (sig if significant(row["p"]) else ns).append(item)
                text = rich(f"the {part}-therapist association was ")
                if sig:
                    text += rich("statistically significant for ", series(sig))
                    if ns:
                        text += rich(" but not for ", series(ns))
                else:
                    text += rich("not statistically significant for ", join(ns, ", ", " or "))
                parts.append(text)
            s = rich("With all processes in one model, ", join(parts, "; "), ".")
            joint = results.models[f"aim1/{o.key}/joint"]
            if joint["fit"]["singular"]:
                reason = singular_reason(joint["fit"], f"aim1/{o.key}/joint")
                s += rich(" The joint model's fit was singular (", reason, ").")
            sentences.append(s)
        head = rich(it(f"{o.label}. "))
        blocks.append(Paragraph(head + join(sentences, " ")))
    blocks.append(
        Paragraph(
            rich(
                "Table 3 lists every fixed effect and variance component; Figure 1 shows the "
                "within- and between-therapist associations of each process."
            )
        )
    )
    return blocks


def aim2_results(design: Design, results: Results) -> list[Block]:
    """Results, Aim 2: slope-variance tests, slope SD and range, beneficial share."""
    blocks: list[Block] = [
        Heading(rich("Aim 2: Therapist Differences in the Within-Therapist Association"), 2)
    ]
    for o in design.outcomes:
        for p in design.processes:
            t, tsrc = select_row(
                results.aim2_tests, "aim2_slope_tests", outcome=o.key, process=p.key
            )
            fx, fsrc = fixed_row(
                results.aim2_fixed, "aim2_fixed_effects", o.key, p.key, f"{p.key}_within"
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
        rows = results.aim2_correlations[results.aim2_correlations["outcome"] == o.key]
        for r in rows.itertuples(index=False):
            row, src = select_row(
                results.aim2_correlations,
                "aim2_slope_correlations",
                outcome=o.key,
                process_a=r.process_a,
                process_b=r.process_b,
            )
            singular = [
                lower_first(design.label(q))
                for q in (r.process_a, r.process_b)
                if truthy(
                    select_row(results.aim2_tests, "aim2_slope_tests", outcome=o.key, process=q)[0][
                        "singular"
                    ]
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


def aim3_results(design: Design, results: Results) -> list[Block]:
    """Results, Aim 3: cross-level interactions with raw and FDR p; simple slopes."""
    blocks: list[Block] = [Heading(rich("Aim 3: Therapist Characteristics as Moderators"), 2)]
    if not design.moderators:
        blocks.append(
            Paragraph(rich("No therapist characteristics were configured; Aim 3 was not tested."))
        )
        return blocks
    mod = results.aim3
    for o in design.outcomes:
        for p in design.processes:
            fam = mod[(mod["outcome"] == o.key) & (mod["process"] == p.key)]
            if fam.empty:
                continue
            k = len(fam)
            fsrc = ref("aim3_moderation", "<count>", outcome=o.key, process=p.key)
            lead = rich(
                f"For the within-therapist {lower_first(p.label)} slope on {post_label(o)}, ",
                value(count_word(k), fsrc) if k >= 10 else count_word(k),
                f" therapist {plural(k, 'characteristic')} {plural(k, 'was', 'were')} tested.",
            )
            parts = [lead]
            quiet = []
            singular: dict[str, list[str]] = {}
            for r in fam.itertuples(index=False):
                row, src = select_row(
                    mod, "aim3_moderation", outcome=o.key, process=p.key, moderator=r.moderator
                )
                m = design.measure(r.moderator)
                if significant(row["p_fdr"]) or significant(row["p"]):
                    parts.append(moderation_sentence(design, results, o, p, m, row, src))
                else:
                    quiet.append((row, src))
                if truthy(row["singular"]):
                    fit = results.models[f"aim3/{o.key}/{p.key}"]["fits"][m.key]
                    reason = singular_reason(fit).plain
                    singular.setdefault(reason, []).append(lower_first(m.label))
            if quiet:
                low = min(quiet, key=lambda x: x[0]["p"])
                high = max(quiet, key=lambda x: x[0]["p"])
                lowf = min(quiet, key=lambda x: x[0]["p_fdr"])
                other = "The" if len(quiet) == k else "The remaining"
                if len(quiet) == 1:
                    row, src = quiet[0]
                    name = lower_first(design.label(row["moderator"]))
                    parts.append(
                        rich(
                            f"{other} interaction with {name} was not statistically significant (",
                            t_test_text(row, src),
                            ", ",
                            it("p"),
                            sub("FDR"),
                            " ",
                            value(apa_p(row["p_fdr"]), src.at("p_fdr")),
                            ").",
                        )
                    )
                else:
                    parts.append(
                        rich(
                            f"{other} {count_word(len(quiet))} interactions were not "
                            "statistically significant (uncorrected ",
                            it("p"),
                            " from ",
                            value(apa_p_value(low[0]["p"]), low[1].at("p")),
                            " to ",
                            value(apa_p_value(high[0]["p"]), high[1].at("p")),
                            "; ",
                            it("p"),
                            sub("FDR"),
                            " ",
                            value(apa_p(lowf[0]["p_fdr"]).replace("= ", "≥ "), lowf[1].at("p_fdr")),
                            "; Table 4).",
                        )
                    )
            for reason, names in singular.items():
                n = len(names)
                models, verb = plural(n, "model"), plural(n, "was", "were")
                tests = plural(n, "its test is", "their tests are")
                parts.append(
                    rich(
                        f"The {models} with {series(names).plain} {verb} singular ({reason}); "
                        f"{tests} reported and marked in Table 4."
                    )
                )
            blocks.append(Paragraph(join(parts, " ")))
    blocks.append(
        Paragraph(
            rich(
                "Table 4 lists every interaction with raw and FDR-adjusted p values; Figure 3 "
                "shows the within-therapist slopes at low, average and high values of each "
                "characteristic."
            )
        )
    )
    return blocks


def moderation_sentence(
    design: Design,
    results: Results,
    o: Measure,
    p: Measure,
    m: Measure,
    row: Mapping[str, Any],
    src: Ref,
) -> Rich:
    fdr = rich(it("p"), sub("FDR"), " ", value(apa_p(row["p_fdr"]), src.at("p_fdr")))
    stats = rich(t_test_text(row, src), ", ", fdr)
    if not significant(row["p_fdr"]):
        return rich(
            f"The interaction with {lower_first(m.label)} was statistically significant "
            "before but not after FDR correction, ",
            stats,
            ".",
        )
    # The slope at a higher moderator value is γ_within + γ_interaction·m, so the
    # interaction's sign relative to the beneficial sign says whether it grows or fades.
    more = "more beneficial" if beneficial(o, row["estimate"]) else "less beneficial"
    if m.type == "binary":
        lead = rich(
            f"{m.label} moderated the slope: the within-therapist association was {more} "
            "for therapists coded 1 than for those coded 0, "
        )
    else:
        lead = rich(
            f"{m.label} moderated the slope: the higher therapists' {lower_first(m.label)}, "
            f"the {more} the within-therapist association, "
        )
    simple = results.aim3_simple
    sel = simple[
        (simple["outcome"] == o.key) & (simple["process"] == p.key) & (simple["moderator"] == m.key)
    ]
    where = {"-1 SD": "1 SD below the mean", "+1 SD": "1 SD above the mean", "mean": "the mean"}
    slopes = []
    for r in sel.itertuples(index=False):
        srow, ssrc = select_row(
            simple,
            "aim3_simple_slopes",
            outcome=o.key,
            process=p.key,
            moderator=m.key,
            level=r.level,
        )
        at = where.get(str(r.level), f"{lower_first(m.label)} = {r.level}")
        slopes.append(rich(f"at {at}, ", t_test_text(srow, ssrc, symbol="slope")))
    return rich(lead, stats, ". Simple slopes: ", join(slopes, "; "), ".")
