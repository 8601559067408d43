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
    fill,
    post_label,
    select_row,
    singular_reason,
    truthy,
)

__all__ = [
    "ORIGINAL_MODERATOR",
    "ORIGINAL_PROCESS",
    "aim3_results",
    "moderation_sentence",
    "original_comparison",
]

# The published moderation finding this workflow replicates (docs/analysis_spec.md): by the
# spec's canonical measure keys, therapists' self-rated alliance-fostering effectiveness
# moderating the within-therapist alliance slope, lower self-ratings going with more benefit.
ORIGINAL_MODERATOR = "self_alliance"
ORIGINAL_PROCESS = "alliance"


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
                            "; @tbl:table4_moderation).",
                        )
                    )
            for reason, names in singular.items():
                n = len(names)
                models, verb = plural(n, "model"), plural(n, "was", "were")
                tests = plural(n, "its test is", "their tests are")
                # All of a family's models: a count, not the list of names again.
                which = (
                    f"All {count_word(n)} models"
                    if n == k and n > 1
                    else f"The {models} with {series(names).plain}"
                )
                parts.append(
                    rich(
                        f"{which} {verb} singular ({reason}); {tests} reported and marked in "
                        "@tbl:table4_moderation."
                    )
                )
            blocks.append(Paragraph(join(parts, " ")))
    comparison = original_comparison(design, results)
    if comparison is not None:
        blocks.append(comparison)
    blocks.append(
        Paragraph(
            rich(
                "@tbl:table4_moderation lists every interaction with raw and FDR-adjusted ",
                it("p"),
                " values; @fig:figure3_aim3_simple_slopes shows the "
                "within-therapist slopes at low, average and high "
                "values of each characteristic.",
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


def original_comparison(design: Design, results: Results) -> Paragraph | None:
    """How each outcome's self-rated alliance ability × alliance interaction compares with
    Coyne and Constantino (2022): lower self-ratings, more benefit from the alliance.

    The original direction is a non-beneficial interaction sign: the within-therapist
    slope ``γ_within + γ_interaction · m`` grows less beneficial as the self-rating ``m``
    rises. ``None`` when that moderator or process is not configured.
    """
    mod = results.table("aim3_moderation")
    keys = {m.key for m in design.moderators}
    if ORIGINAL_MODERATOR not in keys or ORIGINAL_PROCESS not in {p.key for p in design.processes}:
        return None
    m = design.measure(ORIGINAL_MODERATOR)
    p = design.measure(ORIGINAL_PROCESS)
    parts = []
    for o in design.outcomes:
        sel = mod[
            (mod["outcome"] == o.key) & (mod["process"] == p.key) & (mod["moderator"] == m.key)
        ]
        if sel.empty:
            continue
        row, src = select_row(mod, "aim3_moderation", outcome=o.key, process=p.key, moderator=m.key)
        more = "more" if beneficial(o, row["estimate"]) else "less"
        same = "the opposite direction to" if more == "more" else "the same direction as"
        if significant(row["p_fdr"]):
            verdict = "statistically significant after FDR correction"
        elif significant(row["p"]):
            verdict = "statistically significant before but not after FDR correction"
        else:
            verdict = "not statistically significant"
        fdr = rich(it("p"), sub("FDR"), " ", value(apa_p(row["p_fdr"]), src.at("p_fdr")))
        parts.append(
            fill(
                "For {outcome}, the higher therapists' {moderator}, the {more} beneficial "
                "their within-therapist {process} association ({stats}, {fdr}): "
                "{same} the original report, and {verdict}.",
                outcome=post_label(o),
                moderator=lower_first(m.label),
                more=more,
                process=lower_first(p.label),
                stats=t_test_text(row, src),
                fdr=fdr,
                same=same,
                verdict=verdict,
            )
        )
    if not parts:
        return None
    lead = rich(
        "Comparison with the original report: Coyne and Constantino found that "
        "therapists who rated their own alliance-fostering ability lower drew more benefit "
        "from the alliance (a stronger within-therapist alliance–outcome association)."
    )
    return Paragraph(join([lead, *parts], " "))
