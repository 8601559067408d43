"""Generated studies unlike the default one, and their results made in process.

A :class:`Design` says what kind of study it is (how many therapists, what caseloads,
which measures, what effects, which robustness variants, whether design-planning
results exist, what the ids look like). :func:`write_study` writes its data files and
config as a lab would; :func:`build_study` makes its results by calling the workflow's
step functions (the bodies of the rules in ``workflow/rules/*.smk``) in the order
Snakemake runs them, with the paths the rules use, so a study costs seconds rather than
a Snakemake run. :data:`DESIGNS` is a fixed, seeded list of such studies; the
``generated_studies`` fixture builds them once per test session, two at a time.

Everything the tests know about the manuscript's entry point is in
:func:`render_manuscript`, :func:`manuscript_markdown` and :func:`manuscript_html`.

End-to-end tests can run the same studies through Snakemake: ``write_study`` returns
the config to pass to :func:`tests.conftest.run_snakemake`.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import multiprocessing
import os
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from process_outcome.config import measures_of, validate_config
from process_outcome.data.simulate import (
    TRUE_FIXED,
    TRUE_MODERATION,
    TRUE_RANDOM,
    simulate_study,
)
from process_outcome.outputs import outputs
from tests.conftest import ROOT, SCHEMA

__all__ = [
    "DESIGNS",
    "Design",
    "Study",
    "StudyCache",
    "build_studies",
    "build_study",
    "generated_studies",
    "manuscript_html",
    "manuscript_markdown",
    "render_manuscript",
    "study_cache",
    "write_study",
]

# First names as therapist ids: none is an English word, so a name found in the
# manuscript is a leaked id, not a coincidence.
FIRST_NAMES = (
    "Annika Bartholomew Cosima Dmitri Evangeline Florentin Gwendolyn Horatio Ingeborg "
    "Jaroslav Katarina Leopold Magdalena Nikolai Ottilie Perpetua Quirin Rosalind "
    "Sebastiano Theodora Ulrich Valentina Wilhelmina Xaver Yolanda Zacharias Adelheid "
    "Benedikt Clementine Desmond Eleonora Fridolin Genoveva Hieronymus Isolde Joachim "
    "Kunigunde Ludovica Maximilian Notburga Oswin Philippa Radegund Sieglinde Tiberius "
    "Ursula Vinzenz Waltraud Yvonne Zenobia Alarich Brunhilde Cyprian Dorothea Eberhard "
    "Friederike Gottlieb Hildegard Ignatius Jolanthe Konstantin"
).split()

# Robustness variants a design can ask for, by name (as config/config.yaml spells them;
# ``caseload9`` cannot be fitted on most generated studies: the manuscript must say so).
VARIANTS: dict[str, dict[str, Any]] = {
    "precedence": {"label": "Process before outcome", "process_before_outcome": True},
    "early": {"label": "Sessions 1–3", "process_sessions": [1, 3]},
    "caseload2": {"label": "Caseloads ≥ 2", "min_caseload_slopes": 2},
    "adjusted": {
        "label": "Arm and sessions adjusted",
        "adjust_sessions": True,
        "covariates": {
            "arm": {
                "column": "arm",
                "label": "Trial arm",
                "type": "categorical",
                "reference": "usual",
            }
        },
    },
    "completers": {"label": "Completers", "completers_only": True},
    "caseload9": {"label": "Caseloads ≥ 9", "min_caseload_slopes": 9},
}

# The measures a design can use: key -> (config entry, how the column is made).
OUTCOMES = {
    "symptoms": {"column": "symptoms", "label": "Symptom severity", "higher_is": "worse"},
    "wellbeing": {
        "column": "wellbeing",
        "label": "Well-being (WHO-5)",
        "higher_is": "better",
        "range": [0, 100],
    },
    "functioning": {
        "column": "functioning",
        "label": "Functional impairment",
        "higher_is": "worse",
    },
}
PROCESSES = {
    "alliance": {"column": "alliance", "label": "Working alliance", "range": [1, 5]},
    "alliance_items": {
        "label": "Working alliance (WAI-SR items)",
        "items": ["wai_1", "wai_2", "wai_3r"],
        "reverse_items": ["wai_3r"],
        "item_range": [1, 7],
    },
    "expectation": {"column": "expectation", "label": "Outcome expectation", "range": [1, 9]},
    "bond": {"column": "bond", "label": "Session bond", "range": [1, 7]},
}
MODERATORS = {
    "self_alliance": {
        "column": "self_alliance",
        "label": "Self-rated alliance-fostering effectiveness",
        "type": "continuous",
    },
    "experience": {
        "column": "experience",
        "label": "Years of clinical experience",
        "type": "continuous",
    },
    "cbt": {"column": "cbt", "label": "Cognitive-behavioral orientation", "type": "binary"},
    # High self-rated skill as a 0/1 characteristic: a binary moderator that carries
    # the simulated moderation (the simulator's cbt moderates nothing).
    "skilled": {
        "column": "skilled",
        "label": "High self-rated alliance skill",
        "type": "binary",
    },
}


@dataclasses.dataclass(frozen=True)
class Design:
    """What kind of study to generate.

    Attributes
    ----------
    seed : int
        Seed of the simulated data.
    n_therapists, n_patients, max_sessions : int
        Size of the simulated study (``n_patients`` >= ``n_therapists``).
    caseloads : {"skewed", "extreme"}
        ``skewed``: the simulator's lognormal caseloads (with ``n_patients`` close to
        ``n_therapists`` most therapists see one patient); ``extreme``: the patients of
        the first third of the therapists all go to the first one.
    outcomes, processes, moderators : tuple of str
        Keys of :data:`OUTCOMES`, :data:`PROCESSES` and :data:`MODERATORS`.
    within, slope_sd, moderation : float
        Multipliers of the simulator's within-therapist effects, therapist slope SDs
        (0 makes the random-slope fits singular) and cross-level moderation.
    robustness : tuple of str
        Keys of :data:`VARIANTS`.
    power : bool
        Whether design-planning results (a tiny grid) exist.
    ids : {"simulator", "T01", "names"}
        Therapist ids as the simulator writes them (``TH001``), short codes with leading
        zeros, or first names.
    simulate : bool
        ``data.source: simulate`` (the built-in simulator, truth known: the manuscript's
        simulation check) instead of data files; then only the simulator's measures,
        caseloads, effects and ids can be used.
    mess : bool
        Duplicate rows, impossible values, missed surveys, intake-only patients.
    covariates : bool
        Trial arm in every model.
    min_caseload_slopes : int
        ``analysis.min_caseload_slopes``.
    """

    seed: int
    n_therapists: int = 20
    n_patients: int = 100
    max_sessions: int = 9
    caseloads: str = "skewed"
    outcomes: tuple[str, ...] = ("symptoms",)
    processes: tuple[str, ...] = ("alliance",)
    moderators: tuple[str, ...] = ()
    within: float = 1.0
    slope_sd: float = 1.0
    moderation: float = 1.0
    robustness: tuple[str, ...] = ()
    power: bool = False
    ids: str = "simulator"
    simulate: bool = False
    mess: bool = True
    covariates: bool = False
    min_caseload_slopes: int = 1

    @property
    def name(self) -> str:
        """A short id of the design for test ids and reports."""
        return f"s{self.seed}"

    def describe(self) -> str:
        """The design in one line, for a failure message: its seed and size, and every
        other field that differs from the default."""
        fields = dataclasses.asdict(self)
        default = dataclasses.asdict(Design(seed=self.seed))
        always = ("seed", "n_therapists", "n_patients")
        return ", ".join(f"{k}={v}" for k, v in fields.items() if k in always or v != default[k])


def _design(rng: np.random.Generator, seed: int) -> Design:
    """One random design (the draws are in a fixed order, so a seed gives one design)."""
    simulate = rng.random() < 0.2
    n_therapists = int(rng.integers(8, 61))
    shape = rng.choice(["skewed", "ones", "extreme"], p=[0.6, 0.2, 0.2])
    if shape == "ones":
        # Most therapists see one patient; a few see two or three.
        n_patients = n_therapists + int(rng.integers(max(3, n_therapists // 4), n_therapists))
    else:
        n_patients = int(n_therapists * rng.uniform(2.5, 7.0))
    caseloads = "extreme" if shape == "extreme" and not simulate else "skewed"
    n_outcomes = int(rng.choice([1, 2], p=[0.6, 0.4]))
    n_processes = int(rng.choice([1, 2, 3], p=[0.4, 0.4, 0.2]))
    if simulate:
        outcomes = ("symptoms", "functioning")[:n_outcomes]
        processes = ("alliance", "expectation")[: min(n_processes, 2)]
        pool = ["self_alliance", "experience", "cbt"]
    else:
        first = "wellbeing" if rng.random() < 0.4 else "symptoms"
        outcomes = (first, "functioning")[:n_outcomes]
        alliance = "alliance_items" if rng.random() < 0.3 else "alliance"
        processes = (alliance, "expectation", "bond")[:n_processes]
        pool = ["self_alliance", "experience", "cbt", "skilled"]
    kind = rng.choice(["none", "continuous", "binary", "both"], p=[0.25, 0.3, 0.2, 0.25])
    continuous = [m for m in pool if MODERATORS[m]["type"] == "continuous"]
    binary = [m for m in pool if MODERATORS[m]["type"] == "binary"]
    moderators: tuple[str, ...] = {
        "none": (),
        "continuous": tuple(continuous[: int(rng.integers(1, len(continuous) + 1))]),
        "binary": (str(rng.choice(binary)),),
        "both": (continuous[0], binary[-1]),
    }[str(kind)]
    n_variants = int(rng.choice([0, 1, 2, 5], p=[0.45, 0.3, 0.2, 0.05]))
    names = list(VARIANTS)
    robustness = tuple(str(v) for v in rng.choice(names, size=n_variants, replace=False))
    return Design(
        seed=seed,
        n_therapists=n_therapists,
        n_patients=n_patients,
        max_sessions=int(rng.choice([3, 5, 9, 12], p=[0.15, 0.2, 0.5, 0.15])),
        caseloads=caseloads,
        outcomes=outcomes,
        processes=processes,
        moderators=moderators,
        within=1.0 if simulate else float(rng.choice([0.0, 1.0, 2.5])),
        slope_sd=1.0 if simulate else float(rng.choice([0.0, 1.0, 3.0])),
        moderation=1.0 if simulate else float(rng.choice([0.0, 1.0, 4.0])),
        robustness=robustness,
        power=bool(rng.random() < 0.25),
        ids="simulator" if simulate else str(rng.choice(["simulator", "T01", "names"])),
        simulate=simulate,
        mess=bool(rng.random() < 0.7),
        covariates=bool(rng.random() < 0.25),
        # With mostly one-patient caseloads, a minimum of 2 leaves too few therapists
        # for the slope models: the workflow stops (rightly) before any manuscript.
        min_caseload_slopes=min(int(rng.choice([1, 2], p=[0.8, 0.2])), 1 if shape == "ones" else 2),
    )


def _designs(n: int, seed: int) -> tuple[Design, ...]:
    # With data.source: simulate the simulator's own effects hold (multipliers 1).
    rng = np.random.default_rng(seed)
    return tuple(_design(rng, seed * 1000 + i) for i in range(n))


# Studies the random draw might miss, first: the issue 17 study (55 therapists, both
# processes and outcomes, non-singular slope models: the paragraph that lost its full
# stops), one measure of each and nothing else, and tiny unequal caseloads.
EDGE_DESIGNS = (
    Design(
        seed=55,
        n_therapists=55,
        n_patients=300,
        outcomes=("symptoms", "functioning"),
        processes=("alliance", "expectation"),
        moderators=("self_alliance", "cbt"),
        slope_sd=3.0,
        moderation=4.0,
        robustness=("precedence", "completers"),
    ),
    Design(seed=1, n_therapists=8, n_patients=24, mess=False),
    Design(
        seed=2,
        n_therapists=12,
        n_patients=20,
        max_sessions=3,
        outcomes=("wellbeing",),
        moderators=("skilled",),
        slope_sd=0.0,
        within=0.0,
        ids="names",
        robustness=("caseload9",),
    ),
    Design(
        seed=3,
        n_therapists=40,
        n_patients=210,
        caseloads="extreme",
        outcomes=("wellbeing", "functioning"),
        processes=("alliance_items", "expectation", "bond"),
        moderators=("self_alliance", "experience", "skilled"),
        slope_sd=3.0,
        within=2.5,
        moderation=4.0,
        ids="T01",
        power=True,
        covariates=True,
        robustness=("early", "adjusted"),
    ),
    Design(
        seed=4,
        simulate=True,
        n_therapists=30,
        n_patients=150,
        outcomes=("symptoms", "functioning"),
        processes=("alliance", "expectation"),
        moderators=("self_alliance", "cbt"),
        power=True,
    ),
)

#: The studies of the property tests: the edge designs and 51 seeded random ones.
DESIGNS: tuple[Design, ...] = EDGE_DESIGNS + _designs(51, seed=17)


# ----------------------------------------------------------------------------- data


def _effects(d: Design) -> dict[str, Any]:
    fixed = {
        o: {t: v * d.within if t.endswith("_within") else v for t, v in TRUE_FIXED[o].items()}
        for o in TRUE_FIXED
    }
    rnd = {
        o: {k: v * d.slope_sd if "slope" in k else v for k, v in TRUE_RANDOM[o].items()}
        for o in TRUE_RANDOM
    }
    moderation = {k: v * d.moderation for k, v in TRUE_MODERATION.items()}
    return {"true_fixed": fixed, "true_random": rnd, "true_moderation": moderation}


def _therapist_ids(d: Design, n: int) -> list[str]:
    if d.ids == "T01":
        return [f"T{j + 1:02d}" for j in range(n)]
    if d.ids == "names":
        return list(FIRST_NAMES[:n])
    raise ValueError(d.ids)


def study_tables(d: Design) -> dict[str, pd.DataFrame]:
    """The data files of a ``data.source: files`` design, as a lab would export them."""
    if d.ids == "names" and d.n_therapists > len(FIRST_NAMES):
        raise ValueError(f"at most {len(FIRST_NAMES)} therapists with first names")
    study = simulate_study(
        seed=d.seed,
        n_therapists=d.n_therapists,
        n_patients=d.n_patients,
        max_sessions=d.max_sessions,
        mess=d.mess,
        **_effects(d),
    )
    rng = np.random.default_rng(d.seed + 1)
    s = study.sessions.copy()
    t = study.therapists.copy()
    if d.caseloads == "extreme":
        # The first third of the therapists' patients all go to the first therapist.
        ids = t["therapist_id"].tolist()
        merged = set(ids[1 : max(2, len(ids) // 3)])
        s.loc[s["therapist_id"].isin(merged), "therapist_id"] = ids[0]
        t = t[~t["therapist_id"].isin(merged)].reset_index(drop=True)
    if d.ids != "simulator":
        codes = dict(zip(t["therapist_id"], _therapist_ids(d, len(t)), strict=True))
        s["therapist_id"] = s["therapist_id"].map(codes)
        t["therapist_id"] = t["therapist_id"].map(codes)
    # Derived columns are drawn once per patient and session, so that the simulator's
    # exact duplicate rows stay exact duplicates.
    u = s.drop_duplicates(["patient_id", "session"])[["patient_id", "session", "alliance"]]
    n = len(u)
    # A third process on 1-7 tracking the alliance, and the alliance as three 1-7 items.
    bond = 1 + 1.5 * (u["alliance"] - 1) + rng.normal(0, 0.6, n)
    u["bond"] = np.round(np.clip(bond, 1, 7), 1).where(u["alliance"].between(1, 5))
    for item in PROCESSES["alliance_items"]["items"]:
        value = np.clip(np.round(1 + 1.5 * (u["alliance"] - 1) + rng.normal(0, 0.7, n)), 1, 7)
        value = value.where(u["alliance"].between(1, 5))
        u[item] = 8 - value if item.endswith("r") else value
    s = s.merge(u.drop(columns="alliance"), on=["patient_id", "session"], how="left")
    s["wellbeing"] = np.clip(np.round(50 - 12 * s["symptoms"], 0), 0, 100)
    t["skilled"] = (t["self_alliance"] >= 6).astype(int)
    return {"sessions": s, "therapists": t, "patients": study.patients}


def study_config(d: Design) -> dict[str, Any]:
    """The config a lab would write for the design (not yet validated)."""
    pick = lambda keys, pool: {k: copy.deepcopy(pool[k]) for k in keys}  # noqa: E731
    measures: dict[str, Any] = {
        "outcomes": pick(d.outcomes, OUTCOMES),
        "processes": pick(d.processes, PROCESSES),
        "moderators": pick(d.moderators, MODERATORS),
    }
    if d.covariates:
        measures["covariates"] = copy.deepcopy(VARIANTS["adjusted"]["covariates"])
    config: dict[str, Any] = {
        "study": {
            "title": f"Process-outcome associations in generated study {d.name}",
            "short_name": f"generated-{d.name}",
            "authors": [{"family_names": "Tester", "given_names": "Property"}],
        },
        "measures": measures,
        "analysis": {"min_caseload_slopes": d.min_caseload_slopes},
        "robustness": [{"name": v, **copy.deepcopy(VARIANTS[v])} for v in d.robustness],
    }
    if d.covariates:
        # Trial arm is in every model already: the variant adjusts for sessions only.
        for variant in config["robustness"]:
            variant.pop("covariates", None)
    columns = {"patient": "patient_id", "therapist": "therapist_id", "session": "session"}
    if d.simulate:
        config["data"] = {"source": "simulate", "columns": columns}
        config["simulate"] = {
            "seed": d.seed,
            "n_therapists": d.n_therapists,
            "n_patients": d.n_patients,
            "max_sessions": d.max_sessions,
            "mess": d.mess,
        }
    else:
        files = {name: f"data/{name}.csv" for name in ("sessions", "therapists", "patients")}
        config["data"] = {"source": "files", "files": files, "columns": columns}
    if d.power:
        # A tiny grid: the manuscript's design-planning section, not a power analysis.
        config["power"] = {
            "n_therapists": [8, 12],
            "patients_per_therapist": [3],
            "max_sessions": [4],
            "replicates": 2,
            "batch_size": 2,
            "seed": d.seed,
        }
    return config


def write_study(d: Design, directory: str | Path) -> dict[str, Any]:
    """Write the design's data files (below ``directory/data``) and ``config.yaml``.

    Returns the config (not validated), whose data paths are relative to
    ``directory``: run the workflow from there (``run_snakemake(directory, config)``).
    """
    directory = Path(directory)
    config = study_config(d)
    if not d.simulate:
        (directory / "data").mkdir(parents=True, exist_ok=True)
        for name, table in study_tables(d).items():
            table.to_csv(directory / config["data"]["files"][name], index=False)
    (directory / "config.yaml").write_text(
        yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
    return config


# -------------------------------------------------------------------------- results


@dataclasses.dataclass(frozen=True)
class Study:
    """A generated study whose results and manuscript exist.

    Attributes
    ----------
    design : Design
    directory : Path
        The study's working directory: ``config.yaml``, ``data/`` and ``results/`` as
        after ``snakemake`` there.
    config : dict
        The validated config (defaults filled in), as the rules see it.
    seconds, cpu_seconds : float
        Wall and CPU time it took to make the results and the manuscript.
    """

    design: Design
    directory: Path
    config: dict[str, Any]
    seconds: float
    cpu_seconds: float

    @property
    def results(self) -> Path:
        return self.directory / "results"


def _registered(rule: str, simulated: bool) -> dict[str, str]:
    # The output paths a rule gets from registry_outputs() in common.smk.
    return {k: v for o in outputs(rule=rule, simulated=simulated) for k, v in o.files().items()}


def _make_results(config: Mapping[str, Any], with_power: bool) -> None:
    """Run every rule body of the default target and, if configured, of ``power``, in the
    current directory, with the paths of ``workflow/rules/*.smk``."""
    from process_outcome.steps import analysis, data, power, robustness

    simulated = config["data"]["source"] == "simulate"
    for folder in ("data/simulated", "private", "tables", "figures", "robustness", "power"):
        Path("results", folder).mkdir(parents=True, exist_ok=True)
    if simulated:
        inputs = {n: f"results/data/simulated/{n}.csv" for n in ("sessions", "therapists")}
        inputs["patients"] = "results/data/simulated/patients.csv"
        data.simulate(config, **inputs, truth="results/data/simulated/truth.csv")
    else:
        files = config["data"]["files"]
        inputs = {n: files.get(n) for n in ("sessions", "therapists", "patients")}
    data.clean_data(
        config,
        **inputs,
        out_sessions="results/data/sessions_clean.csv",
        out_therapists="results/data/therapists_clean.csv",
        out_patients="results/data/patients.csv",
        out_covariates="results/data/patient_covariates.csv",
        exclusions="results/data/exclusions.csv",
        flow="results/data/flow.json",
        codes="results/private/therapist_codes.csv",
        out_reliability=_registered("clean_data", simulated)["reliability"],
    )
    analysis.describe_sample(
        config,
        sessions="results/data/sessions_clean.csv",
        patients="results/data/patients.csv",
        therapists="results/data/therapists_clean.csv",
        out=_registered("descriptives", simulated),
    )
    outcomes = [m.key for m in measures_of(config, "outcome")]
    processes = [m.key for m in measures_of(config, "process")]
    models: dict[str, list[str]] = {"aim1": [], "aim2": [], "aim3": []}
    steps = {"aim1": analysis.aim1_model, "aim2": analysis.aim2_model, "aim3": analysis.aim3_model}
    for aim, step in steps.items():
        if aim == "aim3" and not config["measures"]["moderators"]:
            continue
        for outcome in outcomes:
            for process in [*processes, "joint"] if aim == "aim1" else processes:
                path = Path(f"results/models/{aim}/{outcome}/{process}.json")
                path.parent.mkdir(parents=True, exist_ok=True)
                step(
                    config,
                    patients="results/data/patients.csv",
                    codes="results/private/therapist_codes.csv",
                    outcome=outcome,
                    process=process,
                    out_json=str(path),
                )
                models[aim].append(str(path))
    analysis.results_tables(
        config,
        **models,
        truth="results/data/simulated/truth.csv" if simulated else None,
        out=_registered("results_tables", simulated),
    )
    table = {o.name: o.path() for o in outputs(folder="tables")}
    figure_tables = (
        "aim1_fixed_effects",
        "aim2_slope_tests",
        "aim2_therapist_slopes",
        "aim3_simple_slopes",
        "aim3_moderation",
    )
    analysis.make_figures(
        config,
        tables={n: table[n] for n in figure_tables},
        out=_registered("figures", simulated),
    )
    variants = []
    for variant in config["robustness"]:
        path = f"results/robustness/{variant['name']}.csv"
        robustness.robustness_variant(config, variant=variant["name"], **inputs, out=path)
        variants.append(path)
    robustness.robustness_table(
        config,
        aim1=table["aim1_fixed_effects"],
        aim2=table["aim2_slope_tests"],
        aim3=table["aim3_moderation"],
        flow="results/data/flow.json",
        variants=variants,
        out=table["robustness"],
    )
    if with_power:
        _make_power(config, power)
    render_manuscript(config, models, inputs)


def _make_power(config: Mapping[str, Any], power: Any) -> None:
    """The rules of ``snakemake power`` (workflow/rules/power.smk) on the config's grid.

    The cells are written as ``power_grid()`` of workflow/rules/power_common.smk writes
    them (a Snakefile cannot be imported)."""
    from process_outcome.steps.power import planned_measures

    settings = config["power"]
    planned = planned_measures(config)
    aim2 = f"results/models/aim2/{planned['outcome']}/{planned['process']}.json"
    aim3 = None
    if planned["moderator"]:
        aim3 = f"results/models/aim3/{planned['outcome']}/{planned['process']}.json"
    power.power_design(config, aim2=aim2, aim3=aim3, out_design="results/power/design.json")
    cells = [
        {
            "n_therapists": t,
            "patients_per_therapist": p,
            "max_sessions": s,
            "slope_sd": "gen" if sd is None else repr(float(sd)),
            "moderator_effect": "gen" if m is None else repr(float(m)),
        }
        for t in settings["n_therapists"]
        for p in settings["patients_per_therapist"]
        for s in settings["max_sessions"]
        for sd in settings["slope_sd"]
        for m in settings["moderator_effect"]
    ]
    batches = []
    n_batches = -(-settings["replicates"] // settings["batch_size"])
    for i, cell in enumerate(cells):
        for batch in range(n_batches):
            path = f"results/power/batches/cell{i}/batch{batch}.csv"
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            power.power_batch(
                config, design="results/power/design.json", cell=cell, batch=batch, out_csv=path
            )
            batches.append(path)
    power.power_aggregate(
        config,
        design="results/power/design.json",
        cells=cells,
        batches=batches,
        out={
            "power": "results/power/power.csv",
            "recovery": "results/power/recovery.csv",
            "type1": "results/power/type1.csv",
            "designs": "results/power/design_for_power.csv",
            "figure_pdf": "results/power/power_curves.pdf",
            "figure_png": "results/power/power_curves.png",
        },
    )


# ----------------------------------------------------------------------- the adapter


def render_manuscript(
    config: Mapping[str, Any], models: Mapping[str, list[str]], inputs: Mapping[str, str | None]
) -> None:
    """Render the manuscript in the current directory as ``scripts/manuscript.py`` does.

    The one place that knows the manuscript's entry point: when it changes, only this
    function (and :func:`manuscript_markdown` / :func:`manuscript_html`) changes.
    """
    from process_outcome.manuscript.build import write_manuscript
    from process_outcome.manuscript.power import power_results

    simulated = config["data"]["source"] == "simulate"
    write_manuscript(
        config=config,
        tables={o.name: o.path() for o in outputs(folder="tables", simulated=simulated)},
        models=[*models["aim1"], *models["aim2"], *models["aim3"]],
        flow="results/data/flow.json",
        figures_png=[o.path("png") for o in outputs(folder="figures")],
        data_files=[p for p in inputs.values() if p],
        template_dir=str(ROOT / "workflow" / "templates"),
        workflow_dir=str(ROOT),
        out=_registered("manuscript", simulated),
        power=list(power_results()),
    )


# Pandoc Markdown as plain as it goes: citations, Divs, Spans, raw parts and metadata
# written out as their text, tables as pipe tables.
READER_MARKDOWN = "markdown" + "".join(
    f"-{x}"
    for x in (
        "citations",
        "fenced_divs",
        "native_divs",
        "bracketed_spans",
        "native_spans",
        "raw_html",
        "raw_attribute",
        "simple_tables",
        "multiline_tables",
        "grid_tables",
        "yaml_metadata_block",
        "smart",
        "header_attributes",
    )
)


def manuscript_markdown(study: Study) -> str:
    """The manuscript as a reader sees it, written as plain Markdown: pandoc's document
    of ``manuscript.md`` made the way the HTML and Word files are made (the workflow's
    journal style: citations resolved by citeproc, tables and figures numbered by the
    label filter), without the numbers' source attributes."""
    import subprocess

    from process_outcome.document.pandoc import pandoc_path, to_ast
    from process_outcome.manuscript.build import journal_style

    report = study.results / "report"
    if report in _READER_VIEWS:
        return _READER_VIEWS[report]
    with contextlib.chdir(study.directory):
        style = journal_style(study.config, ROOT / "workflow" / "templates")
        ast = to_ast((report / "manuscript.md").read_text(encoding="utf-8"), report, style)
    doc = json.loads(ast)
    doc["blocks"] = _title_as_heading(doc["blocks"])
    args = [f"--to={READER_MARKDOWN}", "--wrap=none", "--markdown-headings=atx"]
    text = subprocess.run(
        [pandoc_path(), "--from=json", *args],
        input=json.dumps(doc).encode("utf-8"),
        capture_output=True,
        check=True,
    ).stdout.decode("utf-8")
    _READER_VIEWS[report] = text
    return text


def _title_as_heading(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # The title page's title (a styled Div) is the document's title: a heading, as the
    # prose checks read a title.
    out = []
    for b in blocks:
        if b["t"] == "Div":
            (ident, classes, attrs), content = b["c"]
            if "title-page" in classes and len(content) == 1 and content[0]["t"] == "Para":
                out.append({"t": "Header", "c": [1, [ident, [], []], content[0]["c"]]})
                continue
            b = {"t": "Div", "c": [[ident, classes, attrs], _title_as_heading(content)]}
        out.append(b)
    return out


# Each study's reader view, made once per session (several tests read it).
_READER_VIEWS: dict[Path, str] = {}


def manuscript_html(study: Study) -> str:
    """The rendered manuscript as HTML (its numbers carry their source cells)."""
    return (study.results / "report" / "manuscript.html").read_text(encoding="utf-8")


# ---------------------------------------------------------------------------- builds


def build_study(d: Design, directory: str | Path) -> Study:
    """Write the design's files into ``directory`` and make its results and manuscript.

    Changes the working directory to ``directory`` while it runs (the rule bodies use
    the workflow's relative paths), and back.
    """
    directory = Path(directory).resolve()
    directory.mkdir(parents=True, exist_ok=True)
    start, cpu = time.perf_counter(), time.process_time()
    config = validate_config(write_study(d, directory), SCHEMA)
    here = os.getcwd()
    os.chdir(directory)
    try:
        _make_results(config, d.power)
    finally:
        os.chdir(here)
    return Study(d, directory, config, time.perf_counter() - start, time.process_time() - cpu)


def _build_in_worker(d: Design, directory: Path) -> Study | BaseException:
    from threadpoolctl import threadpool_limits

    # One BLAS thread per worker: two workers on two cores.
    with threadpool_limits(1):
        try:
            return build_study(d, directory)
        except Exception as exc:
            exc.add_note(f"generated study {d.describe()}")
            return exc


def build_studies(
    designs: Iterable[Design], root: str | Path, workers: int | None = None
) -> dict[Design, Study | BaseException]:
    """Build every design under ``root/<name>``, ``workers`` at a time (default: the
    number of cores, at most 2); a study that fails is returned as its exception."""
    designs = list(designs)
    root = Path(root)
    workers = workers or min(2, os.cpu_count() or 1)
    if workers == 1:
        return {d: _build_in_worker(d, root / d.name) for d in designs}
    # fork: the workers start with the modules already imported.
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        futures = {d: pool.submit(_build_in_worker, d, root / d.name) for d in designs}
        return {d: f.result() for d, f in futures.items()}


@dataclasses.dataclass
class StudyCache:
    """The studies built in one test session, below ``root``, by design."""

    root: Path
    studies: dict[Design, Study | BaseException] = dataclasses.field(default_factory=dict)

    def get(self, design: Design) -> Study:
        """The design's study, built now if this session has not built it yet."""
        if design not in self.studies:
            self.studies[design] = _build_in_worker(design, self.root / design.name)
        built = self.studies[design]
        if isinstance(built, BaseException):
            raise built
        return built

    def build(self, designs: Iterable[Design]) -> dict[Design, Study | BaseException]:
        """Every design's study (a failed one as its exception), the missing ones built
        two at a time."""
        designs = list(designs)
        missing = [d for d in designs if d not in self.studies]
        start = time.perf_counter()
        built = build_studies(missing, self.root)
        self.studies.update(built)
        if missing:
            done = [s for s in built.values() if isinstance(s, Study)]
            BUILD_TIMES.append(
                f"{len(missing)} generated studies ({len(missing) - len(done)} failed) in "
                f"{time.perf_counter() - start:.0f} s wall, "
                f"{sum(s.cpu_seconds for s in done):.0f} CPU s in the workers"
            )
        return {d: self.studies[d] for d in designs}


#: One line per :meth:`StudyCache.build` of the session, for the terminal summary.
BUILD_TIMES: list[str] = []


@pytest.fixture(scope="session")
def study_cache(tmp_path_factory) -> StudyCache:
    """The session's generated studies: ``study_cache.get(design)`` for one study of a
    given kind (say, in an end-to-end or a unit test that needs results), built once."""
    return StudyCache(tmp_path_factory.mktemp("generated_studies"))


@pytest.fixture(scope="session")
def generated_studies(study_cache) -> dict[Design, Study | BaseException]:
    """Every study of :data:`DESIGNS` with its results and manuscript, built once per
    session, two at a time (import this fixture and ``study_cache`` into a conftest to
    use it); a study that failed is its exception."""
    return study_cache.build(DESIGNS)
