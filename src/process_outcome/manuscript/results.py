"""Results section: descriptive statistics and Aim 1 (Aims 2 and 3 are in
:mod:`~process_outcome.manuscript.results_aim2` and ``results_aim3``)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from process_outcome.document import (
    Block,
    Heading,
    Paragraph,
    Ref,
    apa_df,
    apa_r,
    ci_text,
    it,
    join,
    lower_first,
    p_text,
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
    outcome_words,
    post_label,
    select_row,
    singular_reason,
)

__all__ = [
    "aim1_results",
    "correlation_pair",
    "descriptive_results",
    "descriptive_row",
    "fixed_row",
]


def descriptive_row(results: Results, variable: str) -> tuple[dict[str, Any], Ref]:
    """The descriptives row of one variable and its :class:`Ref`."""
    return select_row(results.table("descriptives"), "descriptives", variable=variable)


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
            row, src = correlation_pair(
                results.table("correlations"), f"{p.key}_mean", f"post_{o.key}"
            )
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
                results.table("rm_correlations"), "rm_correlations", outcome=o.key, process=p.key
            )
            symbol = it("r") + sub("rm")
            stats = rich(
                symbol,
                "(",
                value(apa_df(row["dof"]), src.at("dof")),
                ") = ",
                value(apa_r(row["r"]), src.at("r")),
                ", ",
                ci_text(row["ci_low"], row["ci_high"], 2, src, lz=False),
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
    """The one correlation row of variables ``a`` and ``b`` (either order) and its Ref."""
    sel = df[((df["x"] == a) & (df["y"] == b)) | ((df["x"] == b) & (df["y"] == a))]
    if len(sel) != 1:
        raise ValueError(f"correlations: {len(sel)} rows for the pair {a}, {b}")
    row = sel.iloc[0].to_dict()
    return row, ref("correlations", x=row["x"], y=row["y"])


def fixed_row(df: pd.DataFrame, source: str, outcome: str, process: str, term: str):
    """The fixed-effect row of one outcome, process and term and its :class:`Ref`."""
    return select_row(df, source, outcome=outcome, process=process, term=term)


def aim1_results(design: Design, results: Results) -> list[Block]:
    """Results, Aim 1: within- and between-therapist associations, per outcome."""
    blocks: list[Block] = [Heading(rich("Aim 1: Within- and Between-Therapist Associations"), 2)]
    src = "aim1_fixed_effects"
    for o in design.outcomes:
        sentences = []
        for p in design.processes:
            w, wsrc = fixed_row(
                results.table("aim1_fixed_effects"), src, o.key, p.key, f"{p.key}_within"
            )
            b, bsrc = fixed_row(
                results.table("aim1_fixed_effects"), src, o.key, p.key, f"{p.key}_between"
            )
            if significant(w["p"]):
                s = rich(
                    f"Within therapists and controlling for baseline {lower_first(o.label)}, "
                    f"patients whose {lower_first(p.label)} ratings were higher than those of "
                    "their therapist's other patients ended treatment with "
                    f"{outcome_words(o, w['estimate'])}, ",
                    t_test_text(w, wsrc),
                    ".",
                )
            else:
                s = rich(
                    f"The within-therapist (patient-level) association of "
                    f"{lower_first(p.label)} with {post_label(o)}, controlling for baseline "
                    f"{lower_first(o.label)}, was not statistically significant, ",
                    t_test_text(w, wsrc),
                    ".",
                )
            sentences.append(s)
            if significant(b["p"]):
                s = rich(
                    f"Between therapists and controlling for baseline {lower_first(o.label)}, "
                    "patients of therapists whose patients gave higher "
                    f"{lower_first(p.label)} ratings on average ended treatment with "
                    f"{outcome_words(o, b['estimate'])}, ",
                    t_test_text(b, bsrc),
                    ".",
                )
            else:
                s = rich(
                    f"The between-therapist (therapist-level) association of "
                    f"{lower_first(p.label)} with {post_label(o)}, controlling for baseline "
                    f"{lower_first(o.label)}, was not statistically significant, ",
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
                    row, rsrc = fixed_row(
                        results.table("aim1_fixed_effects"), src, o.key, "joint", f"{p.key}_{part}"
                    )
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
            s = rich(
                f"With all processes in one model, controlling for baseline "
                f"{lower_first(o.label)}, ",
                join(parts, "; "),
                ".",
            )
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
