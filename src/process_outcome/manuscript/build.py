"""The manuscript's content, built from the workflow's results files.

Every sentence and number of the report is produced here from the results tables, the
model summaries, the flow counts and the config; the templates in
``workflow/templates`` only lay the blocks out. The builders are pure functions of a
:class:`Results` bundle, a :class:`Design` (the configured measures) and a
:class:`Provenance` record; :func:`write_manuscript` does the file input and output.

Wording follows APA 7 and JARS-Quant for multilevel models: sample sizes at both
levels, ICCs, centering, estimation (REML), covariance structure, df method
(Satterthwaite), convergence and singular fits, multiplicity correction (FDR) and
software versions.
"""

from __future__ import annotations

import itertools
import math
import os
import struct
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from process_outcome.config import Measure, measures_of
from process_outcome.document import (
    ALPHA,
    EN_DASH,
    MINUS,
    Block,
    Code,
    Figure,
    Heading,
    Manuscript,
    Paragraph,
    Ref,
    Rich,
    Row,
    Section,
    Table,
    apa_df,
    apa_number,
    apa_p,
    apa_p_value,
    apa_r,
    bold,
    code,
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
    sup,
    t_test_text,
    value,
)
from process_outcome.files import atomic_write_text, read_json, sha256_file
from process_outcome.provenance import git_state, package_versions

GROUP = "therapist"
SINGULAR_THETA = 1e-4  # lme4::isSingular's tolerance, as the model engine uses it
SOFTWARE = (
    "process-outcome",
    "numpy",
    "scipy",
    "pandas",
    "statsmodels",
    "pingouin",
    "matplotlib",
    "snakemake",
    "jinja2",
    "python-docx",
)
TABLE_FILES = {
    "table1_descriptives": "results/report/tables/table1_descriptives.tex",
    "table2_correlations": "results/report/tables/table2_correlations.tex",
    "table3_aims12": "results/report/tables/table3_aims12.tex",
    "table4_moderation": "results/report/tables/table4_moderation.tex",
}
FIGURE_KEYS = ("figure1_aim1_forest", "figure2_aim2_caterpillar", "figure3_aim3_simple_slopes")


# -------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Design:
    """The configured study design: measures, data source and cleaning settings."""

    outcomes: tuple[Measure, ...]
    processes: tuple[Measure, ...]
    moderators: tuple[Measure, ...]
    config: Mapping[str, Any]
    covariates: tuple[Measure, ...] = ()

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Design:
        """The design of a validated config."""
        covariates = measures_of(config, "covariate") if "covariates" in config["measures"] else []
        return cls(
            tuple(measures_of(config, "outcome")),
            tuple(measures_of(config, "process")),
            tuple(measures_of(config, "moderator")),
            config,
            tuple(covariates),
        )

    @property
    def simulated(self) -> bool:
        """Whether the data are the built-in simulated study."""
        return self.config["data"]["source"] == "simulate"

    @property
    def all(self) -> tuple[Measure, ...]:
        """Every configured measure."""
        return (*self.outcomes, *self.processes, *self.moderators, *self.covariates)

    def measure(self, key: str) -> Measure:
        """The measure with this key."""
        for m in self.all:
            if m.key == key:
                return m
        raise KeyError(f"no configured measure {key!r}")

    def label(self, key: str) -> str:
        """The measure's label."""
        return self.measure(key).label

    def term_label(self, term: str) -> str:
        """Readable name of a model term: ``alliance_within`` → ``Working alliance, within``."""
        if term == "(Intercept)":
            return "Intercept"
        if ":" in term:
            return " × ".join(self.term_label(t) for t in term.split(":"))
        for o in self.outcomes:
            if term in (f"baseline_{o.key}_c", f"baseline_{o.key}"):
                return f"Baseline {lower_first(o.label)}"
        for p in self.processes:
            for part in ("within", "between"):
                if term == f"{p.key}_{part}":
                    return f"{p.label}, {part}"
        for m in (*self.moderators, *self.covariates):
            if term == m.key:
                return m.label
            # Categorical covariates enter as indicators ``<key>[<level>]``.
            if term.startswith(f"{m.key}[") and term.endswith("]"):
                return f"{m.label}: {term[len(m.key) + 1 : -1]}"
        return term


@dataclass(frozen=True)
class Results:
    """Everything the report quotes, as read from the results files.

    Attributes
    ----------
    flow : mapping
        ``results/data/flow.json``.
    descriptives, correlations, rm_correlations : DataFrame
        ``results/tables`` descriptive tables.
    aim1, aim2_tests, aim2_fixed, aim2_slopes, aim2_correlations, aim3, aim3_simple
        The aims' tidy results tables.
    models : mapping
        Model summaries keyed by ``<aim>/<outcome>/<process>``.
    truth : DataFrame or None
        ``truth_recovery.csv`` (simulated data only).
    reliability : DataFrame or None
        ``reliability.csv``: alpha and omega of item-scored measures.
    """

    flow: Mapping[str, Any]
    descriptives: pd.DataFrame
    correlations: pd.DataFrame
    rm_correlations: pd.DataFrame
    aim1: pd.DataFrame
    aim2_tests: pd.DataFrame
    aim2_fixed: pd.DataFrame
    aim2_slopes: pd.DataFrame
    aim2_correlations: pd.DataFrame
    aim3: pd.DataFrame
    aim3_simple: pd.DataFrame
    models: Mapping[str, Mapping[str, Any]]
    truth: pd.DataFrame | None = None
    reliability: pd.DataFrame | None = None


@dataclass(frozen=True)
class InputFile:
    """One input data file: its path as configured, size and SHA-256."""

    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Provenance:
    """Where the results came from.

    Attributes
    ----------
    inputs : tuple of InputFile
    commit : str or None
        Git commit of the workflow; ``None`` when it is not under git.
    dirty : bool or None
        Whether tracked files differed from that commit.
    date : datetime
        Date of the run, from a file or commit time (never the wall clock).
    date_source : str
        What ``date`` is.
    software : tuple of (str, str)
        Package and version, Python first.
    config_yaml : str
        The config as run (defaults filled in).
    """

    inputs: tuple[InputFile, ...]
    commit: str | None
    dirty: bool | None
    date: datetime
    date_source: str
    software: tuple[tuple[str, str], ...]
    config_yaml: str


# ------------------------------------------------------------------------- helpers


def _select(df: pd.DataFrame, source: str, **key: Any) -> tuple[dict[str, Any], Ref]:
    """The one row of ``df`` matching ``key`` and its :class:`Ref`."""
    sel = df
    for k, v in key.items():
        sel = sel[sel[k].astype(str) == str(v)]
    if len(sel) != 1:
        raise ValueError(f"{source}: {len(sel)} rows match {key}, expected one")
    return sel.iloc[0].to_dict(), ref(source, **key)


def _truthy(v: Any) -> bool:
    # CSV booleans come back as bool, or as the strings "True"/"False" in object columns.
    return str(v).strip().lower() in ("true", "1", "1.0")


def _int(n: int, source: Ref | None = None) -> Rich:
    """A count with APA's thousands separator."""
    return value(f"{int(n):,}", source)


def _pct(share: float, source: Ref) -> Rich:
    return value(f"{100 * share:.0f}", Ref(source.source, source.key, source.column, 100.0))


def _vc(model: Mapping[str, Any], name: str) -> float:
    return float(model["fit"]["variance_components"].get(name) or 0.0)


def _correlation(model: Mapping[str, Any], slope: str) -> float | None:
    v0 = _vc(model, f"{GROUP}|(Intercept)|")
    v1 = _vc(model, f"{GROUP}|{slope}|")
    if v0 <= 0 or v1 <= 0:
        return None
    return _vc(model, f"{GROUP}|(Intercept)|{slope}") / math.sqrt(v0 * v1)


def singular_reason(fit: Mapping[str, Any], source: str | None = None) -> Rich:
    """Which boundary made a fit singular, in words (from its relative Cholesky factor).

    Parameters
    ----------
    fit : mapping
        A model's ``fit`` summary (``theta``, ``random_slope``, ``variance_components``).
    source : str, optional
        The model's results name (``aim2/<outcome>/<process>``); with it, an
        intercept–slope correlation at its bound is printed and tied to the model
        summary, without it the bound is given as ±1.
    """
    theta = [float(t or 0.0) for t in fit["theta"]]
    if fit.get("random_slope") is None:
        return rich("the therapist intercept variance was estimated at zero")
    slope = fit["random_slope"]
    if math.hypot(theta[1], theta[2]) < SINGULAR_THETA:
        return rich("the therapist slope variance was estimated at zero")
    if theta[0] < SINGULAR_THETA:
        return rich("the therapist intercept variance was estimated at zero")
    corr = _correlation({"fit": fit}, slope)
    if corr is not None and abs(corr) > 0.99:
        if source is None:
            return rich("the intercept–slope correlation was estimated at ±1")
        printed = number(corr, 2, ref(f"models/{source}", "<correlation>"))
        return rich("the intercept–slope correlation was estimated at ", printed)
    return rich("a variance parameter was estimated at its boundary")


def beneficial(outcome: Measure, slope: float) -> bool:
    """Whether a slope on this outcome points the beneficial way."""
    return (slope < 0) == (outcome.higher_is == "worse")


def beneficial_sign(outcome: Measure) -> str:
    """``negative`` or ``positive``: the sign of a beneficial slope on this outcome."""
    return "negative" if outcome.higher_is == "worse" else "positive"


def _outcome_direction(outcome: Measure, slope: float) -> str:
    """``lower symptom severity``: the outcome that goes with a higher process rating."""
    return f"{'lower' if slope < 0 else 'higher'} {lower_first(outcome.label)}"


def _outcome_words(outcome: Measure, slope: float) -> str:
    # "lower symptom severity (better outcomes)" — direction and its meaning together,
    # so a reader need not remember whether the scale runs up or down.
    direction = "lower" if slope < 0 else "higher"
    meaning = "better" if beneficial(outcome, slope) else "worse"
    return f"{direction} {lower_first(outcome.label)} ({meaning} outcomes)"


def _post(outcome: Measure) -> str:
    return f"post-treatment {lower_first(outcome.label)}"


# ---------------------------------------------------------------------- equations


def _eq_terms(
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


def _equation(text: Rich, label: str) -> Paragraph:
    return Paragraph(text + f"    ({label})", style="equation")


# ------------------------------------------------------------------------- method


def _flow_steps(results: Results) -> list[dict[str, Any]]:
    return list(results.flow["steps"])


def participants(design: Design, results: Results) -> list[Block]:
    """Method: data source, cleaning flow with exclusions and reasons, final sample."""
    cfg = design.config
    steps = _flow_steps(results)
    first, final = steps[0], steps[-1]
    blocks: list[Block] = [Heading(rich("Participants and Procedure"), 2)]
    if design.simulated:
        sim = cfg["simulate"]
        text = rich(
            "The data are a simulated study generated by the workflow (",
            code("data.source: simulate"),
            f"; random seed {sim['seed']}) with {sim['n_therapists']} therapists, ",
            f"{sim['n_patients']} patients with unequal caseloads and up to ",
            f"{sim['max_sessions']} assessments per patient. Because the data are simulated, "
            "the true values of the model parameters are known and are compared with the "
            "estimates in a separate section.",
        )
        if sim.get("mess"):
            text += (
                " The generator added exact duplicate rows, out-of-range ratings, missed "
                "assessments and intake-only patients, so that every cleaning step was "
                "exercised."
            )
    else:
        files = cfg["data"]["files"]
        tables = [rich("session-by-session ratings from ", code(str(files["sessions"])))]
        tables.append(rich("therapist characteristics from ", code(str(files["therapists"]))))
        if files.get("patients"):
            tables.append(rich("patient characteristics from ", code(str(files["patients"]))))
        text = rich("The analysis read ", series(tables), ".")
    blocks.append(Paragraph(text))

    fsrc = lambda step, col: ref("flow", col, step=step)  # noqa: E731
    text = rich(
        "The sessions table held ",
        _int(first["rows"], fsrc(first["step"], "rows")),
        " assessment rows of ",
        _int(first["patients"], fsrc(first["step"], "patients")),
        " patients treated by ",
        _int(first["therapists"], fsrc(first["step"], "therapists")),
        " therapists. Cleaning followed a fixed order, and every dropped or changed value "
        "was logged with its reason.",
    )
    changes = []
    for before, after in itertools.pairwise(steps):
        lost = []
        for col, noun in (("rows", "row"), ("patients", "patient"), ("therapists", "therapist")):
            d = before[col] - after[col]
            if d:
                lost.append(rich(MINUS, _int(d), " ", plural(d, noun)))
        if lost:
            changes.append(rich(f"{after['description']} (", join(lost, ", "), ")"))
    if changes:
        text += rich(" Counts changed at these steps: ", join(changes, "; "), ".")
    reasons = results.flow.get("exclusions", {})
    if reasons:
        listed = [rich(f"“{reason}” (", _int(n), ")") for reason, n in reasons.items()]
        text += rich(" The exclusion log recorded ", join(listed, ", "), ".")
    else:
        text += " No row, value or patient was excluded."
    blocks.append(Paragraph(text))

    clean = cfg["cleaning"]
    outcomes = series([lower_first(o.label) for o in design.outcomes])
    processes = series([lower_first(p.label) for p in design.processes])
    handling = (
        "set to missing"
        if clean["out_of_range"] == "missing"
        else "an error that stopped the run (none occurred)"
    )
    caseload, csrc = _select(results.descriptives, "descriptives", variable="caseload")
    text = rich(
        f"Values outside a measure's admissible range were {handling}. Patients entered the "
        f"analysis sample with at least {clean['min_outcome_assessments']} non-missing "
        f"assessments of every outcome ({outcomes}) and at least one rating of every "
        f"process ({processes}); therapists entered with at least one such patient. The "
        "analysis sample comprised ",
        _int(final["patients"], fsrc(final["step"], "patients")),
        " patients treated by ",
        _int(final["therapists"], fsrc(final["step"], "therapists")),
        " therapists, with ",
        _int(final["rows"], fsrc(final["step"], "rows")),
        " assessment rows. Therapists treated ",
        it("M"),
        " = ",
        number(caseload["mean"], 2, csrc.at("mean")),
        " sample patients (",
        it("SD"),
        " = ",
        number(caseload["sd"], 2, csrc.at("sd")),
        ", range ",
        _int(caseload["min"], csrc.at("min")),
        EN_DASH,
        _int(caseload["max"], csrc.at("max")),
        "). Patients' and therapists' identities appear nowhere in the results: therapists "
        "carry pseudonymous codes.",
    )
    blocks.append(Paragraph(text))
    return blocks


def _range_text(m: Measure) -> str:
    if m.range is None:
        # An item-scored measure's range follows from its item scale, given with it.
        return "" if m.items else "no admissible range was configured"
    lo, hi = (apa_number(v, 0) if float(v).is_integer() else apa_number(v, 2) for v in m.range)
    return f"admissible range {lo}{EN_DASH}{hi}"


def _scoring_text(m: Measure) -> Rich:
    """How an item-scored measure was scored; empty for a single-column score."""
    if not m.items:
        return Rich()
    k = len(m.items)
    reverse = (
        rich(f", {count_word(len(m.reverse_items))} reverse-keyed") if m.reverse_items else Rich()
    )
    lo, hi = m.item_range or (None, None)
    scale = f" on a {apa_number(lo, 0)}{EN_DASH}{apa_number(hi, 0)} scale" if lo is not None else ""
    return rich(
        f"; the {m.scoring} of {count_word(k)} {plural(k, 'item')}{scale}",
        reverse,
        f", computed when at least {100 * m.min_answered:.0f}% of the items were answered",
    )


def _reliability_text(design: Design, results: Results) -> Rich:
    rel = results.reliability
    scored = [m for m in (*design.outcomes, *design.processes) if m.items]
    parts = []
    if rel is not None and scored:
        for m in scored:
            sel = rel[rel["measure"] == m.key]
            if sel.empty or pd.isna(sel.iloc[0]["alpha"]):
                parts.append(rich(f"for {lower_first(m.label)} too few complete item sets"))
                continue
            row, src = _select(rel, "reliability", measure=m.key)
            parts.append(
                rich(
                    f"{lower_first(m.label)}: Cronbach's α = ",
                    value(apa_r(row["alpha"]), src.at("alpha")),
                    ", 95% CI [",
                    value(apa_r(row["alpha_ci_low"]), src.at("alpha_ci_low")),
                    ", ",
                    value(apa_r(row["alpha_ci_high"]), src.at("alpha_ci_high")),
                    "], McDonald's ω = ",
                    value(apa_r(row["omega"]), src.at("omega")),
                    " (",
                    it("n"),
                    " = ",
                    _int(row["n"], src.at("n")),
                    " complete item sets)",
                )
            )
    single = [m.label for m in (*design.outcomes, *design.processes) if not m.items]
    text = Rich()
    if parts:
        text += rich(
            "Internal consistency of the item-scored measures, over all assessments with "
            "every item answered, was ",
            join(parts, "; "),
            ". ",
        )
    if single:
        names = series([single[0], *(lower_first(x) for x in single[1:])])
        verb = "was" if len(single) == 1 else "were"
        text += rich(
            names,
            f" {verb} supplied as scale scores, not item responses, so internal consistency "
            "could not be estimated in this sample.",
        )
    return text


def measures_blocks(design: Design, results: Results) -> list[Block]:
    """Method: every configured measure with label, range, direction, scoring, reliability."""
    blocks: list[Block] = [Heading(rich("Measures"), 2)]
    parts = []
    for o in design.outcomes:
        state = "worse" if o.higher_is == "worse" else "better"
        parts.append(
            rich(
                f"{o.label} (",
                code(o.key),
                f"; {_range_text(o)}" if _range_text(o) else "",
                _scoring_text(o),
                f") was assessed at every assessment occasion; higher scores indicate a "
                f"{state} state.",
            )
        )
    text = join(parts, " ") + (
        " For each patient, the first non-missing assessment served as the baseline score "
        "and the last non-missing assessment as the post-treatment outcome."
    )
    blocks.append(Paragraph(rich(it("Outcomes. "), text)))
    parts = [
        rich(
            f"{lower_first(p.label)} (",
            code(p.key),
            f"; {_range_text(p)}" if _range_text(p) else "",
            _scoring_text(p),
            ")",
        )
        for p in design.processes
    ]
    window = design.config.get("analysis", {}).get("process_sessions")
    averaged = (
        "over all of their assessments"
        if not window
        else f"over their assessments at sessions {window[0]} to {window[1]}"
    )
    text = rich(
        "Patients rated ",
        series(parts),
        " at each assessment; higher ratings indicate more of the process. Each patient's "
        f"ratings were averaged {averaged}.",
    )
    blocks.append(Paragraph(rich(it("Process ratings. "), text)))
    if design.moderators:
        parts = []
        for m in design.moderators:
            kind = "coded 0/1" if m.type == "binary" else "continuous"
            parts.append(rich(f"{lower_first(m.label)} (", code(m.key), f"; {kind})"))
        text = rich(
            f"Therapists reported {count_word(len(parts))} "
            f"{plural(len(parts), 'characteristic')} once: ",
            series(parts),
            ".",
        )
        blocks.append(Paragraph(rich(it("Therapist characteristics. "), text)))
    if design.covariates:
        parts = []
        for c in design.covariates:
            if c.type == "categorical":
                ref_level = f", reference level {c.reference}" if c.reference is not None else ""
                kind = f"categorical, indicator-coded{ref_level}"
            else:
                kind = "continuous, grand-mean centered"
            parts.append(rich(f"{lower_first(c.label)} (", code(c.key), f"; {kind})"))
        blocks.append(
            Paragraph(
                rich(
                    it("Patient covariates. "),
                    "Every model adjusted for ",
                    series(parts),
                    ".",
                )
            )
        )
    blocks.append(Paragraph(rich(it("Reliability. "), _reliability_text(design, results))))
    return blocks


def _model_counts(results: Results) -> dict[str, dict[str, int]]:
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


def analytic_strategy(design: Design, results: Results) -> list[Block]:
    """Method: variables, model equations, estimation, tests, multiplicity, fit checks."""
    blocks: list[Block] = [Heading(rich("Analytic Strategy"), 2)]
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
    blocks.append(Paragraph(rich(" ".join(centering))))

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
    blocks.append(_equation(_eq_terms(covariates=bool(design.covariates)), "1"))
    number_ = 2
    if multi:
        blocks.append(_equation(_eq_terms(joint=True, covariates=bool(design.covariates)), "2"))
        number_ = 3
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
    blocks.append(Paragraph(where, style="plain"))

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
        t = results.aim2_tests.iloc[0]
        tsrc = ref("aim2_slope_tests", outcome=t["outcome"], process=t["process"])
        aim2 += rich(
            f" Random-slope models (Aims 2 and 3) included only therapists with at least "
            f"{minimum} sample patients (",
            _int(t["n_therapists"], tsrc.at("n_therapists")),
            " therapists, ",
            _int(t["n_patients"], tsrc.at("n_patients")),
            " patients), so that each therapist's slope rests on more than one patient; "
            "each Aim 2 test compares models fitted to these same patients.",
        )
    blocks.append(Paragraph(aim2))
    blocks.append(
        _equation(_eq_terms(slope=True, covariates=bool(design.covariates)), str(number_))
    )
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
        "freedom. We report the SD of therapists' slopes and the range expected to hold "
        "95% of them (average slope ± 1.96 SD), each therapist's empirical-Bayes slope "
        "(average slope plus the therapist's predicted deviation) with its conditional "
        "standard error, the share of therapists whose slope points in the beneficial "
        "direction ",
        direction,
        ", and, where more than one process was rated, the correlation across therapists "
        "of their slopes on different processes.",
    )
    blocks.append(Paragraph(text))
    number_ += 1

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
                    "(FDR) procedure; we report raw and adjusted ",
                    it("p"),
                    " values. Simple slopes of the within-therapist component were computed "
                    "at the characteristic's mean and ±1 SD (SD over therapists) for "
                    "continuous characteristics and at 0 and 1 for binary ones.",
                )
            )
        )
        blocks.append(
            _equation(
                _eq_terms(slope=True, moderator=True, covariates=bool(design.covariates)),
                str(number_),
            )
        )
    else:
        blocks.append(
            Paragraph(
                rich("No therapist characteristics were configured, so Aim 3 was not tested.")
            )
        )

    counts = _model_counts(results)
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
        "parameters in lme4's parametrization, from several optimizers and starting values; "
        "the solution with the highest REML log-likelihood was kept. Fixed effects were "
        "tested with ",
        it("t"),
        " tests with Satterthwaite degrees of freedom (as lmerTest computes "
        "them) and reported with 95% confidence intervals (CIs) from the ",
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
    short = _short_models(design, results)
    if short:
        text += rich(" ", short)
    blocks.append(Paragraph(text))
    return blocks


def _short_models(design: Design, results: Results) -> Rich:
    """Models fitted to fewer patients than their aim's sample (missing values)."""
    sample = int(results.flow["steps"][-1]["patients"])
    slope_n = {(t.outcome, t.process): int(t.n_patients) for t in results.aim2_tests.itertuples()}
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
            n = _int(fit["n_obs"], ref(f"models/{name}", column))
            short.append(rich(", ".join(what), ": ", n, " patients"))
    if not short:
        return Rich()
    return rich(
        "Models fitted to fewer patients than their aim's sample because of missing values: ",
        join(short, "; "),
        ".",
    )


def software_blocks(provenance: Provenance) -> list[Block]:
    """Method: software with versions."""
    versions = dict(provenance.software)
    python = versions.pop("Python")
    workflow = versions.pop("process-outcome", "unknown")
    listed = series([f"{name} {version}" for name, version in versions.items()])
    text = rich(
        f"Analyses ran in Python {python} with the process-outcome workflow {workflow} and ",
        listed,
        "; versions are those installed when the report was rendered.",
    )
    return [Heading(rich("Software"), 2), Paragraph(text)]


# ------------------------------------------------------------------------ results


def _desc(results: Results, variable: str) -> tuple[dict[str, Any], Ref]:
    return _select(results.descriptives, "descriptives", variable=variable)


def descriptive_results(design: Design, results: Results) -> list[Block]:
    """Results: ICCs, patient-level and repeated-measures correlations; Tables 1–2."""
    blocks: list[Block] = [Heading(rich("Descriptive Statistics"), 2)]
    iccs = []
    for o in design.outcomes:
        row, src = _desc(results, f"post_{o.key}")
        iccs.append(rich(value(apa_r(row["icc"]), src.at("icc")), f" for {_post(o)}"))
    for p in design.processes:
        row, src = _desc(results, f"{p.key}_mean")
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
            row, src = _pair(results.correlations, f"{p.key}_mean", f"post_{o.key}")
            corr.append(
                rich(
                    f"{lower_first(p.label)} with {_post(o)}, ",
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
            row, src = _select(
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


def _pair(df: pd.DataFrame, a: str, b: str) -> tuple[dict[str, Any], Ref]:
    sel = df[((df["x"] == a) & (df["y"] == b)) | ((df["x"] == b) & (df["y"] == a))]
    if len(sel) != 1:
        raise ValueError(f"correlations: {len(sel)} rows for the pair {a}, {b}")
    row = sel.iloc[0].to_dict()
    return row, ref("correlations", x=row["x"], y=row["y"])


def _fixed(df: pd.DataFrame, source: str, outcome: str, process: str, term: str):
    return _select(df, source, outcome=outcome, process=process, term=term)


def aim1_results(design: Design, results: Results) -> list[Block]:
    """Results, Aim 1: within- and between-therapist associations, per outcome."""
    blocks: list[Block] = [Heading(rich("Aim 1: Within- and Between-Therapist Associations"), 2)]
    src = "aim1_fixed_effects"
    for o in design.outcomes:
        sentences = []
        for p in design.processes:
            w, wsrc = _fixed(results.aim1, src, o.key, p.key, f"{p.key}_within")
            b, bsrc = _fixed(results.aim1, src, o.key, p.key, f"{p.key}_between")
            if significant(w["p"]):
                s = rich(
                    f"Within therapists, patients whose {lower_first(p.label)} ratings were "
                    "higher than those of their therapist's other patients ended treatment "
                    f"with {_outcome_words(o, w['estimate'])}, ",
                    t_test_text(w, wsrc),
                    ".",
                )
            else:
                s = rich(
                    f"The within-therapist (patient-level) association of "
                    f"{lower_first(p.label)} with {_post(o)} was not statistically "
                    "significant, ",
                    t_test_text(w, wsrc),
                    ".",
                )
            sentences.append(s)
            if significant(b["p"]):
                s = rich(
                    "Between therapists, patients of therapists whose patients gave higher "
                    f"{lower_first(p.label)} ratings on average ended treatment with "
                    f"{_outcome_words(o, b['estimate'])}, ",
                    t_test_text(b, bsrc),
                    ".",
                )
            else:
                s = rich(
                    f"The between-therapist (therapist-level) association of "
                    f"{lower_first(p.label)} with {_post(o)} was not statistically "
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
                    row, rsrc = _fixed(results.aim1, src, o.key, "joint", f"{p.key}_{part}")
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
            t, tsrc = _select(results.aim2_tests, "aim2_slope_tests", outcome=o.key, process=p.key)
            fx, fsrc = _fixed(
                results.aim2_fixed, "aim2_fixed_effects", o.key, p.key, f"{p.key}_within"
            )
            d = digits_for(t["slope_sd"])
            test = rich(
                it("LR"),
                " = ",
                number(t["lr"], 2, tsrc.at("lr")),
                ", ",
                p_text(t["p_mixture"], tsrc.at("p_mixture")),
            )
            spread = rich(
                "the SD of therapists' slopes was estimated at ",
                number(t["slope_sd"], d, tsrc.at("slope_sd")),
                ", so 95% of therapists' slopes would lie between ",
                number(t["slope_low"], d, tsrc.at("slope_low")),
                " and ",
                number(t["slope_high"], d, tsrc.at("slope_high")),
                " around the average slope (",
                t_test_text(fx, fsrc),
                ")",
            )
            what = f"the within-therapist association of {lower_first(p.label)} with {_post(o)}"
            if significant(t["p_mixture"]):
                s = rich(f"Therapists differed in {what}, ", test, "; ", spread, ".")
            else:
                s = rich(
                    f"There was no statistically significant evidence that therapists "
                    f"differed in {what}, ",
                    test,
                    "; ",
                    spread,
                    ".",
                )
            n = int(t["n_therapists"])
            share = float(t["share_beneficial"])
            good = -1.0 if o.higher_is == "worse" else 1.0
            s += rich(
                " For ",
                value(f"{round(share * n)}", Ref(tsrc.source, tsrc.key, "share_beneficial", n)),
                " of ",
                _int(n, tsrc.at("n_therapists")),
                " therapists (",
                _pct(share, tsrc.at("share_beneficial")),
                "%), the empirical-Bayes slope was "
                f"{beneficial_sign(o)}, the beneficial direction in which higher "
                f"{lower_first(p.label)} ratings go with {_outcome_direction(o, good)}.",
            )
            if _truthy(t["singular"]):
                model = results.models[f"aim2/{o.key}/{p.key}"]
                s += rich(
                    " The random-slope fit was singular (",
                    singular_reason(model["fit"], f"aim2/{o.key}/{p.key}"),
                    "), so the therapist slopes are not separately identified from the intercepts: "
                    "the slope SD, the range and the share of beneficial slopes describe the "
                    "fitted model, not reliable differences between therapists.",
                )
            blocks.append(Paragraph(s))
    corr = []
    for o in design.outcomes:
        rows = results.aim2_correlations[results.aim2_correlations["outcome"] == o.key]
        for r in rows.itertuples(index=False):
            row, src = _select(
                results.aim2_correlations,
                "aim2_slope_correlations",
                outcome=o.key,
                process_a=r.process_a,
                process_b=r.process_b,
            )
            singular = [
                lower_first(design.label(q))
                for q in (r.process_a, r.process_b)
                if _truthy(
                    _select(results.aim2_tests, "aim2_slope_tests", outcome=o.key, process=q)[0][
                        "singular"
                    ]
                )
            ]
            s = rich(
                f"for {_post(o)}, the {lower_first(design.label(r.process_a))} and "
                f"{lower_first(design.label(r.process_b))} slopes of the ",
                _int(row["n"], src.at("n")),
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
                f"For the within-therapist {lower_first(p.label)} slope on {_post(o)}, ",
                value(count_word(k), fsrc) if k >= 10 else count_word(k),
                f" therapist {plural(k, 'characteristic')} {plural(k, 'was', 'were')} tested.",
            )
            parts = [lead]
            quiet = []
            singular: dict[str, list[str]] = {}
            for r in fam.itertuples(index=False):
                row, src = _select(
                    mod, "aim3_moderation", outcome=o.key, process=p.key, moderator=r.moderator
                )
                m = design.measure(r.moderator)
                if significant(row["p_fdr"]) or significant(row["p"]):
                    parts.append(_moderation_sentence(design, results, o, p, m, row, src))
                else:
                    quiet.append((row, src))
                if _truthy(row["singular"]):
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


def _moderation_sentence(
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
        srow, ssrc = _select(
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


# ------------------------------------------------------------------------- tables


def table1(design: Design, results: Results) -> Table:
    """Table 1: descriptive statistics and ICCs at the session, patient and therapist level."""
    d = results.descriptives
    rows: list[Row] = []
    names = {"session": "Session level", "patient": "Patient level", "therapist": "Therapist level"}
    for level, title in names.items():
        part = d[d["level"] == level]
        if part.empty:
            continue
        rows.append(Row((rich(title),), "panel"))
        for r in part.itertuples(index=False):
            src = ref("descriptives", variable=r.variable)
            rows.append(
                Row(
                    (
                        rich(str(r.label)),
                        _int(r.n, src.at("n")),
                        number(r.mean, 2, src.at("mean")),
                        number(r.sd, 2, src.at("sd")),
                        number(r.min, 2, src.at("min")),
                        number(r.max, 2, src.at("max")),
                        value(apa_r(r.icc), src.at("icc")) if not pd.isna(r.icc) else rich(EN_DASH),
                    ),
                    indent=1,
                )
            )
    note = rich(
        "Session level: every assessment of the analysis sample. Patient level: one value "
        "per patient (baseline = first and post = last non-missing assessment; patient mean "
        "= mean of the patient's ratings). Therapist level: one value per therapist, "
        "characteristics on their original (uncentered) scale. ",
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


def _stars(p: float) -> str:
    return "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < ALPHA else ""


def table2(design: Design, results: Results) -> Table:
    """Table 2: correlations of patient-level variables (lower triangle)."""
    c = results.correlations
    variables = list(dict.fromkeys([*c["x"], *c["y"]]))
    order = {v: i for i, v in enumerate(dict.fromkeys(list(c["x"]) + list(c["y"])))}
    variables.sort(key=order.get)
    labels = dict(
        zip(results.descriptives["variable"], results.descriptives["label"], strict=False)
    )
    rows = []
    for i, a in enumerate(variables):
        cells = [rich(f"{i + 1}. {labels.get(a, a)}")]
        for j, b in enumerate(variables):
            if j < i:
                row, src = _pair(c, a, b)
                cells.append(value(apa_r(row["r"]), src.at("r")) + _stars(row["p"]))
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
        "*",
        it("p"),
        " < .05. **",
        it("p"),
        " < .01. ***",
        it("p"),
        " < .001.",
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


def _fixed_rows(design: Design, df: pd.DataFrame, source: str, o: str, p: str) -> list[Row]:
    rows = []
    part = df[(df["outcome"] == o) & (df["process"] == p)]
    for r in part.itertuples(index=False):
        src = ref(source, outcome=o, process=p, term=r.term)
        d = digits_for(r.se)
        rows.append(
            Row(
                (
                    rich(design.term_label(r.term)),
                    number(r.estimate, d, src.at("estimate")),
                    number(r.se, d, src.at("se")),
                    value(apa_df(r.df), src.at("df")),
                    number(r.t, 2, src.at("t")),
                    value(apa_p_value(r.p), src.at("p")),
                    rich(
                        "[",
                        number(r.ci_low, d, src.at("ci_low")),
                        ", ",
                        number(r.ci_high, d, src.at("ci_high")),
                        "]",
                    ),
                ),
                indent=1,
            )
        )
    return rows


def _vc_rows(model: Mapping[str, Any], name: str, slope: str | None) -> list[Row]:
    fit = model["fit"]
    vcs = fit["variance_components"]
    items: list[tuple[Rich, str | None, float | None]] = [
        (rich("Intercept variance (τ", sub("00"), ")"), f"{GROUP}|(Intercept)|", None)
    ]
    if slope:
        items.append((rich("Slope variance (τ", sub("11"), ")"), f"{GROUP}|{slope}|", None))
        items.append(
            (
                rich("Intercept–slope correlation (ρ", sub("01"), ")"),
                None,
                _correlation(model, slope),
            )
        )
    items.append((rich("Residual variance (σ²)"), "Residual||", None))
    rows = [Row((rich("Random effects"),), "subpanel")]
    empty = rich("")
    for label, key, computed in items:
        if key is not None:
            cell = number(
                float(vcs.get(key) or 0.0),
                3,
                ref(f"models/{name}", f"fit.variance_components.{key}"),
            )
        else:
            cell = rich(apa_r(computed)) if computed is not None else rich(EN_DASH)
        rows.append(Row((label, cell, empty, empty, empty, empty, empty), indent=1))
    return rows


def table3(design: Design, results: Results) -> Table:
    """Table 3: Aim 1 and Aim 2 models — fixed effects, variance components, slope tests."""
    rows: list[Row] = []
    empty = rich("")
    singular_mark = sup("a")
    any_singular = False
    for o in design.outcomes:
        rows.append(Row((rich(o.label),), "panel"))
        specs = [(p.key, p.label) for p in design.processes]
        for key, label in specs:
            for aim, source, df, title in (
                ("aim1", "aim1_fixed_effects", results.aim1, "random intercept (Aim 1)"),
                ("aim2", "aim2_fixed_effects", results.aim2_fixed, "random slope (Aim 2)"),
            ):
                name = f"{aim}/{o.key}/{key}"
                model = results.models[name]
                head = rich(bold(f"{label}: {title}"))
                if model["fit"]["singular"]:
                    head += singular_mark
                    any_singular = True
                rows.append(Row((head,), "subpanel"))
                rows.extend(_fixed_rows(design, df, source, o.key, key))
                rows.extend(_vc_rows(model, name, model["fit"].get("random_slope")))
                if aim == "aim2":
                    t, tsrc = _select(
                        results.aim2_tests, "aim2_slope_tests", outcome=o.key, process=key
                    )
                    d = digits_for(t["slope_sd"])
                    rows.append(
                        Row(
                            (
                                rich("Slope SD"),
                                number(t["slope_sd"], d, tsrc.at("slope_sd")),
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
                                    sup("b"),
                                ),
                            ),
                            indent=1,
                        )
                    )
                    rows.append(
                        Row(
                            (
                                rich(it("LR"), " test of the slope variance"),
                                number(t["lr"], 2, tsrc.at("lr")),
                                empty,
                                empty,
                                empty,
                                value(apa_p_value(t["p_mixture"]), tsrc.at("p_mixture")),
                                empty,
                            ),
                            indent=1,
                        )
                    )
        if len(design.processes) > 1 and f"aim1/{o.key}/joint" in results.models:
            model = results.models[f"aim1/{o.key}/joint"]
            head = rich(bold("All processes: random intercept (Aim 1, joint model)"))
            if model["fit"]["singular"]:
                head += singular_mark
                any_singular = True
            rows.append(Row((head,), "subpanel"))
            rows.extend(_fixed_rows(design, results.aim1, "aim1_fixed_effects", o.key, "joint"))
            rows.extend(_vc_rows(model, f"aim1/{o.key}/joint", None))
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
        ". ",
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
    mod = results.aim3
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
                if _truthy(r.singular):
                    label += sup("a")
                    any_singular = True
                rows.append(
                    Row(
                        (
                            label,
                            number(r.estimate, d, src.at("estimate")),
                            number(r.se, d, src.at("se")),
                            value(apa_df(r.df), src.at("df")),
                            number(r.t, 2, src.at("t")),
                            value(apa_p_value(r.p), src.at("p")),
                            value(apa_p_value(r.p_fdr), src.at("p_fdr")),
                            rich(
                                "[",
                                number(r.ci_low, d, src.at("ci_low")),
                                ", ",
                                number(r.ci_high, d, src.at("ci_high")),
                                "]",
                            ),
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
        note += rich(
            " ",
            sup("a"),
            "Singular fit: a random-effect variance at zero or an intercept–slope "
            "correlation at ±1.",
        )
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


# ------------------------------------------------------------------------ figures


def png_width_inches(png: bytes, dpi: float = 300.0) -> float:
    """Width of a PNG at ``dpi`` (the workflow saves figures at 300 dpi)."""
    if png[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG image")
    width = struct.unpack(">I", png[16:20])[0]
    return width / dpi


def _direction_note(design: Design) -> str:
    signs = {beneficial_sign(o) for o in design.outcomes}
    if len(signs) == 1:
        state = design.outcomes[0].higher_is
        return (
            f"Higher scores are {state} on every outcome, so {signs.pop()} values mean that "
            "higher process ratings went with better outcomes."
        )
    parts = [f"{beneficial_sign(o)} for {lower_first(o.label)}" for o in design.outcomes]
    return "Values in the beneficial direction are " + "; ".join(parts) + "."


def figures(design: Design, images: Mapping[str, bytes]) -> dict[str, Figure]:
    """Figures 1–3 with APA captions (Figure 3 only when moderators are configured)."""
    out = {}
    note = rich(
        "Fixed effects (points) with 95% CIs (bars; Satterthwaite ",
        it("df"),
        ") of each process from its random-intercept model, controlling for baseline. "
        "Within = patient-level (within-therapist) association; between = therapist-level "
        "association. The dashed line marks zero. ",
        _direction_note(design),
    )
    key = FIGURE_KEYS[0]
    out[key] = Figure(
        key,
        "1",
        "Within- and Between-Therapist Associations of Each Process With "
        "Post-Treatment Outcomes (Aim 1)",
        note,
        images[key],
        png_width_inches(images[key]),
    )
    note = rich(
        "Each point is one therapist's empirical-Bayes within-therapist slope (average slope "
        "plus the therapist's predicted deviation) with a 95% interval (±1.96 conditional "
        "SE); therapists are ranked by slope and shown without codes. The solid line marks "
        "the average slope, the dashed line zero. ",
        _direction_note(design),
    )
    key = FIGURE_KEYS[1]
    out[key] = Figure(
        key,
        "2",
        "Therapists' Within-Therapist Slopes (Aim 2)",
        note,
        images[key],
        png_width_inches(images[key]),
    )
    if design.moderators:
        note = rich(
            "Within-therapist slope of each process (points, with 95% CIs) at 1 SD below "
            "the mean, at the mean and at 1 SD above the mean of each continuous therapist "
            "characteristic (SD over therapists), or at 0 and 1 for binary ones. Slopes "
            "that diverge within a row indicate moderation; Table 4 gives the tests.",
        )
        key = FIGURE_KEYS[2]
        out[key] = Figure(
            key,
            "3",
            "Within-Therapist Slopes at Low, Average and High Values of "
            "Each Therapist Characteristic (Aim 3)",
            note,
            images[key],
            png_width_inches(images[key]),
        )
    return out


# ---------------------------------------------------------------------- simulation


def simulation_section(design: Design, results: Results) -> Section:
    """Estimates beside the generating parameters (simulated data only)."""
    truth = results.truth
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
                        rich(
                            "[",
                            number(r.ci_low, 3, src.at("ci_low")),
                            ", ",
                            number(r.ci_high, 3, src.at("ci_high")),
                            "]",
                        )
                        if has_ci
                        else rich(EN_DASH),
                        rich({"True": "yes", "False": "no"}.get(covered, EN_DASH)),
                    ),
                    indent=1,
                )
            )
    with_ci = truth[truth["ci_low"].notna()]
    covered = int(sum(_truthy(v) for v in with_ci["covered"]))
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
        "Simulated data: this section exists only because the data were simulated ",
        "(data.source: simulate). It is a check of the workflow, not part of a manuscript "
        "about real data.",
    )
    return Section(
        "simulation",
        "Simulation Check: Estimates Versus True Parameters",
        (Paragraph(text), table),
        banner,
    )


# ---------------------------------------------------------------------- provenance


def appendix_section(design: Design, provenance: Provenance) -> Section:
    """Provenance: input hashes, workflow commit, date, seeds, software, config."""
    rows = tuple(
        Row((code(f.path), rich(f"{f.size:,}"), code(f.sha256))) for f in provenance.inputs
    )
    inputs = Table(
        "provenance_inputs",
        None,
        "Input Files",
        (rich("File"), rich("Bytes"), rich("SHA-256")),
        rows,
        align="lrl",
    )
    if provenance.commit is None:
        git = rich("The workflow was not under git, so no commit is recorded.")
    else:
        state = (
            "with uncommitted changes to tracked files"
            if provenance.dirty
            else "with no uncommitted changes"
        )
        git = rich("Workflow: git commit ", code(provenance.commit), f", {state}.")
    date = rich(f"Date: {provenance.date:%Y-%m-%d} ({provenance.date_source}).")
    if design.simulated:
        seed = rich(
            "Seed: ",
            code(f"simulate.seed = {design.config['simulate']['seed']}"),
            ", used to simulate the data; the analysis itself draws no random numbers.",
        )
    else:
        seed = rich("Seeds: none; the analysis draws no random numbers.")
    software = Table(
        "provenance_software",
        None,
        "Software",
        (rich("Package"), rich("Version")),
        tuple(Row((rich(n), rich(v))) for n, v in provenance.software),
        align="ll",
    )
    blocks: list[Block] = [
        Paragraph(git, "plain"),
        Paragraph(date, "plain"),
        Paragraph(seed, "plain"),
        inputs,
        software,
        Heading(rich("Configuration as Run"), 2),
        Paragraph(rich("Every config key, defaults filled in:"), "plain"),
        Code(provenance.config_yaml),
    ]
    return Section("appendix", "Appendix: Provenance", tuple(blocks))


# ---------------------------------------------------------------------- assembly


def build_manuscript(
    config: Mapping[str, Any],
    results: Results,
    provenance: Provenance,
    images: Mapping[str, bytes],
) -> Manuscript:
    """The whole manuscript as a document model.

    Parameters
    ----------
    config : mapping
        The validated config.
    results : Results
        The results files' contents.
    provenance : Provenance
    images : mapping of str to bytes
        PNG of each figure keyed by its file stem (:data:`FIGURE_KEYS`).

    Returns
    -------
    Manuscript
    """
    design = Design.from_config(config)
    figs = figures(design, images)
    method: list[Block] = [
        *participants(design, results),
        *measures_blocks(design, results),
        *analytic_strategy(design, results),
        *software_blocks(provenance),
    ]
    res: list[Block] = [
        *descriptive_results(design, results),
        table1(design, results),
        table2(design, results),
        *aim1_results(design, results),
        figs[FIGURE_KEYS[0]],
        *aim2_results(design, results),
        table3(design, results),
        figs[FIGURE_KEYS[1]],
        *aim3_results(design, results),
    ]
    if design.moderators:
        res += [table4(design, results), figs[FIGURE_KEYS[2]]]
    sections = [
        Section("method", "Method", tuple(method)),
        Section("results", "Results", tuple(res)),
    ]
    if design.simulated and results.truth is not None:
        sections.append(simulation_section(design, results))
    sections.append(appendix_section(design, provenance))
    authors = tuple(
        " ".join(x for x in (a.get("given_names"), a.get("family_names")) if x)
        for a in config["study"].get("authors", [])
    )
    return Manuscript(
        title=config["study"]["title"],
        authors=authors,
        description=config["study"].get("description", ""),
        date=provenance.date,
        sections=tuple(sections),
    )


def all_tables(config: Mapping[str, Any], results: Results) -> dict[str, Table]:
    """Tables 1–4 keyed by their file stem (Table 4 says so when Aim 3 was not run)."""
    design = Design.from_config(config)
    return {
        "table1_descriptives": table1(design, results),
        "table2_correlations": table2(design, results),
        "table3_aims12": table3(design, results),
        "table4_moderation": table4(design, results),
    }


# ------------------------------------------------------------------ provenance I/O


def software_versions() -> tuple[tuple[str, str], ...]:
    """Python and the versions of the packages the analysis and report use."""
    versions = package_versions(SOFTWARE)
    packages = [(name, version or "not installed") for name, version in versions.items()]
    return (("Python", sys.version.split()[0]), *packages)


def run_date(
    simulated: bool,
    data_files: Sequence[str | Path],
    commit_time: int | None,
    released: str | None = None,
    workflow_files: Sequence[str | Path] = (),
) -> tuple[datetime, str]:
    """The report's date and what it is, never the wall clock.

    ``SOURCE_DATE_EPOCH`` (the reproducible-builds convention) wins, then the config's
    ``study.date_released``. Otherwise own data are dated by the newest modification
    time of the data files; simulated data, which the config and code fully determine,
    by the workflow's commit time, and outside git by the newest modification time of
    the workflow's own files (an unpacked release keeps them). The simulated data files
    are never used: they are written anew by every run.
    """
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.isdigit():
        return datetime.fromtimestamp(int(epoch), UTC), "SOURCE_DATE_EPOCH"
    if released:
        day = datetime.strptime(str(released), "%Y-%m-%d").replace(tzinfo=UTC)
        return day, "study.date_released in the config"
    if simulated and commit_time is not None:
        return datetime.fromtimestamp(commit_time, UTC), "time of the workflow's git commit"
    if simulated and workflow_files:
        newest = max(Path(p).stat().st_mtime for p in workflow_files)
        return (
            datetime.fromtimestamp(int(newest), UTC),
            "newest modification time of the workflow's files",
        )
    newest = max(Path(p).stat().st_mtime for p in data_files)
    return (
        datetime.fromtimestamp(int(newest), UTC),
        "newest modification time of the input data files",
    )


def collect_provenance(
    config: Mapping[str, Any], data_files: Sequence[str], workflow_dir: str | Path
) -> Provenance:
    """Hashes of the input data, git state, date, software and the config as run."""
    state = git_state(workflow_dir)
    commit, dirty, when = state["commit"], state["dirty"], state["commit_epoch"]
    released = config["study"].get("date_released")
    own_files = [
        p
        for p in (Path(workflow_dir) / "Snakefile", *(Path(workflow_dir) / "workflow").rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    ]
    simulated = config["data"]["source"] == "simulate"
    date, source = run_date(simulated, data_files, when, released, own_files)
    inputs = tuple(InputFile(str(p), Path(p).stat().st_size, sha256_file(p)) for p in data_files)
    return Provenance(
        inputs=inputs,
        commit=commit,
        dirty=dirty,
        date=date,
        date_source=source,
        software=software_versions(),
        config_yaml=yaml.safe_dump(_plain(config), sort_keys=False, allow_unicode=True),
    )


def _plain(obj: Any) -> Any:
    # Snakemake's config holds its own mapping types; YAML needs plain dicts and lists.
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


def read_results(tables: Mapping[str, str], models: Sequence[str], flow: str) -> Results:
    """Read the results files the manuscript quotes.

    Parameters
    ----------
    tables : mapping
        Paths keyed ``descriptives, correlations, rm_correlations, aim1, aim2_tests,
        aim2_fixed, aim2_slopes, aim2_correlations, aim3, aim3_simple`` and optionally
        ``truth`` and ``reliability``.
    models : sequence of str
        Model summaries ``.../models/<aim>/<outcome>/<process>.json``.
    flow : str
        ``flow.json``.
    """

    def csv(name: str) -> pd.DataFrame:
        return pd.read_csv(tables[name], keep_default_na=False, na_values=[""])

    summaries = {}
    for path in models:
        p = Path(path)
        summaries[f"{p.parent.parent.name}/{p.parent.name}/{p.stem}"] = read_json(p)
    return Results(
        flow=read_json(flow),
        descriptives=csv("descriptives"),
        correlations=csv("correlations"),
        rm_correlations=csv("rm_correlations"),
        aim1=csv("aim1"),
        aim2_tests=csv("aim2_tests"),
        aim2_fixed=csv("aim2_fixed"),
        aim2_slopes=csv("aim2_slopes"),
        aim2_correlations=csv("aim2_correlations"),
        aim3=csv("aim3"),
        aim3_simple=csv("aim3_simple"),
        models=summaries,
        truth=csv("truth") if tables.get("truth") else None,
        reliability=csv("reliability") if tables.get("reliability") else None,
    )


def write_manuscript(
    config: Mapping[str, Any],
    tables: Mapping[str, str],
    models: Sequence[str],
    flow: str,
    figures_png: Sequence[str],
    data_files: Sequence[str],
    template_dir: str,
    workflow_dir: str,
    out: Mapping[str, str],
    power: Sequence[str] = (),
) -> None:
    """Read the results, build the manuscript and write every report format.

    Parameters
    ----------
    config : mapping
        The validated config.
    tables, models, flow
        See :func:`read_results`.
    figures_png : sequence of str
        The figures' PNG files (named by :data:`FIGURE_KEYS`).
    data_files : sequence of str
        The input data files, hashed for the provenance appendix.
    template_dir : str
        ``workflow/templates``.
    workflow_dir : str
        The workflow's directory, for its git commit.
    out : mapping
        Output paths keyed ``html, docx, md`` and the table stems of
        :data:`TABLE_FILES`.
    power : sequence of str
        The design-planning results, if any (:mod:`process_outcome.manuscript.power`).
    """
    from process_outcome.document import (
        render_docx,
        render_html,
        render_latex_table,
        render_markdown,
    )
    from process_outcome.manuscript.power import with_power_section

    results = read_results(tables, models, flow)
    images = {Path(p).stem: Path(p).read_bytes() for p in figures_png}
    provenance = collect_provenance(config, data_files, workflow_dir)
    manuscript = with_power_section(build_manuscript(config, results, provenance, images), power)
    atomic_write_text(out["html"], render_html(manuscript, template_dir))
    figure_dir = os.path.relpath(Path(figures_png[0]).parent, Path(out["md"]).parent)
    atomic_write_text(out["md"], render_markdown(manuscript, figure_dir))
    docx_path = Path(out["docx"])
    docx_path.parent.mkdir(parents=True, exist_ok=True)
    partial = docx_path.with_name(f".{docx_path.name}.partial")
    partial.write_bytes(render_docx(manuscript))
    os.replace(partial, docx_path)
    for key, table in all_tables(config, results).items():
        atomic_write_text(out[key], render_latex_table(table))
