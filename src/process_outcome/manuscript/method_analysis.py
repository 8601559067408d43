"""Method section, analytic strategy: model equations, estimation, tests, multiplicity
and fit checks.
"""

from __future__ import annotations

from process_outcome.document import (
    ALPHA,
    Block,
    Heading,
    Paragraph,
    Rich,
    apa_r,
    count_word,
    it,
    join,
    lower_first,
    plural,
    ref,
    rich,
    series,
    sub,
    sup,
)
from process_outcome.manuscript.inputs import Design, Results
from process_outcome.manuscript.quoting import beneficial_sign, count_value, fill
from process_outcome.manuscript.references import cite

__all__ = [
    "aim1_model_blocks",
    "aim2_model_blocks",
    "aim3_model_blocks",
    "analytic_strategy",
    "between_effects_paragraph",
    "centering_paragraph",
    "equation_paragraph",
    "equation_terms",
    "estimation_paragraph",
    "model_counts",
    "short_models",
    "slope_test_paragraph",
    "where_paragraph",
]


def equation_terms(
    joint: bool = False, slope: bool = False, moderator: bool = False, covariates: bool = False
) -> Rich:
    """Right-hand side of a model equation in combined (single-equation) form."""
    y = it("Y") + sub("ij")
    parts = [rich("γ", sub("00")), rich("γ", sub("10"), it("Baseline"), sub("ij"))]
    if covariates:
        parts.append(rich("γ", sub("X"), it("X"), sub("ij")))
    if joint:
        parts.append(
            rich(
                "Σ",
                sub("p"),
                " (γ",
                sub("W,p"),
                it("P"),
                sup("W"),
                sub("p,ij"),
                " + γ",
                sub("B,p"),
                it("P"),
                sup("B"),
                sub("p,j"),
                ")",
            )
        )
    else:
        within = rich("γ", sub("20"))
        if moderator:
            within = rich("(", within, " + γ", sub("21"), it("M"), sub("j"))
            within += rich(" + ", it("u"), sub("1j"), ")") if slope else ")"
        elif slope:
            within = rich("(", within, " + ", it("u"), sub("1j"), ")")
        parts.append(within + it("P") + sup("W") + sub("ij"))
        parts.append(rich("γ", sub("01"), it("P"), sup("B"), sub("j")))
        if moderator:
            parts.append(rich("γ", sub("02"), it("M"), sub("j")))
    parts += [rich(it("u"), sub("0j")), rich(it("e"), sub("ij"))]
    return y + " = " + join(parts, " + ")


def equation_paragraph(text: Rich, label: str) -> Paragraph:
    """A display equation with its number, ``(label)``."""
    return Paragraph(text + f"    ({label})", style="equation")


def model_counts(results: Results) -> dict[str, dict[str, int]]:
    """Fits, converged fits and singular fits per aim."""
    counts: dict[str, dict[str, int]] = {}
    for name, summary in results.models.items():
        aim = name.split("/")[0]
        fits = summary["fits"].values() if "fits" in summary else [summary["fit"]]
        c = counts.setdefault(aim, {"n": 0, "converged": 0, "singular": 0})
        for fit in fits:
            c["n"] += 1
            c["converged"] += bool(fit["converged"])
            c["singular"] += bool(fit["singular"])
    return counts


def centering_paragraph(design: Design) -> Paragraph:
    """Method: how the process ratings, baselines and moderators were centered."""
    centering = [
        "Each patient's mean process rating was split into a within-therapist "
        "(patient-level) component, the patient's mean minus the mean of their therapist's "
        "sample patients, and a between-therapist (therapist-level) component, the "
        "therapist's mean minus the mean over all sample patients (grand-mean centering). "
        "Baseline outcome scores were grand-mean centered."
    ]
    kinds = {m.type for m in design.moderators}
    if "continuous" in kinds:
        centering.append(
            "Continuous therapist characteristics were centered at their mean over the "
            "sample's therapists, each therapist counted once."
        )
    if "binary" in kinds:
        centering.append("Binary therapist characteristics were coded 0/1.")
    return Paragraph(rich(" ".join(centering)))


def aim1_model_blocks(design: Design) -> list[Block]:
    """Method: the Aim 1 random-intercept (and joint) models with their equations."""
    blocks: list[Block] = []
    multi = len(design.processes) > 1
    text = rich(
        "All models were linear mixed models of patients (level 1) nested in therapists "
        "(level 2) with the post-treatment outcome as the response, one set per outcome. "
        "For Aim 1, each process entered a random-intercept model with its within- and "
        "between-therapist components (Equation 1)"
        + (", and all processes entered one joint model (Equation 2)" if multi else "")
        + ":"
    )
    blocks.append(Paragraph(text))
    blocks.append(equation_paragraph(equation_terms(covariates=bool(design.covariates)), "1"))
    if multi:
        blocks.append(
            equation_paragraph(equation_terms(joint=True, covariates=bool(design.covariates)), "2")
        )
    return blocks


def where_paragraph(design: Design) -> Paragraph:
    """Method: what the symbols of the model equations stand for."""
    where = rich(
        "where ",
        it("Y"),
        sub("ij"),
        " is the post-treatment outcome of patient ",
        it("i"),
        " of therapist ",
        it("j"),
        ", ",
        it("Baseline"),
        sub("ij"),
        " the centered baseline score, ",
        it("P"),
        sup("W"),
        sub("ij"),
        " and ",
        it("P"),
        sup("B"),
        sub("j"),
        " the within- and between-therapist components of the process, ",
        it("u"),
        sub("0j"),
        " ~ ",
        it("N"),
        "(0, τ",
        sub("00"),
        ") the therapist's random intercept and ",
        it("e"),
        sub("ij"),
        " ~ ",
        it("N"),
        "(0, σ²) the residual. The within-therapist coefficient γ",
        sub("20"),
        " is the patient-level association (patients compared with other patients of the "
        "same therapist); the between-therapist coefficient γ",
        sub("01"),
        " is the therapist-level association (therapists compared with other therapists).",
    )
    if design.covariates:
        where += rich(
            " ",
            it("X"),
            sub("ij"),
            " holds the patient covariates (",
            series([lower_first(c.label) for c in design.covariates]),
            ").",
        )
    return Paragraph(where, style="plain")


def aim2_model_blocks(design: Design, results: Results, number_: int) -> list[Block]:
    """Method: the Aim 2 random-slope model (Equation ``number_``) and its sample."""
    blocks: list[Block] = []
    aim2 = rich(
        "For Aim 2, the within-therapist slope was allowed to vary across therapists, with "
        "an unstructured 2 × 2 covariance matrix of the random intercept and slope "
        "(variances τ",
        sub("00"),
        " and τ",
        sub("11"),
        ", correlation ρ",
        sub("01"),
        f"; Equation {number_}).",
    )
    minimum = int(design.config.get("analysis", {}).get("min_caseload_slopes", 1))
    if minimum > 1:
        t = results.table("aim2_slope_tests").iloc[0]
        tsrc = ref("aim2_slope_tests", outcome=t["outcome"], process=t["process"])
        aim2 += rich(
            f" Random-slope models (Aims 2 and 3) included only therapists with at least "
            f"{minimum} sample patients (",
            count_value(t["n_therapists"], tsrc.at("n_therapists")),
            " therapists, ",
            count_value(t["n_patients"], tsrc.at("n_patients")),
            " patients), so that each therapist's slope rests on more than one patient; "
            "each Aim 2 test compares models fitted to these same patients.",
        )
    blocks.append(Paragraph(aim2))
    blocks.append(
        equation_paragraph(
            equation_terms(slope=True, covariates=bool(design.covariates)), str(number_)
        )
    )
    return blocks


def slope_test_paragraph(design: Design) -> Paragraph:
    """Method: the likelihood-ratio test of therapist slope differences and what is reported."""
    signs = sorted({beneficial_sign(o) for o in design.outcomes})
    directions = series(
        [
            rich(f"{beneficial_sign(o)} for {lower_first(o.label)}")
            for o in design.outcomes
            if len(signs) > 1
        ]
    )
    direction = (
        rich(f"({signs[0]}, since higher scores are {design.outcomes[0].higher_is})")
        if len(signs) == 1
        else rich("(", directions, ")")
    )
    text = rich(
        "Therapist differences in the slope were tested with a likelihood-ratio test of "
        "this model against the Aim 1 model of the same outcome and process, ",
        it("LR"),
        " = 2(ℓ",
        sub("slope"),
        " − ℓ",
        sub("intercept"),
        ") of the REML log-likelihoods (floored at 0). Because the slope variance lies on "
        "the boundary of its parameter space under the null hypothesis, the ",
        it("p"),
        " value came from a 50:50 mixture of χ² distributions with 1 and 2 degrees of "
        f"freedom {cite('self1987', 'stram1994')}. We report the SD of therapists' slopes "
        "and the range expected to hold "
        "95% of them (average slope ± 1.96 SD), each therapist's empirical-Bayes slope "
        "(average slope plus the therapist's predicted deviation) with its conditional "
        "standard error, the share of therapists whose slope points in the beneficial "
        "direction ",
        direction,
        ", and, where more than one process was rated, the correlation across therapists "
        "of their slopes on different processes.",
    )
    return Paragraph(text)


def aim3_model_blocks(design: Design, number_: int) -> list[Block]:
    """Method: the Aim 3 cross-level moderation models (Equation ``number_``) and FDR."""
    blocks: list[Block] = []
    if design.moderators:
        k = len(design.moderators)
        blocks.append(
            Paragraph(
                rich(
                    "For Aim 3, each therapist characteristic ",
                    it("M"),
                    sub("j"),
                    " entered the random-slope model, one at a time, together with its "
                    "cross-level interaction with the within-therapist component (Equation "
                    f"{number_}). The interaction γ",
                    sub("21"),
                    " tests whether the characteristic moderates the within-therapist "
                    f"association. Within each outcome × process family of {count_word(k)} "
                    f"{plural(k, 'test')}, ",
                    it("p"),
                    " values were adjusted with the Benjamini–Hochberg false discovery rate "
                    f"(FDR) procedure {cite('benjamini1995')}; we report raw and adjusted ",
                    it("p"),
                    " values. Simple slopes of the within-therapist component were computed "
                    "at the characteristic's mean and ±1 SD (SD over therapists) for "
                    "continuous characteristics and at 0 and 1 for binary ones.",
                )
            )
        )
        blocks.append(
            equation_paragraph(
                equation_terms(slope=True, moderator=True, covariates=bool(design.covariates)),
                str(number_),
            )
        )
    else:
        blocks.append(
            Paragraph(
                rich("No therapist characteristics were configured, so Aim 3 was not tested.")
            )
        )

    return blocks


def estimation_paragraph(design: Design, results: Results) -> Paragraph:
    """Method: estimation, tests, convergence, singular fits and missing values."""
    counts = model_counts(results)
    total = sum(c["n"] for c in counts.values())
    converged = sum(c["converged"] for c in counts.values())
    singular = {aim: c["singular"] for aim, c in sorted(counts.items())}
    conv_text = (
        f"all {total} fits reached a confirmed REML optimum"
        if converged == total
        else f"{converged} of {total} fits reached a confirmed REML optimum; the others are "
        "reported with this caveat"
    )
    sing = [
        f"{aim.replace('aim', 'Aim ')}: {n} of {counts[aim]['n']}" for aim, n in singular.items()
    ]
    violations = [
        name
        for name, s in results.models.items()
        if name.startswith("aim2/") and s.get("nesting_violation")
    ]
    nesting = (
        "Every random-slope model reached at least the REML log-likelihood of the "
        "random-intercept model it extends."
        if not violations
        else f"In {len(violations)} of the Aim 2 comparisons the random-slope model stayed "
        "below the REML log-likelihood of the random-intercept model it extends; these "
        "tests are flagged."
    )
    text = rich(
        "Models were fitted by restricted maximum likelihood (REML), with the variance "
        f"parameters in lme4's parametrization {cite('bates2015')}, from several optimizers "
        "and starting values; "
        "the solution with the highest REML log-likelihood was kept. Fixed effects were "
        "tested with ",
        it("t"),
        f" tests with Satterthwaite degrees of freedom {cite('satterthwaite1946')}, as "
        f"lmerTest computes them {cite('kuznetsova2017')}, and reported with 95% "
        "confidence intervals (CIs) from the ",
        it("t"),
        " distribution. "
        f"Tests were two-sided with α = {apa_r(ALPHA)}. Of the models fitted, {conv_text}. "
        "A fit was classed as singular when a random-effect variance was (near) zero or the "
        "intercept–slope correlation was (near) ±1; singular fits were kept, are marked in "
        "the tables and are named in the text (",
        "; ".join(sing),
        "). ",
        nesting,
        " Patients with a missing value on a model's variables were excluded from that model only.",
    )
    short = short_models(design, results)
    if short:
        text += rich(" ", short)
    return Paragraph(text)


def analytic_strategy(design: Design, results: Results) -> list[Block]:
    """Method: variables, model equations, estimation, tests, multiplicity, fit checks."""
    # Equations are numbered in order: 1 (and 2, the joint model, with several processes),
    # then the random-slope model, then the moderation model.
    aim2_number = 3 if len(design.processes) > 1 else 2
    return [
        Heading(rich("Analytic Strategy"), 2),
        centering_paragraph(design),
        *aim1_model_blocks(design),
        where_paragraph(design),
        *aim2_model_blocks(design, results, aim2_number),
        slope_test_paragraph(design),
        *aim3_model_blocks(design, aim2_number + 1),
        estimation_paragraph(design, results),
        *between_effects_paragraph(results),
    ]


def between_effects_paragraph(results: Results) -> list[Block]:
    """Method: reliability of therapists' means, the latent-mean correction of the
    between-therapist effects, contextual effects and effect sizes (when reported)."""
    if any(results.optional(n) is None for n in ("aim1_between_corrected", "effect_sizes_r2")):
        return []
    text = fill(
        "A therapist's observed mean rests on few patients, so its reliability was "
        "estimated for each process as ICC(2), the Spearman–Brown step-up of ICC(1) to the "
        "mean and harmonic-mean caseload (Bliese, 2000), and each Aim 1 model was refitted "
        "as a multilevel latent covariate model (Lüdtke et al., 2008), in which a "
        "therapist's mean process rating is a latent variable rather than the observed "
        "mean, by maximum likelihood with standard errors from the observed information "
        "and Wald {z} tests. The contextual effect, the between- minus the within-therapist "
        "coefficient, was tested from each model's fixed-effect covariance (Satterthwaite "
        "degrees of freedom for the observed-mean model). The variance of the outcome was "
        "decomposed following Rights and Sterba (2019) into the within- and "
        "between-therapist parts of the fixed effects, random-slope and random-intercept "
        "variation and residual variance; the conditional ICC is the share of the variance "
        "not explained by the fixed effects that lies between therapists. Standardized "
        "effects are coefficients multiplied by the SD of the process component and divided "
        "by the SD of the outcome, both over the model's patients.",
        z=it("z"),
    )
    return [Paragraph(text)]


def short_models(design: Design, results: Results) -> Rich:
    """Models fitted to fewer patients than their aim's sample (missing values)."""
    sample = int(results.flow["steps"][-1]["patients"])
    slope_n = {
        (t.outcome, t.process): int(t.n_patients)
        for t in results.table("aim2_slope_tests").itertuples()
    }
    short = []
    for name, summary in results.models.items():
        aim, outcome, process = name.split("/")
        expected = sample if aim == "aim1" else slope_n.get((outcome, process), sample)
        fits = summary["fits"] if "fits" in summary else {"": summary["fit"]}
        for moderator, fit in fits.items():
            if int(fit["n_obs"]) >= expected:
                continue
            what = [aim.replace("aim", "Aim "), lower_first(design.label(outcome))]
            what.append(
                "all processes" if process == "joint" else lower_first(design.label(process))
            )
            if moderator:
                what.append(lower_first(design.label(moderator)))
            column = f"fits.{moderator}.n_obs" if moderator else "fit.n_obs"
            n = count_value(fit["n_obs"], ref(f"models/{name}", column))
            short.append(rich(", ".join(what), ": ", n, " patients"))
    if not short:
        return Rich()
    return rich(
        "Models fitted to fewer patients than their aim's sample because of missing values: ",
        join(short, "; "),
        ".",
    )
