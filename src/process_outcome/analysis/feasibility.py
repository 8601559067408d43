"""Can the models be fitted to this analysis sample? A check that runs in milliseconds.

``snakemake validate`` and the cleaning step run it on the patient-level table, so a
model job never starts on data it would reject (``rank deficient``, no finite REML
likelihood): every problem is reported at once, naming the measure, its column, the
therapists or values involved and the fix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from process_outcome.analysis.aims import aim1_terms, aim3_terms
from process_outcome.config import Measure, measures_of
from process_outcome.errors import InputError

__all__ = [
    "MIN_THERAPISTS",
    "check_feasibility",
    "feasibility_problems",
    "restrict_caseload",
    "slope_sample",
]

# A random intercept (and slope) variance cannot be told from residual noise with fewer
# therapists; lme4 refuses such fits too.
MIN_THERAPISTS = 3
MAX_LISTED = 10


def _constant(values: pd.Series) -> bool:
    v = values.dropna().to_numpy(dtype=float)
    return len(v) == 0 or np.ptp(v) <= 1e-12 * max(1.0, float(np.max(np.abs(v))))


def _first(values: pd.Series) -> str:
    present = values.dropna()
    return f"{float(present.iloc[0]):g}" if len(present) else "(none: all missing)"


def _source(m: Measure) -> str:
    return f"column '{m.column}'" if m.column else f"items {', '.join(m.items)}"


def slope_sample(table: pd.DataFrame, minimum: int) -> pd.DataFrame:
    """The patients of therapists with at least ``minimum`` patients (aims 2 and 3)."""
    size = table.groupby("therapist")["therapist"].transform("size")
    return table[size >= minimum]


def check_feasibility(
    table: pd.DataFrame, config: Mapping[str, Any], covariates: Sequence[str] = ()
) -> None:
    """Stop with every reason the models could not be fitted to ``table``.

    Parameters
    ----------
    table : DataFrame
        The patient-level table of :func:`process_outcome.data.analysis_table.patient_table`.
    config : mapping
        The validated config.
    covariates : sequence of str
        The covariate terms in the table.

    Raises
    ------
    InputError
        Listing each problem of :func:`feasibility_problems`.

    Examples
    --------
    >>> table = pd.DataFrame({"therapist": ["a", "a", "b"], "patient": ["1", "2", "3"]})
    >>> config = {"measures": {"outcomes": {}, "processes": {}, "moderators": {}}}
    >>> check_feasibility(table, config)
    Traceback (most recent call last):
    ...
    process_outcome.errors.InputError: The analysis sample cannot be modelled:
      - the analysis sample has 2 therapist(s) and 3 patient(s); the models need at least 3 ...
    """
    problems = feasibility_problems(table, config, covariates)
    if problems:
        raise InputError(
            "The analysis sample cannot be modelled:\n  - "
            + "\n  - ".join(problems)
            + "\nThe models would stop on these data; the summary of `snakemake validate` "
            "and results/data/exclusions.csv (after a run) show which patients the cleaning "
            "kept."
        )


def feasibility_problems(
    table: pd.DataFrame, config: Mapping[str, Any], covariates: Sequence[str] = ()
) -> list[str]:
    """Every reason the aim 1, 2 and 3 models could not be fitted (empty if none).

    Checked: at least three therapists; an outcome or process that does not vary, or
    does not vary within therapists (every caseload 1, or a process constant within
    each therapist); ``analysis.min_caseload_slopes`` that leaves fewer than three
    therapists; a moderator observed for fewer than three therapists or constant among
    them; and, for each model, a fixed-effect design of full rank with more patients
    than terms and a response that the terms do not fit exactly.
    """
    outcomes = measures_of(config, "outcome")
    processes = measures_of(config, "process")
    moderators = measures_of(config, "moderator")
    n_therapists = table["therapist"].nunique()
    if n_therapists < MIN_THERAPISTS:
        return [
            f"the analysis sample has {n_therapists} therapist(s) and {len(table)} "
            f"patient(s); the models need at least {MIN_THERAPISTS} therapists to estimate "
            "how much therapists differ. Add the data of more therapists, or check why "
            "patients were excluded (cleaning.min_outcome_assessments, ranges)."
        ]
    caseload = table.groupby("therapist").size()
    if caseload.max() < 2:
        return [
            f"every one of the {n_therapists} therapists has a single patient in the analysis "
            "sample, so no process can vary within a therapist and the within-therapist "
            "associations cannot be estimated. The design needs therapists with two or more "
            "patients; check data.columns.patient and data.columns.therapist (are the two "
            "swapped?)."
        ]
    problems: list[str] = []
    for o in outcomes:
        for part in ("baseline", "post"):
            values = table[f"{part}_{o.key}"]
            if _constant(values):
                problems.append(
                    f"outcome {o.key} ({_source(o)}): every sample patient has the same "
                    f"{'first' if part == 'baseline' else 'last'} score "
                    f"{_first(values)}, so it cannot be modelled. Check that "
                    f"{o.config_key} names the right column."
                )
    for p in processes:
        if _constant(table[f"{p.key}_mean"]):
            problems.append(
                f"process {p.key} ({_source(p)}): every sample patient has the same mean "
                "rating, so it cannot predict outcome. Check that "
                f"{p.config_key} names the right column."
            )
        elif _constant(table[f"{p.key}_within"]):
            problems.append(
                f"process {p.key} ({_source(p)}): every patient of a therapist has the same "
                "mean rating, for every therapist, so the within-therapist association "
                "cannot be estimated. Check the column (is it a therapist-level variable? "
                "then it is a moderator, under measures.moderators)."
            )
    if problems:
        return problems
    slope_problems = _slope_problems(table, config, moderators)
    # A slope sample that is too small fails every aim 2 and 3 design: say it once.
    return slope_problems + _design_problems(table, config, covariates, not slope_problems)


def _slope_problems(
    table: pd.DataFrame, config: Mapping[str, Any], moderators: Sequence[Measure]
) -> list[str]:
    minimum = config["analysis"]["min_caseload_slopes"]
    caseload = table.groupby("therapist").size().sort_values(ascending=False)
    kept = slope_sample(table, minimum)
    n_kept = kept["therapist"].nunique()
    if n_kept < MIN_THERAPISTS:
        best = int(caseload.iloc[MIN_THERAPISTS - 1])
        return [
            f"analysis.min_caseload_slopes is {minimum}, but only {n_kept} therapist(s) have "
            f"that many patients in the analysis sample (the largest caseloads are "
            f"{', '.join(map(str, caseload.iloc[:5].tolist()))}); the random-slope models "
            f"(aims 2 and 3) need at least {MIN_THERAPISTS} therapists. Set "
            f"analysis.min_caseload_slopes to {best} or less."
        ]
    if len(kept) <= 2 * n_kept:
        # lme4 (and the engine) refuse a model with no more observations than random
        # effects: an intercept and a slope per therapist.
        return [_identification_problem(caseload, minimum, len(kept), n_kept)]
    problems = []
    per_therapist = kept.groupby("therapist").first()
    for m in moderators:
        values = per_therapist[m.key].dropna()
        if len(values) < MIN_THERAPISTS:
            problems.append(
                f"moderator {m.key} (column '{m.column}' of the therapists table): only "
                f"{len(values)} of the {n_kept} therapists of the random-slope sample have a "
                f"value (therapists {', '.join(map(str, values.index[:MAX_LISTED]))}); aim 3 "
                f"needs at least {MIN_THERAPISTS}. Fill in the moderator for more therapists "
                f"or remove {m.config_key}."
            )
        elif _constant(values):
            problems.append(
                f"moderator {m.key} (column '{m.column}' of the therapists table): the "
                f"{len(values)} therapists of the random-slope sample with a value all have "
                f"{_first(values)}, so it cannot explain differences between them. Remove "
                f"{m.config_key} or check the column."
            )
    return problems


def _identification_problem(caseload: pd.Series, minimum: int, rows: int, groups: int) -> str:
    """The message for a random-slope sample with no more patients than random effects,
    naming the smallest ``analysis.min_caseload_slopes`` that gives a model lme4 fits."""
    fits = [
        m
        for m in range(minimum + 1, int(caseload.max()) + 1)
        if (caseload >= m).sum() >= MIN_THERAPISTS
        and caseload[caseload >= m].sum() > 2 * (caseload >= m).sum()
    ]
    fix = (
        f"Set analysis.min_caseload_slopes to {fits[0]} (the smallest value that gives more "
        "patients than random effects)"
        if fits
        else "Add patients per therapist"
    )
    return (
        f"analysis.min_caseload_slopes is {minimum}: the random-slope models (aims 2 and 3) "
        f"would have {rows} patients for the {2 * groups} random effects (an intercept and "
        f"a slope for each of {groups} therapists), so their variances are not identified "
        f"({int((caseload < 2).sum())} therapists have one patient). {fix}."
    )


def _models(
    config: Mapping[str, Any], covariates: Sequence[str]
) -> list[tuple[str, str, list[str], bool]]:
    """(name, response, terms, slope sample?) of every model the workflow fits."""
    outcomes = [m.key for m in measures_of(config, "outcome")]
    processes = [m.key for m in measures_of(config, "process")]
    moderators = [m.key for m in measures_of(config, "moderator")]
    models = []
    for o in outcomes:
        models.append((f"aim 1 joint {o}", f"post_{o}", aim1_terms(o, processes, covariates), 0))
        for p in processes:
            models.append((f"aim 1 {o}/{p}", f"post_{o}", aim1_terms(o, [p], covariates), 0))
            models.append((f"aim 2 {o}/{p}", f"post_{o}", aim1_terms(o, [p], covariates), 1))
            for m in moderators:
                terms = aim3_terms(o, p, m, covariates)
                models.append((f"aim 3 {o}/{p} by {m}", f"post_{o}", terms, 1))
    return [(n, r, t, bool(s)) for n, r, t, s in models]


def _term(data: pd.DataFrame, term: str) -> np.ndarray:
    values = np.ones(len(data))
    for part in term.split(":"):
        values = values * data[part].to_numpy(dtype=float)
    return values


def _design_problems(
    table: pd.DataFrame,
    config: Mapping[str, Any],
    covariates: Sequence[str],
    with_slopes: bool = True,
) -> list[str]:
    slopes = slope_sample(table, config["analysis"]["min_caseload_slopes"])
    problems = []
    for name, response, terms, on_slopes in _models(config, covariates):
        if on_slopes and not with_slopes:
            continue
        data = slopes if on_slopes else table
        columns = list(dict.fromkeys([response, *(p for t in terms for p in t.split(":"))]))
        used = data.loc[data[columns].notna().all(axis=1)]
        n_groups = used["therapist"].nunique()
        if len(used) <= len(terms) + 1 or n_groups < MIN_THERAPISTS:
            problems.append(
                f"{name}: only {len(used)} patient(s) of {n_groups} therapist(s) have every "
                f"variable of the model ({', '.join(terms)}); it needs more patients than its "
                f"{len(terms) + 1} fixed terms and at least {MIN_THERAPISTS} therapists."
            )
            continue
        X = np.column_stack([np.ones(len(used)), *(_term(used, t) for t in terms)])
        # X = QR with orthonormal Q: X[:, :j] and R[:, :j] have the same singular
        # values, so each rank is read from the small R (numpy's matrix_rank tolerance
        # for X's shape) instead of an SVD of the n x j matrix per term.
        Q, R = np.linalg.qr(X)
        eps = np.finfo(float).eps
        rank = 1
        for j, term in enumerate(terms, start=1):
            sv = np.linalg.svd(R[:, : j + 1], compute_uv=False)
            if int((sv > sv.max() * max(X.shape[0], j + 1) * eps).sum()) <= rank:
                problems.append(
                    f"{name}: the term {term} is a linear combination of the terms before "
                    f"it ({', '.join(['intercept', *terms[: j - 1]])}) in the "
                    f"{len(used)} patients with every variable, so its effect cannot be "
                    "estimated. Check that each measure points at its own column and that "
                    "the moderators and covariates vary."
                )
                break
            rank += 1
        else:
            y = used[response].to_numpy(dtype=float)
            # Full column rank here: the least-squares residual is y minus its
            # projection on the columns of Q.
            resid = y - Q @ (Q.T @ y)
            if float(resid @ resid) <= 1e-10 * max(1.0, float(((y - y.mean()) ** 2).sum())):
                problems.append(
                    f"{name}: {response} is an exact linear function of "
                    f"{', '.join(terms)}, so no residual variance is left to estimate. Check "
                    "that the outcome and the processes point at different columns."
                )
    return problems


def restrict_caseload(table: pd.DataFrame, minimum: int, group: str = "therapist") -> pd.DataFrame:
    """Keep the patients of therapists with at least ``minimum`` patients in the table.

    Used for the random-slope models (``analysis.min_caseload_slopes``): a therapist
    with one patient carries no information about their own slope. The within and
    between components are not recomputed, so the variables mean the same in every
    model.
    """
    size = table.groupby(group)[group].transform("size")
    kept = table[size >= minimum]
    if kept[group].nunique() < MIN_THERAPISTS:
        raise InputError(
            f"only {kept[group].nunique()} therapist(s) have at least {minimum} patient(s) in "
            f"the analysis sample; a random-slope model needs at least {MIN_THERAPISTS} "
            "therapists to estimate how much their slopes differ. Add data, or lower "
            "analysis.min_caseload_slopes."
        )
    return kept
