"""Results section, Aim 3: therapist characteristics as moderators."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from process_outcome.config import Measure
from process_outcome.document import (
    Block,
    Heading,
    Paragraph,
    Ref,
    Rich,
    apa_p,
    apa_p_value,
    count_word,
    it,
    join,
    lower_first,
    plural,
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
    post_label,
    select_row,
    singular_reason,
    truthy,
)

__all__ = ["aim3_results", "moderation_sentence"]


def aim3_results(design: Design, results: Results) -> list[Block]:
    """Results, Aim 3: cross-level interactions with raw and FDR p; simple slopes."""
    blocks: list[Block] = [Heading(rich("Aim 3: Therapist Characteristics as Moderators"), 2)]
    if not design.moderators:
        blocks.append(
            Paragraph(rich("No therapist characteristics were configured; Aim 3 was not tested."))
        )
        return blocks
    mod = results.table("aim3_moderation")
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
    """The Aim 3 sentence on one moderator's interaction and simple slopes."""
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
    simple = results.table("aim3_simple_slopes")
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
