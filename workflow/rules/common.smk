import sys
from pathlib import Path

from snakemake.utils import validate as validate_schema

from process_outcome.config import measures_of, validate_config
from process_outcome.errors import InputError
from process_outcome.runstate import missing_data_files, release_stale_locks

SCHEMA = workflow.source_path("../schemas/config.schema.yaml")


def stop(message):
    """End the run with a user's mistake: the message, exit status 1, no traceback."""
    sys.exit(f"ERROR: {message}")


# Friendly messages first (misspelled keys with suggestions), then Snakemake's own
# validation, which fills in the schema's defaults.
try:
    validate_config(config, SCHEMA)
except InputError as exc:
    stop(exc)
validate_schema(config, schema=SCHEMA)

# A missing data file is reported here: Snakemake would otherwise keep the previous
# study's results, whose inputs it cannot check, as if they were current.
if missing := missing_data_files(config):
    stop("\n".join(missing))

# Locks left by a run that was killed (power cut, kill -9, a cluster limit) would stop
# the README's command; they are released when no other Snakemake works here.
if workflow.is_main_process:
    for _lock in release_stale_locks():
        print(f"Removed a lock left by an interrupted run: {_lock}", file=sys.stderr)


def remove_outputs_to_rerun():
    """Delete, before any job runs, every existing output that this run will recompute.

    Snakemake removes a job's old outputs only when that job starts, so a run that fails
    early (say, at the cleaning of a changed data file) would leave the previous run's
    tables, report and supplement beside the new error as if they were current. Removing
    them up front means a failed run leaves no stale result: each file under results/
    is either from the current inputs or absent.
    """
    for job in workflow.dag.needrun_jobs():
        for path in job.output:
            if Path(path).is_file():
                Path(path).unlink()


OUTCOMES = [m.key for m in measures_of(config, "outcome")]
PROCESSES = [m.key for m in measures_of(config, "process")]
MODERATORS = [m.key for m in measures_of(config, "moderator")]
SIMULATED = config["data"]["source"] == "simulate"
# The checkout this file belongs to; workflow.basedir would name the user's own workflow
# when this one is deployed as a module.
WORKFLOW_ROOT = Path(workflow.current_basedir).parents[1]
TEMPLATE_DIR = str(WORKFLOW_ROOT / "workflow" / "templates")
TEMPLATES = sorted(str(p) for p in Path(TEMPLATE_DIR).glob("*.j2"))


wildcard_constraints:
    outcome="|".join(OUTCOMES),
    process="|".join([*PROCESSES, "joint"]),


# Measure fields that change the cleaned data (labels and directions do not).
CLEANING_FIELDS = (
    "column",
    "range",
    "items",
    "reverse_items",
    "item_range",
    "scoring",
    "min_answered",
    "type",
    "reference",
    "missing_codes",
)


def cleaning_settings():
    return {
        kind: {
            key: {f: spec[f] for f in CLEANING_FIELDS if f in spec}
            for key, spec in measures.items()
        }
        for kind, measures in config["measures"].items()
    }


def measure_labels():
    return {
        key: spec.get("label", key)
        for measures in config["measures"].values()
        for key, spec in measures.items()
    }


def measure_settings(wildcards):
    measures = config["measures"]
    processes = PROCESSES if wildcards.process == "joint" else [wildcards.process]
    return {
        "outcome": measures["outcomes"][wildcards.outcome],
        "processes": {p: measures["processes"][p] for p in processes},
        "covariates": measures.get("covariates", {}),
    }


def aim1_settings(wildcards):
    return measure_settings(wildcards)


def aim2_settings(wildcards):
    return measure_settings(wildcards) | {"analysis": config["analysis"]}


def aim3_settings(wildcards):
    return aim2_settings(wildcards) | {"moderators": config["measures"]["moderators"]}


def input_table(name):
    """Path of one input table: the simulated study or the user's file."""
    if SIMULATED:
        return f"results/data/simulated/{name}.csv"
    return config["data"]["files"][name]


def clean_inputs(wildcards):
    inputs = {
        "sessions": input_table("sessions"),
        "therapists": input_table("therapists"),
    }
    if SIMULATED or config["data"]["files"].get("patients"):
        inputs["patients"] = input_table("patients")
    return inputs


TABLE_OUTPUTS = {
    "aim1": "results/tables/aim1_fixed_effects.csv",
    "aim2_tests": "results/tables/aim2_slope_tests.csv",
    "aim2_fixed": "results/tables/aim2_fixed_effects.csv",
    "aim2_slopes": "results/tables/aim2_therapist_slopes.csv",
    "aim2_correlations": "results/tables/aim2_slope_correlations.csv",
    "aim3": "results/tables/aim3_moderation.csv",
    "aim3_simple": "results/tables/aim3_simple_slopes.csv",
    "aim1_between": "results/tables/aim1_between_corrected.csv",
    "r2": "results/tables/effect_sizes_r2.csv",
    "standardized": "results/tables/standardized_effects.csv",
}
if SIMULATED:
    TABLE_OUTPUTS["truth"] = "results/tables/truth_recovery.csv"


def model_files(aim, joint=False):
    processes = [*PROCESSES, "joint"] if joint else PROCESSES
    return expand(
        "results/models/{aim}/{outcome}/{process}.json",
        aim=aim,
        outcome=OUTCOMES,
        process=processes,
    )


def table_inputs(wildcards):
    inputs = {
        "aim1": model_files("aim1", joint=True),
        "aim2": model_files("aim2"),
        "aim3": model_files("aim3") if MODERATORS else [],
    }
    if SIMULATED:
        inputs["truth"] = "results/data/simulated/truth.csv"
    return inputs


# The report's files; the supplement packages them.
REPORT_TABLES = {
    "table1_descriptives": "results/report/tables/table1_descriptives.tex",
    "table2_correlations": "results/report/tables/table2_correlations.tex",
    "table3_aims12": "results/report/tables/table3_aims12.tex",
    "table4_moderation": "results/report/tables/table4_moderation.tex",
}
REPORT_OUTPUTS = [
    "results/report/manuscript.html",
    "results/report/manuscript.docx",
    "results/report/manuscript.md",
    *REPORT_TABLES.values(),
]

# Results tables in `snakemake --report`: one category per aim, a caption per table.
TABLE_CATEGORIES = {
    "aim1": "Aim 1",
    "aim2_tests": "Aim 2",
    "aim2_fixed": "Aim 2",
    "aim2_slopes": "Aim 2",
    "aim2_correlations": "Aim 2",
    "aim3": "Aim 3",
    "aim3_simple": "Aim 3",
    "aim1_between": "Aim 1",
    "r2": "Effect sizes",
    "standardized": "Effect sizes",
    "truth": "Simulation check",
}


def reported_tables():
    """TABLE_OUTPUTS flagged for Snakemake's report."""
    return {
        key: report(
            path,
            caption=f"../report/{Path(path).stem}.rst",
            category=TABLE_CATEGORIES[key],
        )
        for key, path in TABLE_OUTPUTS.items()
    }


def report_inputs(wildcards):
    """Every file the manuscript quotes, hashes or is rendered from.

    Templates are inputs so that editing only a template re-runs only this rule.
    """
    inputs = {
        "flow": "results/data/flow.json",
        "descriptives": "results/tables/descriptives.csv",
        "correlations": "results/tables/correlations.csv",
        "rm_correlations": "results/tables/rm_correlations.csv",
        "reliability": "results/tables/reliability.csv",
        "icc": "results/tables/icc_therapist_means.csv",
        **TABLE_OUTPUTS,
        "models": [
            *model_files("aim1", joint=True),
            *model_files("aim2"),
            *(model_files("aim3") if MODERATORS else []),
        ],
        "figures": [f for f in FIGURES if f.endswith(".png")],
        "data": list(clean_inputs(wildcards).values()),
        "templates": TEMPLATES,
    }
    return inputs


FIGURES = [
    f"results/figures/{name}.{ext}"
    for name in (
        "figure1_aim1_forest",
        "figure2_aim2_caterpillar",
        "figure3_aim3_simple_slopes",
    )
    for ext in ("pdf", "png")
]


def validate_inputs(wildcards):
    # The simulated study is simulated in memory by the validate step, for speed.
    return {} if SIMULATED else clean_inputs(wildcards)


def result_tables():
    # Every table a rule writes below results/tables/, so that new tables are packaged
    # without listing them here.
    written = {
        str(f)
        for r in workflow.rules
        if not r.has_wildcards()
        for f in r.output
        if str(f).startswith("results/tables/")
    }
    return sorted(written | set(TABLE_OUTPUTS.values()))


def supplement_inputs(wildcards):
    return {
        **clean_inputs(wildcards),
        "report": REPORT_OUTPUTS,
        "tables": result_tables(),
        "figures": FIGURES,
        "descriptives": "results/tables/descriptives.csv",
        "analysis": "results/data/patients.csv",
        "aim1_joint": expand(
            "results/models/aim1/{outcome}/joint.json", outcome=OUTCOMES
        ),
        "aim2": model_files("aim2"),
    }


def final_outputs():
    return [
        *TABLE_OUTPUTS.values(),
        *FIGURES,
        "results/data/patients.csv",
        "results/data/exclusions.csv",
        "results/data/flow.json",
        "results/tables/descriptives.csv",
        "results/tables/correlations.csv",
        "results/tables/rm_correlations.csv",
        "results/tables/icc_therapist_means.csv",
        *REPORT_OUTPUTS,
        "results/supplement.zip",
    ]
