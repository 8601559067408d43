"""Tables 1–4: descriptives, correlations, Aims 1–2 models, Aim 3 moderation."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from process_outcome.document import (
    EN_DASH,
    Ref,
    Rich,
    Row,
    Table,
    apa_df,
    apa_p_value,
    apa_r,
    bold,
    count_word,
    digits_for,
    interval,
    it,
    number,
    ref,
    rich,
    sub,
    sup,
    value,
)
from process_outcome.manuscript.inputs import GROUP, Design, Results
from process_outcome.manuscript.quoting import (
    SINGULAR_FOOTNOTE,
    STARS_NOTE,
    count_value,
    percent_value,
    select_row,
    select_table,
    slope_correlation,
    stars,
    truthy,
)
from process_outcome.manuscript.robustness import table5

__all__ = [
    "TABLE_FUNCTIONS",
    "coefficient_cells",
    "fixed_rows",
    "slope_rows",
    "table1",
    "table1_cells",
    "table2",
    "table3",
    "table4",
    "vc_rows",
]


def correlation_pair(df: pd.DataFrame, a: str, b: str) -> tuple[dict[str, Any], Ref]:
    """The one correlation row of variables ``a`` and ``b`` (either order) and its Ref."""
    sel = df[((df["x"] == a) & (df["y"] == b)) | ((df["x"] == b) & (df["y"] == a))]
    if len(sel) != 1:
        raise ValueError(f"correlations: {len(sel)} rows for the pair {a}, {b}")
    row = sel.iloc[0].to_dict()
    return row, ref("correlations", x=row["x"], y=row["y"])


def slope_sd_interval(t: Mapping[str, Any], src: Ref, digits: int) -> Rich:
    """``[0.18, 0.83]``: the profile-likelihood CI of a slope SD (en dash if absent); a
    bound at the boundary (0) prints with the other bound's decimals."""
    if pd.isna(t.get("slope_sd_ci_low")) or pd.isna(t.get("slope_sd_ci_high")):
        return rich("[–, –]")
    return interval(
        t["slope_sd_ci_low"],
        t["slope_sd_ci_high"],
        digits,
        src,
        columns=("slope_sd_ci_low", "slope_sd_ci_high"),
    )


def table1_cells(r: Any, binary: bool) -> tuple[Rich, ...]:
    """Table 1 cells of one variable: n, M, SD, min, max and ICC.

    Counts (the caseload) print their minimum and maximum as whole numbers; a binary
    therapist characteristic prints n (%) of therapists coded 1 in the M column, not a
    mean and SD of a 0/1 variable.
    """
    src = ref("descriptives", variable=r.variable)
    dash = rich(EN_DASH)
    icc = value(apa_r(r.icc), src.at("icc")) if not pd.isna(r.icc) else dash
    if binary:
        ones = value(f"{round(r.mean * r.n):d}", Ref(src.source, src.key, "mean", float(r.n)))
        share = percent_value(r.mean, src.at("mean"))
        return (count_value(r.n, src.at("n")), rich(ones, " (", share, "%)"), dash, dash, dash, icc)
    # Counts and occasions range over whole numbers.
    whole = r.variable == "caseload" or r.variable.startswith("post_occasion_")
    low, high = (
        (count_value(r.min, src.at("min")), count_value(r.max, src.at("max")))
        if whole
        else (number(r.min, 2, src.at("min")), number(r.max, 2, src.at("max")))
    )
    return (
        count_value(r.n, src.at("n")),
        number(r.mean, 2, src.at("mean")),
        number(r.sd, 2, src.at("sd")),
        low,
        high,
        icc,
    )


def table1(design: Design, results: Results) -> Table:
    """Table 1: descriptive statistics and ICCs at the session, patient and therapist level."""
    d = results.table("descriptives")
    binary = {m.key for m in design.moderators if m.type == "binary"}
    rows: list[Row] = []
    names = {"session": "Session level", "patient": "Patient level", "therapist": "Therapist level"}
    for level, title in names.items():
        part = d[d["level"] == level]
        if part.empty:
            continue
        rows.append(Row((rich(title),), "panel"))
        for r in part.itertuples(index=False):
            is_binary = (level == "therapist" and r.variable in binary) or r.variable.startswith(
                "post_early_"
            )
            rows.append(Row((rich(str(r.label)), *table1_cells(r, is_binary)), indent=1))
    note = rich(
        "Session level: every assessment of the analysis sample. Patient level: one value "
        "per patient (baseline = first and post = last non-missing assessment; patient mean "
        "= mean of the patient's ratings). Therapist level: one value per therapist, "
        "characteristics on their original (uncentered) scale",
    )
    if any(v.startswith("post_early_") for v in d["variable"]):
        note += rich(
            "; occasion of post = assessment occasion of the post score; post before "
            "occasion: the ",
            it("M"),
            " column gives ",
            it("n"),
            " (%) of patients whose last assessment came before the study's last occasion",
        )
    if binary & set(d["variable"]):
        note += rich("; for a binary characteristic, the ", it("M"), " column gives ")
        note += rich(it("n"), " (%) of therapists coded 1")
    note += rich(
        ". ",
        it("n"),
        " = number of observations; ",
        it("M"),
        " = mean; ",
        it("SD"),
        " = standard deviation; ICC = intraclass correlation, the between-therapist share "
        "of variance, τ",
        sub("00"),
        "/(τ",
        sub("00"),
        " + σ²), from a random-intercept model fitted by REML.",
    )
    cols = (rich("Variable"), it("n"), it("M"), it("SD"), rich("Min"), rich("Max"), rich("ICC"))
    return Table(
        "table1_descriptives",
        "1",
        "Descriptive Statistics and Intraclass Correlations",
        cols,
        tuple(rows),
        note,
    )


def table2(design: Design, results: Results) -> Table:
    """Table 2: correlations of patient-level variables (lower triangle)."""
    c = results.table("correlations")
    variables = list(dict.fromkeys([*c["x"], *c["y"]]))
    order = {v: i for i, v in enumerate(dict.fromkeys(list(c["x"]) + list(c["y"])))}
    variables.sort(key=order.get)
    labels = dict(
        zip(
            results.table("descriptives")["variable"],
            results.table("descriptives")["label"],
            strict=False,
        )
    )
    rows = []
    for i, a in enumerate(variables):
        cells = [rich(f"{i + 1}. {labels.get(a, a)}")]
        for j, b in enumerate(variables):
            if j < i:
                row, src = correlation_pair(c, a, b)
                cells.append(value(apa_r(row["r"]), src.at("r")) + stars(row["p"]))
            elif j == i:
                cells.append(rich("—"))
            else:
                cells.append(rich(""))
        rows.append(Row(tuple(cells)))
    ns = sorted(set(int(n) for n in c["n"]))
    n_text = str(ns[0]) if len(ns) == 1 else f"{ns[0]}{EN_DASH}{ns[-1]}"
    note = rich(
        it("N"),
        f" = {n_text} patients. Pearson correlations. Baseline = first and post = last "
        "non-missing assessment; process variables are the patient's mean rating. ",
        STARS_NOTE,
    )
    cols = (rich("Variable"), *(rich(str(i + 1)) for i in range(len(variables))))
    return Table(
        "table2_correlations",
        "2",
        "Correlations of Patient-Level Variables",
        cols,
        tuple(rows),
        note,
    )


def coefficient_cells(r: Any, d: int, src: Any, fdr: bool = False) -> tuple[Any, ...]:
    """The cells of one coefficient in Tables 3 and 4: estimate, SE, df, t, p (and the
    FDR-adjusted p), 95% CI, each tied to its results-table cell by ``src``."""
    cells = [
        number(r.estimate, d, src.at("estimate")),
        number(r.se, d, src.at("se")),
        value(apa_df(r.df), src.at("df")),
        number(r.t, 2, src.at("t")),
        value(apa_p_value(r.p), src.at("p")),
    ]
    if fdr:
        cells.append(value(apa_p_value(r.p_fdr), src.at("p_fdr")))
    cells.append(interval(r.ci_low, r.ci_high, d, src))
    return tuple(cells)


def fixed_rows(design: Design, df: pd.DataFrame, source: str, o: str, p: str) -> list[Row]:
    """Table 3 rows of one model's fixed effects."""
    rows = []
    part = df[(df["outcome"] == o) & (df["process"] == p)]
    for r in part.itertuples(index=False):
        src = ref(source, outcome=o, process=p, term=r.term)
        d = digits_for(r.se)
        rows.append(
            Row(
                (
                    rich(design.term_label(r.term)),
                    *coefficient_cells(r, d, src),
                ),
                indent=1,
            )
        )
    return rows


def vc_rows(
    model: Mapping[str, Any],
    name: str,
    slope: str | None,
    variance: pd.DataFrame | None = None,
) -> list[Row]:
    """Table 3 rows of one model's variance components (and correlation).

    Values come from ``variance_components.csv`` (``variance``; the model summary only
    when that table is absent) with at least two significant digits, so that a slope
    variance of 0.00043 does not print as 0.000 beside a slope SD of 0.021.
    """
    aim, outcome, process = name.split("/")
    items: list[tuple[Rich, str, str | None]] = [
        (rich("Intercept variance (τ", sub("00"), ")"), "intercept_var", f"{GROUP}|(Intercept)|")
    ]
    if slope:
        items.append((rich("Slope variance (τ", sub("11"), ")"), "slope_var", f"{GROUP}|{slope}|"))
        items.append(
            (rich("Intercept–slope correlation (ρ", sub("01"), ")"), "intercept_slope_cor", None)
        )
    items.append((rich("Residual variance (σ²)"), "residual_var", "Residual||"))
    rows = [Row((rich("Random effects"),), "subpanel")]
    empty = rich("")
    if variance is not None:
        row, src = select_row(
            variance, "variance_components", aim=aim, outcome=outcome, process=process
        )
    for label, column, key in items:
        if variance is not None:
            x = row[column]
            if column == "intercept_slope_cor":
                cell = value(apa_r(x), src.at(column)) if not pd.isna(x) else rich(EN_DASH)
            else:
                cell = number(x, digits_for(x, minimum=3, maximum=6), src.at(column))
        elif key is not None:
            x = float(model["fit"]["variance_components"].get(key) or 0.0)
            source = ref(f"models/{name}", f"fit.variance_components.{key}")
            cell = number(x, digits_for(x, minimum=3, maximum=6), source)
        else:
            computed = slope_correlation(model, str(slope))
            cell = rich(apa_r(computed)) if computed is not None else rich(EN_DASH)
        rows.append(Row((label, cell, empty, empty, empty, empty, empty), indent=1))
    if variance is not None:
        rows.append(
            Row(
                (
                    rich("REML log-likelihood"),
                    number(row["reml_loglik"], 2, src.at("reml_loglik")),
                    empty,
                    empty,
                    empty,
                    empty,
                    empty,
                ),
                indent=1,
            )
        )
    return rows


def slope_rows(t: Mapping[str, Any], tsrc: Ref) -> list[Row]:
    """Table 3 rows of an Aim 2 model's slope SD (profile-likelihood CI), the range of
    therapists' slopes and the mixture likelihood-ratio test."""
    empty = rich("")
    d = digits_for(t["slope_sd"])
    return [
        Row(
            (
                rich("Slope SD (τ", sub("11"), sup("½"), ")"),
                number(t["slope_sd"], d, tsrc.at("slope_sd")),
                empty,
                empty,
                empty,
                empty,
                slope_sd_interval(t, tsrc, d) + sup("b"),
            ),
            indent=1,
        ),
        Row(
            (
                rich("95% range of therapists' slopes", sup("c")),
                empty,
                empty,
                empty,
                empty,
                empty,
                rich(
                    "[",
                    number(t["slope_low"], d, tsrc.at("slope_low")),
                    ", ",
                    number(t["slope_high"], d, tsrc.at("slope_high")),
                    "]",
                ),
            ),
            indent=1,
        ),
        Row(
            (
                rich(it("LR"), " test of the slope variance"),
                number(t["lr"], 2, tsrc.at("lr")),
                empty,
                rich("1, 2"),
                empty,
                value(apa_p_value(t["p_mixture"]), tsrc.at("p_mixture")),
                empty,
            ),
            indent=1,
        ),
    ]


def table3(design: Design, results: Results) -> Table:
    """Table 3: Aim 1 and Aim 2 models — fixed effects, variance components, slope tests."""
    rows: list[Row] = []
    singular_mark = sup("a")
    any_singular = False
    for o in design.outcomes:
        rows.append(Row((rich(o.label),), "panel"))
        specs = [(p.key, p.label) for p in design.processes]
        for key, label in specs:
            for aim, source, df, title in (
                (
                    "aim1",
                    "aim1_fixed_effects",
                    results.table("aim1_fixed_effects"),
                    "random intercept (Aim 1)",
                ),
                (
                    "aim2",
                    "aim2_fixed_effects",
                    results.table("aim2_fixed_effects"),
                    "random slope (Aim 2)",
                ),
            ):
                name = f"{aim}/{o.key}/{key}"
                model = results.models[name]
                head = rich(bold(f"{label}: {title}"))
                if model["fit"]["singular"]:
                    head += singular_mark
                    any_singular = True
                rows.append(Row((head,), "subpanel"))
                rows.extend(fixed_rows(design, df, source, o.key, key))
                rows.extend(
                    vc_rows(
                        model,
                        name,
                        model["fit"].get("random_slope"),
                        results.optional("variance_components"),
                    )
                )
                if aim == "aim2":
                    t, tsrc = select_table(
                        results,
                        "aim2_slope_tests",
                        outcome=o.key,
                        process=key,
                    )
                    rows.extend(slope_rows(t, tsrc))
        if len(design.processes) > 1 and f"aim1/{o.key}/joint" in results.models:
            model = results.models[f"aim1/{o.key}/joint"]
            head = rich(bold("All processes: random intercept (Aim 1, joint model)"))
            if model["fit"]["singular"]:
                head += singular_mark
                any_singular = True
            rows.append(Row((head,), "subpanel"))
            rows.extend(
                fixed_rows(
                    design,
                    results.table("aim1_fixed_effects"),
                    "aim1_fixed_effects",
                    o.key,
                    "joint",
                )
            )
            rows.extend(
                vc_rows(model, f"aim1/{o.key}/joint", None, results.optional("variance_components"))
            )
    note = rich(
        "Estimate = fixed effect γ or variance component; ",
        it("SE"),
        " = standard error; ",
        it("df"),
        " = Satterthwaite degrees of freedom; CI = confidence interval. Within = the "
        "patient's deviation from their therapist's mean rating (patient-level "
        "association); between = the therapist's mean rating minus the grand mean "
        "(therapist-level association). Baseline scores are grand-mean centered. ",
        it("LR"),
        " = likelihood-ratio statistic of the random-slope against the random-intercept "
        "model (REML); its ",
        it("p"),
        " value is from a 50:50 mixture of χ² distributions with 1 and 2 ",
        it("df"),
        " (",
        it("df"),
        " column: 1, 2). REML log-likelihoods compare models with the same fixed effects only. ",
    )
    if any_singular:
        note += rich(
            sup("a"),
            "Singular fit: a random-effect variance at zero or an intercept–slope "
            "correlation at ±1; estimates are reported, but the random-effects structure is "
            "not fully identified. ",
        )
    note += rich(
        sup("b"),
        "95% profile-likelihood CI of the slope SD on the REML deviance (a lower bound of 0: "
        "the profile stays within the cutoff down to an SD of zero). ",
        sup("c"),
        "Range expected to hold 95% of therapists' slopes (average slope ± 1.96 SD), not a CI.",
    )
    cols = (
        rich("Parameter"),
        rich("Estimate"),
        it("SE"),
        it("df"),
        it("t"),
        it("p"),
        rich("95% CI"),
    )
    return Table(
        "table3_aims12",
        "3",
        "Aim 1 and Aim 2 Multilevel Models of Post-Treatment Outcomes",
        cols,
        tuple(rows),
        note,
    )


def table4(design: Design, results: Results) -> Table:
    """Table 4: Aim 3 cross-level interactions with raw and FDR-adjusted p values."""
    mod = results.table("aim3_moderation")
    rows: list[Row] = []
    any_singular = False
    for o in design.outcomes:
        part = mod[mod["outcome"] == o.key]
        if part.empty:
            continue
        rows.append(Row((rich(o.label),), "panel"))
        for p in design.processes:
            fam = part[part["process"] == p.key]
            if fam.empty:
                continue
            rows.append(Row((rich(bold(f"{p.label}, within × characteristic")),), "subpanel"))
            for r in fam.itertuples(index=False):
                src = ref("aim3_moderation", outcome=o.key, process=p.key, moderator=r.moderator)
                d = digits_for(r.se)
                label = rich(design.label(r.moderator))
                if truthy(r.singular):
                    label += sup("a")
                    any_singular = True
                rows.append(
                    Row(
                        (
                            label,
                            *coefficient_cells(r, d, src, fdr=True),
                        ),
                        indent=1,
                    )
                )
    k = len(design.moderators)
    note = rich(
        "Each row is the cross-level interaction of the within-therapist process component "
        "with one therapist characteristic, from its own random-slope model. γ = "
        "interaction coefficient: the change in the within-therapist slope per unit of the "
        "characteristic (continuous characteristics centered at their mean over therapists; "
        "binary ones coded 0/1). ",
        it("SE"),
        " = standard error; ",
        it("df"),
        " = Satterthwaite degrees of freedom; ",
        it("p"),
        sub("FDR"),
        f" = Benjamini–Hochberg adjusted across the {count_word(k)} characteristics of each "
        "outcome × process family; CI = confidence interval.",
    )
    if any_singular:
        note += rich(" ", SINGULAR_FOOTNOTE)
    if not design.moderators:
        note = Rich()
        rows.append(Row((rich("No therapist characteristics were configured."),), "panel"))
    cols = (
        rich("Characteristic"),
        rich("γ"),
        it("SE"),
        it("df"),
        it("t"),
        it("p"),
        rich(it("p"), sub("FDR")),
        rich("95% CI"),
    )
    return Table(
        "table4_moderation",
        "4",
        "Aim 3 Therapist Characteristics as Moderators of the Within-Therapist Association",
        cols,
        tuple(rows),
        note,
    )


# The printed tables by their registered names (process_outcome.outputs, folder
# report/tables): the manuscript places each after the prose of its registered part.
TABLE_FUNCTIONS: dict[str, Callable[[Design, Results], Table]] = {
    "table1_descriptives": table1,
    "table2_correlations": table2,
    "table3_aims12": table3,
    "table4_moderation": table4,
    "table5_robustness": table5,
}
