"""Design planning by simulation: power, parameter recovery and CI coverage.

A *cell* is one design (therapists, patients per therapist, sessions) with one set of
generating values. A replicate simulates a study of that design with the project's
simulator (:func:`process_outcome.data.simulate.simulate_study`: the same caseload spread,
dropout, missed surveys and mess), cleans it and builds the patient-level table with
the workflow's own code (:func:`process_outcome.data.analysis_table.analysis_table`), and fits
the workflow's aim 1, 2 and 3 models (:mod:`process_outcome.analysis.aims`). It records one
tidy row per model quantity: estimate, SE, CI, p value, truth, singular and converged
flags. Summaries are in :mod:`process_outcome.analysis.power_summary`.

The planned effects are carried by the simulator's ``symptoms`` outcome and
``alliance`` process (moderated by ``self_alliance``); the generating values are the
user's (from their fitted models or the config). Two nulls come from the same study:

* the ``functioning`` outcome is a *null twin* with the same fixed effects and variance
  components but no therapist variation in the alliance slope and no moderation: the
  aim 2 mixture test on it gives the type-I error under a zero slope variance;
* ``use_alliance`` moderates nothing: the aim 3 interaction test with it, on the
  target outcome, gives the type-I error under a zero moderator effect;
* the aim 3 test of ``self_alliance`` on the null twin gives the type-I error of a
  cross-level test when the slope does not vary at all (singular fits frequent).

Every test is reported as the workflow reports it: the aim 1 within effect from the
random-slope model (:func:`process_outcome.analysis.aims.headline_coefficients`; the
random-intercept model's row is kept as model ``aim1ri_<label>`` for comparison),
therapist-level and cross-level df at most ``J - q - 1``
(:mod:`process_outcome.analysis.inference`), and the aim 3 interaction's p value also
after the Benjamini-Hochberg adjustment across the family of moderators the user's
study tests (``p_fdr``: the planned moderator, ``use_alliance`` and
``n_moderators - 2`` further moderators without effect, whose p values are drawn
uniform from the replicate's seed, as a valid test's p values under a true null are).

Seeds are derived from the base seed, the cell's parameters and the replicate index
only (never from job order or batch size), so results do not depend on how the
replicates are split into jobs or which executor ran them.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from process_outcome.analysis import aims
from process_outcome.analysis.feasibility import check_feasibility, restrict_caseload
from process_outcome.analysis.inference import reported_coefficients
from process_outcome.config import measures_of
from process_outcome.data.analysis_table import analysis_table, covariate_terms
from process_outcome.data.pseudonyms import pseudonymize, therapist_codes
from process_outcome.data.simulate import TRUE_FIXED, TRUE_RANDOM, simulate_study
from process_outcome.errors import InputError
from process_outcome.mixed.testing import fdr_bh, mixture_lr_test

__all__ = [
    "GENERATING_KEYS",
    "NULL_MODERATOR",
    "PLANNING",
    "REPLICATE_COLUMNS",
    "Cell",
    "batches",
    "cells_table",
    "design_grid",
    "generating_values",
    "replicate_seed",
    "replicate_table",
    "run_batch",
    "run_replicate",
    "simulation_config",
]

TARGET_OUTCOME, NULL_OUTCOME = "symptoms", "functioning"
PROCESS, MODERATOR, NULL_MODERATOR = "alliance", "self_alliance", "use_alliance"
# Generating values a user may set; their defaults are the simulator's for the target.
GENERATING_KEYS = (
    "intercept",
    "baseline",
    "within",
    "between",
    "intercept_sd",
    "slope_sd",
    "residual_sd",
    "moderator_effect",
)
REPLICATE_COLUMNS = [
    "cell",
    "replicate",
    "model",
    "parameter",
    "truth",
    "estimate",
    "se",
    "ci_low",
    "ci_high",
    "p",
    "p_fdr",
    "df",
    "singular",
    "converged",
    "n_patients",
    "n_therapists",
    "error",
]
PLANNING = ("point", "safeguard")


@dataclass(frozen=True)
class Cell:
    """One design with its generating values.

    Attributes
    ----------
    n_therapists, patients_per_therapist, max_sessions : int
        The design: therapists, mean caseload (patients = therapists x caseload, spread
        unequally as in the simulator), maximum assessments per patient.
    slope_sd : float
        Therapist SD of the alliance slope not explained by the moderator.
    moderator_effect : float
        Cross-level interaction ``alliance_within:self_alliance`` (per rating point).
    intercept, baseline, within, between, intercept_sd, residual_sd : float
        The other generating values of the target outcome.
    """

    n_therapists: int
    patients_per_therapist: int
    max_sessions: int
    slope_sd: float
    moderator_effect: float
    intercept: float
    baseline: float
    within: float
    between: float
    intercept_sd: float
    residual_sd: float

    @property
    def key(self) -> str:
        """Stable name of the cell (a file-name-safe string of its parameters)."""
        return (
            f"t{self.n_therapists}_p{self.patients_per_therapist}_s{self.max_sessions}"
            f"_sd{self.slope_sd!r}_m{self.moderator_effect!r}"
        )

    def to_dict(self) -> dict[str, Any]:
        """The cell's parameters."""
        return asdict(self)


def generating_values(
    explicit: Mapping[str, float | None], fitted: Mapping[str, float] | None = None
) -> dict[str, float]:
    """Resolve the generating values: explicit config values, else the user's fitted
    models, else the simulator's values for its ``symptoms``/``alliance`` pair.

    Parameters
    ----------
    explicit : mapping
        ``power.values`` of the config (``None`` entries are not set).
    fitted : mapping, optional
        Values read from the user's fitted models (see
        :func:`process_outcome.analysis.power_summary.values_from_models`).

    Returns
    -------
    dict
        One float per key of :data:`GENERATING_KEYS`.

    Examples
    --------
    >>> generating_values({"slope_sd": 0.2})["slope_sd"]
    0.2
    """
    fx, rnd = TRUE_FIXED[TARGET_OUTCOME], TRUE_RANDOM[TARGET_OUTCOME]
    values = {
        "intercept": fx["(Intercept)"],
        "baseline": fx["baseline_c"],
        "within": fx[f"{PROCESS}_within"],
        "between": fx[f"{PROCESS}_between"],
        "intercept_sd": rnd["intercept_sd"],
        "slope_sd": rnd[f"{PROCESS}_slope_sd"],
        "residual_sd": rnd["residual_sd"],
        "moderator_effect": 0.15,
    }
    values.update({k: float(v) for k, v in (fitted or {}).items() if v is not None})
    values.update({k: float(v) for k, v in explicit.items() if v is not None})
    return values


def design_grid(power: Mapping[str, Any], values: Mapping[str, float]) -> list[Cell]:
    """The cells of the ``power`` config section, in a fixed order.

    Parameters
    ----------
    power : mapping
        The ``power`` config section (lists ``n_therapists``,
        ``patients_per_therapist``, ``max_sessions``, ``slope_sd``,
        ``moderator_effect``; ``null`` in the last two means the generating value).
    values : mapping
        Generating values (:func:`generating_values`).

    Returns
    -------
    list of Cell

    Examples
    --------
    >>> grid = design_grid({"n_therapists": [20, 40], "patients_per_therapist": [5],
    ...     "max_sessions": [9], "slope_sd": [None], "moderator_effect": [0.1]},
    ...     generating_values({}))
    >>> [c.key for c in grid]
    ['t20_p5_s9_sd0.3_m0.1', 't40_p5_s9_sd0.3_m0.1']
    """
    slope_sds = [values["slope_sd"] if v is None else float(v) for v in power["slope_sd"]]
    effects = [
        values["moderator_effect"] if v is None else float(v) for v in power["moderator_effect"]
    ]
    others = {k: float(values[k]) for k in GENERATING_KEYS if k not in ("slope_sd",)}
    others.pop("moderator_effect")
    cells = [
        Cell(int(t), int(p), int(s), float(sd), float(m), **others)
        for t, p, s, sd, m in itertools.product(
            power["n_therapists"],
            power["patients_per_therapist"],
            power["max_sessions"],
            slope_sds,
            effects,
        )
    ]
    keys = [c.key for c in cells]
    if len(set(keys)) != len(keys):
        repeated = sorted({k for k in keys if keys.count(k) > 1})
        raise InputError(
            f"power: the grid has repeated designs {repeated}. A null in power.slope_sd or "
            f"power.moderator_effect stands for the generating value (slope SD "
            f"{values['slope_sd']:g}, moderator effect {values['moderator_effect']:g}); "
            "list each value once."
        )
    return cells


def batches(replicates: int, batch_size: int) -> list[int]:
    """Batch numbers 0, 1, ... covering ``replicates`` in batches of ``batch_size``.

    Examples
    --------
    >>> batches(10, 4)
    [0, 1, 2]
    """
    return list(range(math.ceil(replicates / batch_size)))


def replicate_seed(base_seed: int, cell: Cell, replicate: int) -> int:
    """Seed of one replicate, derived from the base seed, the cell and the replicate
    index only.

    Examples
    --------
    >>> cell = design_grid({"n_therapists": [20], "patients_per_therapist": [5],
    ...     "max_sessions": [9], "slope_sd": [None], "moderator_effect": [None]},
    ...     generating_values({}))[0]
    >>> replicate_seed(1, cell, 0) == replicate_seed(1, cell, 0) != replicate_seed(1, cell, 1)
    True
    """
    digest = hashlib.sha256(json.dumps(cell.to_dict(), sort_keys=True).encode()).digest()
    entropy = [int(base_seed), int.from_bytes(digest[:8], "little"), int(replicate)]
    return int(np.random.SeedSequence(entropy).generate_state(1, dtype=np.uint64)[0])


def simulation_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The config under which simulated replicates are cleaned and modelled.

    The measures are the simulator's (both outcomes, both processes, the two alliance
    moderators); the cleaning and analysis settings are the user's, so the replicates
    pass the same cleaning rules and caseload restriction as their own data.
    """
    measures = {
        "outcomes": {
            o: {"column": o, "higher_is": "worse"} for o in (TARGET_OUTCOME, NULL_OUTCOME)
        },
        "processes": {
            "alliance": {"column": "alliance", "range": [1, 5]},
            "expectation": {"column": "expectation", "range": [1, 9]},
        },
        "moderators": {m: {"column": m, "type": "continuous"} for m in (MODERATOR, NULL_MODERATOR)},
        "covariates": {},
    }
    return {
        "data": {
            "source": "simulate",
            "files": {},
            "sheets": {},
            "columns": {"patient": "patient_id", "therapist": "therapist_id", "session": "session"},
        },
        "measures": measures,
        "cleaning": dict(config["cleaning"]),
        "analysis": dict(config["analysis"]),
    }


def _truth(cell: Cell) -> dict[str, dict[str, float]]:
    fixed = {
        "(Intercept)": cell.intercept,
        f"baseline_{TARGET_OUTCOME}_c": cell.baseline,
        f"{PROCESS}_within": cell.within,
        f"{PROCESS}_between": cell.between,
    }
    null_fixed = {k.replace(TARGET_OUTCOME, NULL_OUTCOME): v for k, v in fixed.items()}
    return {TARGET_OUTCOME: fixed, NULL_OUTCOME: null_fixed}


def _simulate(cell: Cell, seed: int, mess: bool) -> dict[str, pd.DataFrame]:
    fx = {
        "(Intercept)": cell.intercept,
        "baseline_c": cell.baseline,
        f"{PROCESS}_within": cell.within,
        f"{PROCESS}_between": cell.between,
    }
    fixed = {o: dict(TRUE_FIXED[o]) | fx for o in (TARGET_OUTCOME, NULL_OUTCOME)}
    sds = {"intercept_sd": cell.intercept_sd, "residual_sd": cell.residual_sd}
    random = {
        TARGET_OUTCOME: dict(TRUE_RANDOM[TARGET_OUTCOME])
        | sds
        | {"alliance_slope_sd": cell.slope_sd},
        NULL_OUTCOME: dict(TRUE_RANDOM[NULL_OUTCOME]) | sds | {"alliance_slope_sd": 0.0},
    }
    study = simulate_study(
        seed=seed,
        n_therapists=cell.n_therapists,
        n_patients=cell.n_therapists * cell.patients_per_therapist,
        max_sessions=cell.max_sessions,
        mess=mess,
        true_fixed=fixed,
        true_random=random,
        true_moderation={(TARGET_OUTCOME, PROCESS, MODERATOR): cell.moderator_effect},
    )
    # As the workflow reads the simulated CSV files: ids as text.
    ids = {"patient_id": "string", "therapist_id": "string"}
    return {
        "sessions": study.sessions.astype(ids),
        "therapists": study.therapists.astype({"therapist_id": "string"}),
        "patients": study.patients.astype({"patient_id": "string"}),
        "truth": study.truth,
    }


def _fit_rows(
    model: str, fit: Any, truth: Mapping[str, float], table: pd.DataFrame
) -> list[dict[str, Any]]:
    coef = table.set_index("term")
    keys = ("estimate", "se", "ci_low", "ci_high", "p", "df")
    return [
        {
            "model": model,
            "parameter": term,
            "truth": value,
            **{k: float(coef.loc[term, k]) for k in keys},
            "singular": bool(fit.singular),
            "converged": bool(fit.converged),
            "n_patients": int(fit.n_obs),
            "n_therapists": int(fit.n_groups),
        }
        for term, value in truth.items()
        if term in coef.index
    ]


def _slope_sd_row(model: str, fit: Any, truth: float, p: float) -> dict[str, Any]:
    variance = fit.variance_components[f"{fit.group}|{fit.random_slope}|"]
    return {
        "model": model,
        "parameter": "slope_sd",
        "truth": truth,
        "estimate": math.sqrt(max(float(variance), 0.0)),
        "p": p,
        "singular": bool(fit.singular),
        "converged": bool(fit.converged),
        "n_patients": int(fit.n_obs),
        "n_therapists": int(fit.n_groups),
    }


def _replicate_models(
    pt: pd.DataFrame,
    cell: Cell,
    truth: pd.DataFrame,
    minimum: int,
    ddf: str,
    extra_nulls: np.ndarray,
) -> list[dict[str, Any]]:
    fixed = _truth(cell)
    slope_truth = truth.set_index(["outcome", "process", "moderator", "parameter"])["value"]
    rows: list[dict[str, Any]] = []
    slope_pt = restrict_caseload(pt, minimum)
    for outcome, label in ((TARGET_OUTCOME, "target"), (NULL_OUTCOME, "null")):
        nested = aims.fit_aim1(slope_pt, outcome, PROCESS)
        res = aims.fit_aim2(slope_pt, outcome, PROCESS, nested, "worse")
        # aim 2's model is aim 1's with the alliance slope varying: the headline's slope model
        headline = aims.headline_coefficients(nested, {PROCESS: res.fit}, slope_pt, ddf)
        rows += _fit_rows(f"aim1_{label}", nested, fixed[outcome], headline)
        ri = reported_coefficients(nested, slope_pt, ddf)
        rows += _fit_rows(f"aim1ri_{label}", nested, fixed[outcome], ri)
        rows += _fit_rows(
            f"aim2_{label}", res.fit, fixed[outcome], reported_coefficients(res.fit, slope_pt, ddf)
        )
        # The mixture test from the two REML log-likelihoods, as the workflow reports it.
        _, p = mixture_lr_test(res.fit.loglik, nested.loglik)
        marginal = float(slope_truth[(outcome, PROCESS, "", "slope_sd")])
        rows.append(_slope_sd_row(f"aim2_{label}", res.fit, marginal, p))
    interaction = f"{PROCESS}_within:{{}}"
    family: list[dict[str, Any]] = []
    for outcome, moderator, label, effect in (
        (TARGET_OUTCOME, MODERATOR, "aim3_target", cell.moderator_effect),
        (TARGET_OUTCOME, NULL_MODERATOR, "aim3_null", 0.0),
        (NULL_OUTCOME, MODERATOR, "aim3_noslope", 0.0),
    ):
        fit = aims.fit_aim3(slope_pt, outcome, PROCESS, {moderator: "continuous"}).fits[0]
        truth_m = fixed[outcome] | {interaction.format(moderator): effect}
        fit_rows = _fit_rows(label, fit, truth_m, reported_coefficients(fit, slope_pt, ddf))
        rows += fit_rows
        if outcome == TARGET_OUTCOME:
            family += [r for r in fit_rows if r["parameter"] == interaction.format(moderator)]
        unexplained = (
            cell.slope_sd
            if label == "aim3_target"
            else 0.0
            if label == "aim3_noslope"
            else math.nan
        )
        rows.append(_slope_sd_row(label, fit, unexplained, float("nan")))
    # The manuscript judges aim 3 after BH across the study's moderators.
    adjusted = fdr_bh(np.concatenate([[r["p"] for r in family], extra_nulls]))
    for r, q in zip(family, adjusted, strict=False):
        r["p_fdr"] = float(q)
    return rows


def replicate_table(
    cell: Cell, replicate: int, base_seed: int, config: Mapping[str, Any], mess: bool = True
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The cleaned patient-level table of one replicate (pseudonymous therapist codes)
    and the simulator's truth, as :func:`run_replicate` models them.

    Raises
    ------
    InputError
        If the workflow could not analyse the replicate (e.g. too few therapists left).
    """
    tables = _simulate(cell, replicate_seed(base_seed, cell, replicate), mess)
    _, table = analysis_table(
        tables["sessions"], tables["therapists"], config, patients=tables["patients"]
    )
    covariates = covariate_terms(table, measures_of(config, "covariate"))
    check_feasibility(table, config, covariates)
    return pseudonymize(table, therapist_codes(table["therapist"])), tables["truth"]


def run_replicate(
    cell: Cell,
    replicate: int,
    base_seed: int,
    config: Mapping[str, Any],
    mess: bool = True,
    n_moderators: int = 2,
    ddf: str = "satterthwaite",
) -> list[dict[str, Any]]:
    """Simulate, clean and model one replicate of a cell.

    Parameters
    ----------
    cell : Cell
        The design and generating values.
    replicate : int
        Replicate index within the cell (0-based); with ``base_seed`` it fixes the seed.
    base_seed : int
        ``power.seed``.
    config : mapping
        :func:`simulation_config` of the user's config.
    mess : bool
        Simulate the mess the cleaning removes (duplicates, out-of-range values).
    n_moderators : int
        Moderators of the user's aim 3 family (at least 2): the BH adjustment of
        ``p_fdr`` is across this many tests.
    ddf : {"satterthwaite", "kenward_roger"}
        Denominator-df method (``inference.ddf``).

    Returns
    -------
    list of dict
        Rows with :data:`REPLICATE_COLUMNS`. A replicate the workflow could not analyse
        (for example too few therapists left for a random slope) gives one row with the
        reason in ``error``; it is counted, never dropped silently.

    Examples
    --------
    >>> import process_outcome.analysis.power as pw
    >>> cell = pw.design_grid({"n_therapists": [12], "patients_per_therapist": [4],
    ...     "max_sessions": [6], "slope_sd": [None], "moderator_effect": [None]},
    ...     pw.generating_values({}))[0]
    >>> cfg = pw.simulation_config({"cleaning": {"out_of_range": "missing",
    ...     "min_outcome_assessments": 2}, "analysis": {"process_sessions": None,
    ...     "min_caseload_slopes": 1}})
    >>> rows = pw.run_replicate(cell, 0, 1, cfg)
    >>> sorted({r["model"] for r in rows})[:2]
    ['aim1_null', 'aim1_target']
    """
    seed = replicate_seed(base_seed, cell, replicate)
    extra = np.random.default_rng([seed, 1]).uniform(size=max(int(n_moderators) - 2, 0))
    head = {"cell": cell.key, "replicate": int(replicate)}
    try:
        pt, truth = replicate_table(cell, replicate, base_seed, config, mess)
        with warnings.catch_warnings():
            # Non-convergence and nesting problems are recorded in the rows instead.
            warnings.simplefilter("ignore", RuntimeWarning)
            rows = _replicate_models(
                pt,
                cell,
                truth,
                int(config["analysis"]["min_caseload_slopes"]),
                ddf,
                extra,
            )
    except (InputError, ValueError, np.linalg.LinAlgError) as exc:
        return [head | {"model": "", "parameter": "", "error": _one_line(exc)}]
    return [head | row | {"error": ""} for row in rows]


def _one_line(exc: Exception) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"[:300]


def run_batch(
    cell: Cell,
    batch: int,
    batch_size: int,
    replicates: int,
    base_seed: int,
    config: Mapping[str, Any],
    mess: bool = True,
    n_moderators: int = 2,
    ddf: str = "satterthwaite",
) -> pd.DataFrame:
    """Run replicates ``batch * batch_size`` up to (excluding) ``min(replicates, (batch + 1)
    * batch_size)`` of a cell and return their rows (:data:`REPLICATE_COLUMNS`).

    Examples
    --------
    >>> import process_outcome.analysis.power as pw
    >>> cell = pw.design_grid({"n_therapists": [12], "patients_per_therapist": [4],
    ...     "max_sessions": [6], "slope_sd": [None], "moderator_effect": [None]},
    ...     pw.generating_values({}))[0]
    >>> cfg = pw.simulation_config({"cleaning": {"out_of_range": "missing",
    ...     "min_outcome_assessments": 2}, "analysis": {"process_sessions": None,
    ...     "min_caseload_slopes": 1}})
    >>> pw.run_batch(cell, 1, 2, 3, 1, cfg)["replicate"].unique().tolist()
    [2]
    """
    first = batch * batch_size
    rows: list[dict[str, Any]] = []
    for replicate in range(first, min(replicates, first + batch_size)):
        rows += run_replicate(cell, replicate, base_seed, config, mess, n_moderators, ddf)
    return pd.DataFrame(rows, columns=REPLICATE_COLUMNS)


def cells_table(cells: Sequence[Cell]) -> pd.DataFrame:
    """One row per cell: its key and parameters."""
    return pd.DataFrame([{"cell": c.key, **c.to_dict()} for c in cells])
