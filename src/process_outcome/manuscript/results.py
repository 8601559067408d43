"""Results section: descriptive statistics and Aim 1 (Aims 2 and 3 are in
:mod:`~process_outcome.manuscript.results_aim2` and ``results_aim3``)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from process_outcome.analysis.aims import PARTS
from process_outcome.document import (
    Block,
    Heading,
    Paragraph,
    Ref,
    Rich,
    apa_df,
    apa_r,
    ci_text,
    digits_for,
    it,
    join,
    lower_first,
    number,
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
    fill,
    outcome_words,
    percent_value,
    post_label,
    select_row,
    select_table,
    singular_reason,
    truthy,
)

__all__ = [
    "aim1_results",
    "between_effect_blocks",
    "correlation_pair",
    "descriptive_results",
    "descriptive_row",
    "fixed_row",
]


def descriptive_row(results: Results, variable: str) -> tuple[dict[str, Any], Ref]:
    """The descriptives row of one variable and its :class:`Ref`."""
    return select_table(results, "descriptives", variable=variable)


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
        "@tbl:table1_descriptives gives descriptive statistics. The "
        "intraclass correlation (ICC), the share "
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
        " At the patient level (@tbl:table2_correlations), patients' "
        "mean process ratings correlated as follows: ",
        join(corr, "; "),
        ".",
    )
    blocks.append(Paragraph(text))
    rm = []
    for o in design.outcomes:
        for p in design.processes:
            row, src = select_table(results, "rm_correlations", outcome=o.key, process=p.key)
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


# One sentence per within/between effect of an aim 1 model, by whether it is significant.
AIM1_SENTENCES = {
    ("within", True): (
        "Within therapists and controlling for baseline {outcome}, patients whose "
        "{process} ratings were higher than those of their therapist's other "
        "patients ended treatment with {words}, {test}."
    ),
    ("within", False): (
        "The within-therapist (patient-level) association of {process} with "
        "{post}, controlling for baseline {outcome}, was not statistically "
        "significant, {test}."
    ),
    ("between", True): (
        "Between therapists and controlling for baseline {outcome}, patients of "
        "therapists whose patients gave higher {process} ratings on average ended "
        "treatment with {words}, {test}."
    ),
    ("between", False): (
        "The between-therapist (therapist-level) association of {process} with "
        "{post}, controlling for baseline {outcome}, was not statistically "
        "significant, {test}."
    ),
}


def aim1_results(design: Design, results: Results) -> list[Block]:
    """Results, Aim 1: within- and between-therapist associations, per outcome."""
    blocks: list[Block] = [Heading(rich("Aim 1: Within- and Between-Therapist Associations"), 2)]
    src = "aim1_fixed_effects"
    fx = results.table(src)
    for o in design.outcomes:
        sentences = []
        for p in design.processes:
            for part in PARTS:
                row, rsrc = fixed_row(fx, src, o.key, p.key, f"{p.key}_{part}")
                sentences.append(
                    fill(
                        AIM1_SENTENCES[part, significant(row["p"])],
                        outcome=lower_first(o.label),
                        process=lower_first(p.label),
                        post=post_label(o),
                        words=outcome_words(o, row["estimate"]),
                        test=t_test_text(row, rsrc),
                    )
                )
            model = results.models[f"aim1/{o.key}/{p.key}"]
            if model["fit"]["singular"]:
                reason = singular_reason(model["fit"], f"aim1/{o.key}/{p.key}")
                sentences.append(
                    fill(
                        "This model's fit was singular ({reason}): its estimates equal those "
                        "of a single-level regression, and the between-therapist test ignores "
                        "clustering.",
                        reason=reason,
                    )
                )
        if len(design.processes) > 1 and f"aim1/{o.key}/joint" in results.models:
            parts = []
            for part in PARTS:
                sig, ns = [], []
                for p in design.processes:
                    row, rsrc = fixed_row(fx, src, o.key, "joint", f"{p.key}_{part}")
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
            s = fill(
                "With all processes in one model, controlling for baseline {outcome}, "
                "{associations}.",
                outcome=lower_first(o.label),
                associations=join(parts, "; "),
            )
            joint = results.models[f"aim1/{o.key}/joint"]
            if joint["fit"]["singular"]:
                reason = singular_reason(joint["fit"], f"aim1/{o.key}/joint")
                s += rich(" The joint model's fit was singular (", reason, ").")
            sentences.append(s)
        head = rich(it(f"{o.label}. "))
        blocks.append(Paragraph(head + join(sentences, " ")))
    blocks += between_effect_blocks(design, results)
    blocks.append(
        Paragraph(
            rich(
                "@tbl:table3_aims12 lists every fixed effect and variance "
                "component; @fig:figure1_aim1_forest shows the "
                "within- and between-therapist associations of each process."
            )
        )
    )
    return blocks


def _bound_digits(digits: int, *bounds: float) -> int:
    """Decimals for CI bounds: one more (up to 4) while a nonzero bound would print as 0."""
    while digits < 4 and any(b != 0 and abs(b) < 0.5 * 10**-digits for b in bounds):
        digits += 1
    return digits


def _ci(row: dict[str, Any], src: Ref, digits: int, low: str = "ci_low", high: str = "ci_high"):
    """``95% CI [lo, hi]`` with no nonzero bound printed as zero."""
    d = _bound_digits(digits, row[low], row[high])
    return rich(
        "95% CI [",
        number(row[low], d, src.at(low)),
        ", ",
        number(row[high], d, src.at(high)),
        "]",
    )


def _z_test_text(row: dict[str, Any], src: Ref, symbol: Rich | str = "γ") -> Rich:
    """A Wald z test: ``γ = −0.43, SE = 0.32, z = −1.32, p = .186, 95% CI [−1.06, 0.21]``."""
    d = digits_for(row["se"])
    return rich(
        symbol,
        " = ",
        number(row["estimate"], d, src.at("estimate")),
        ", ",
        it("SE"),
        " = ",
        number(row["se"], d, src.at("se")),
        ", ",
        it("z"),
        " = ",
        number(row["t"], 2, src.at("t")),
        ", ",
        p_text(row["p"], src.at("p")),
        ", ",
        _ci(row, src, d),
    )


def _between_row(results: Results, o: str, p: str, method: str, part: str):
    return select_table(
        results,
        "aim1_between_corrected",
        outcome=o,
        model=p,
        process=p,
        method=method,
        part=part,
    )


def between_effect_blocks(design: Design, results: Results) -> list[Block]:
    """Results, Aim 1: reliability of therapists' means, latent-mean between effects,
    contextual effects and effect sizes (nothing when those tables are absent)."""
    icc = results.optional("icc_therapist_means")
    between = results.optional("aim1_between_corrected")
    if icc is None or between is None or results.optional("effect_sizes_r2") is None:
        return []
    reliabilities = []
    caseload = None
    for p in design.processes:
        row, src = select_row(icc, "icc_therapist_means", variable=f"{p.key}_mean")
        caseload = caseload or number(row["caseload_mean"], 1, src.at("caseload_mean"))
        reliabilities.append(
            fill(
                "{icc2} for {label}",
                icc2=value(apa_r(row["icc2_mean_caseload"]), src.at("icc2_mean_caseload")),
                label=lower_first(p.label),
            )
        )
    sentences = [
        fill(
            "Therapists' observed means rested on few patients: at the mean caseload of "
            "{caseload} patients, the reliability of a therapist's mean rating, ICC(2) "
            "(Bliese, 2000), was {reliabilities}, so the between-therapist associations above "
            "are pulled toward the within-therapist ones (Lüdtke et al., 2008).",
            caseload=caseload,
            reliabilities=series(reliabilities),
        )
    ]
    for o in design.outcomes:
        for p in design.processes:
            ob, osrc = _between_row(results, o.key, p.key, "observed_mean", "between")
            oc, ocsrc = _between_row(results, o.key, p.key, "observed_mean", "contextual")
            latent = between[
                (between["outcome"] == o.key)
                & (between["model"] == p.key)
                & (between["method"] == "latent_mean")
            ]
            if latent.empty:
                sentences.append(
                    fill(
                        "The latent covariate model of {process} and {outcome} could not be "
                        "fitted; with observed means, the contextual effect (between − "
                        "within) was {observed_ctx}.",
                        process=lower_first(p.label),
                        outcome=post_label(o),
                        observed_ctx=t_test_text(oc, ocsrc, "Δγ"),
                    )
                )
                continue
            lb, lsrc = _between_row(results, o.key, p.key, "latent_mean", "between")
            lc, lcsrc = _between_row(results, o.key, p.key, "latent_mean", "contextual")
            d = digits_for(ob["se"])
            sentences.append(
                fill(
                    "With therapists' means of {process} treated as latent variables and "
                    "controlling for baseline {baseline}, the between-therapist association "
                    "with {outcome} was {latent} (observed "
                    "means: γ = {observed}); the contextual effect (between − within) was "
                    "{latent_ctx} with latent means and {observed_ctx} with observed means.",
                    process=lower_first(p.label),
                    baseline=lower_first(o.label),
                    outcome=post_label(o),
                    latent=_z_test_text(lb, lsrc),
                    observed=number(ob["estimate"], d, osrc.at("estimate")),
                    latent_ctx=_z_test_text(lc, lcsrc, "Δγ"),
                    observed_ctx=t_test_text(oc, ocsrc, "Δγ"),
                )
            )
            if truthy(lb["singular"]):
                sentences.append(
                    rich(
                        "Therapists' latent means of this process had no variance in the "
                        "latent covariate model, so its between-therapist effect is not "
                        "identified there."
                    )
                )
            elif not truthy(lb["converged"]):
                sentences.append(
                    rich(
                        "The latent covariate model did not reach a confirmed maximum (a "
                        "variance at its boundary), so these latent-mean estimates are "
                        "unreliable."
                    )
                )
    blocks: list[Block] = [Paragraph(join(sentences, " "))]
    effect = []
    for o in design.outcomes:
        for p in design.processes:
            row, src = select_table(
                results,
                "effect_sizes_r2",
                aim="aim1",
                outcome=o.key,
                model=p.key,
            )
            text = fill(
                "In the Aim 1 model of {outcome} with {process}, the fixed effects (baseline "
                "and process) explained {f1}% of the outcome variance through their "
                "within-therapist parts and {f2}% through their between-therapist parts, "
                "therapists' intercept differences a further {m}%, and {resid}% remained "
                "residual; the conditional ICC was {cicc}.",
                outcome=post_label(o),
                process=lower_first(p.label),
                f1=percent_value(row["r2_f1"], src.at("r2_f1")),
                f2=percent_value(row["r2_f2"], src.at("r2_f2")),
                m=percent_value(row["r2_m"], src.at("r2_m")),
                resid=percent_value(row["r2_sigma2"], src.at("r2_sigma2")),
                cicc=value(apa_r(row["conditional_icc"]), src.at("conditional_icc")),
            )
            if results.optional("standardized_effects") is not None:
                std = {}
                for part in PARTS:
                    srow, ssrc = select_table(
                        results,
                        "standardized_effects",
                        outcome=o.key,
                        model=p.key,
                        term=f"{p.key}_{part}",
                    )
                    std[part] = rich(
                        "β = ",
                        number(srow["std_estimate"], 2, ssrc.at("std_estimate")),
                        ", ",
                        _ci(srow, ssrc, 2, "std_ci_low", "std_ci_high"),
                    )
                text += rich(" ") + fill(
                    "Standardized, the within-therapist association was {within} and the "
                    "between-therapist association {between}.",
                    within=std["within"],
                    between=std["between"],
                )
            effect.append(text)
        slopes = []
        for p in design.processes:
            sel = results.optional("effect_sizes_r2")[
                (results.optional("effect_sizes_r2")["aim"] == "aim2")
                & (results.optional("effect_sizes_r2")["outcome"] == o.key)
                & (results.optional("effect_sizes_r2")["model"] == p.key)
            ]
            if len(sel) == 1:
                row, src = select_table(
                    results,
                    "effect_sizes_r2",
                    aim="aim2",
                    outcome=o.key,
                    model=p.key,
                )
                slopes.append(
                    fill(
                        "{v}% ({process})",
                        v=percent_value(row["r2_v"], src.at("r2_v")),
                        process=lower_first(p.label),
                    )
                )
        if slopes:
            effect.append(
                fill(
                    "In the Aim 2 models of {outcome}, therapists' differences in the "
                    "within-therapist slope accounted for {shares} of the outcome variance.",
                    outcome=post_label(o),
                    shares=series(slopes),
                )
            )
    blocks.append(
        Paragraph(
            fill(
                "Effect sizes (variance decomposition of Rights & Sterba, 2019). {sentences}",
                sentences=join(effect, " "),
            )
        )
    )
    return blocks
