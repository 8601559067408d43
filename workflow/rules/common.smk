import sys
from pathlib import Path

from snakemake.utils import validate as validate_schema

from process_outcome.config import measures_of, validate_config
from process_outcome.errors import InputError
from process_outcome.outputs import output as registry_entry
from process_outcome.outputs import outputs
from process_outcome.runstate import (
    LAST_GOOD,
    discard_last_good,
    keep_last_good,
    missing_data_files,
    release_stale_locks,
    restore_last_good,
    restored_message,
)

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


def keep_outputs_to_rerun():
    """Set aside, before any job runs, every existing output that this run will recompute.

    Snakemake replaces a job's old outputs only when that job starts, so a run that fails
    part-way would leave some of the previous run's results beside new ones. The outputs
    to recompute are moved into results/.last_good/ instead; a failed run puts them back
    (and removes what it wrote), a successful one deletes them (process_outcome.runstate).
    """
    if workflow.touch:
        return  # --touch only marks the existing outputs as current
    outputs = [str(f) for job in workflow.dag.needrun_jobs() for f in job.output]
    state = keep_last_good(outputs)
    if state["resumed"]:
        print(
            "Resuming an interrupted run: the results it was recomputing are kept in "
            f"{LAST_GOOD}/ and come back if this run fails.",
            file=sys.stderr,
        )


OUTCOMES = [m.key for m in measures_of(config, "outcome")]
PROCESSES = [m.key for m in measures_of(config, "process")]
MODERATORS = [m.key for m in measures_of(config, "moderator")]
SIMULATED = config["data"]["source"] == "simulate"
# The checkout this file belongs to; workflow.basedir would name the user's own workflow
# when this one is deployed as a module.
WORKFLOW_ROOT = Path(workflow.current_basedir).parents[1]
TEMPLATE_DIR = str(WORKFLOW_ROOT / "workflow" / "templates")
TEMPLATES = sorted(str(p) for p in Path(TEMPLATE_DIR).glob("*.j2"))


VARIANTS = [v["name"] for v in config["robustness"]]


wildcard_constraints:
    outcome="|".join(OUTCOMES),
    process="|".join([*PROCESSES, "joint"]),
    variant="|".join(VARIANTS) or "(?!)",


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
    return measure_settings(wildcards) | {
        "inference": config["inference"],
        "between_estimate": config["analysis"]["between_estimate"],
    }


def aim2_settings(wildcards):
    return measure_settings(wildcards) | {
        "analysis": config["analysis"],
        "inference": config["inference"],
    }


def aim3_settings(wildcards):
    return aim2_settings(wildcards) | {"moderators": config["measures"]["moderators"]}


def robustness_settings(wildcards):
    """What a robustness variant's job depends on: the variant, the measures and the
    cleaning and analysis settings it starts from (not the other variants)."""
    return {
        "variant": next(
            v for v in config["robustness"] if v["name"] == wildcards.variant
        ),
        "data": config["data"],
        "measures": config["measures"],
        "cleaning": config["cleaning"],
        "analysis": config["analysis"],
    }


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


def shared(**filters):
    """Registry entries (process_outcome.outputs) of this study's run."""
    return outputs(simulated=SIMULATED, **filters)


def registry_outputs(rule):
    """A rule's registered outputs keyed as ``Output.files()`` names them, those shown
    in ``snakemake --report`` flagged with their captions."""
    files = {}
    for o in shared(rule=rule):
        for key, path in o.files().items():
            fmt = Path(path).suffix[1:]
            files[key] = path
            if fmt in o.reported:
                files[key] = report(
                    path, caption=f"../{o.caption(fmt)}", category=o.part
                )
    return files


def table(name):
    """Path of one registered results table."""
    return registry_entry(name).path()


def registry_paths(**filters):
    return [path for o in shared(**filters) for path in o.paths]


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


def manuscript_inputs(wildcards):
    """Every file the manuscript quotes, hashes or is rendered from.

    Templates are inputs so that editing only a template re-runs only this rule.
    """
    return {
        "flow": "results/data/flow.json",
        **{o.name: o.path() for o in shared(folder="tables")},
        "models": [
            *model_files("aim1", joint=True),
            *model_files("aim2"),
            *(model_files("aim3") if MODERATORS else []),
        ],
        "figures": [o.path("png") for o in shared(folder="figures")],
        "data": list(clean_inputs(wildcards).values()),
        "templates": TEMPLATES,
    }


def manuscript_sources(wildcards):
    """The manuscript's own sources: the package's templates, Lua filter, style sheet,
    CSL and .bib; the lab's template folder, .bib files, CSL, reference .docx and front
    matter. Inputs, so that editing only one of them re-runs only this rule."""
    settings = config.get("manuscript", {})
    files = [p for p in Path(TEMPLATE_DIR).rglob("*") if p.is_file()]
    if settings.get("templates"):
        files += [p for p in Path(settings["templates"]).rglob("*") if p.is_file()]
    for key in ("csl", "reference_docx", "front_matter"):
        if settings.get(key):
            files.append(Path(settings[key]))
    files += [Path(b) for b in settings.get("bibliography", [])]
    return sorted(str(p) for p in files)


def validate_inputs(wildcards):
    # The simulated study is simulated in memory by the validate step, for speed.
    return {} if SIMULATED else clean_inputs(wildcards)


def result_tables():
    # Every table a rule writes below results/tables/, so that a table written outside
    # the registry is packaged too.
    written = {
        str(f)
        for r in workflow.rules
        if not r.has_wildcards()
        for f in r.output
        if str(f).startswith("results/tables/")
    }
    return sorted(written | set(registry_paths(folder="tables")))


def supplement_inputs(wildcards):
    return {
        **clean_inputs(wildcards),
        "report": registry_paths(rule="manuscript"),
        "tables": result_tables(),
        "figures": registry_paths(folder="figures"),
        "descriptives": "results/tables/descriptives.csv",
        "analysis": "results/data/patients.csv",
        "aim1_joint": expand(
            "results/models/aim1/{outcome}/joint.json", outcome=OUTCOMES
        ),
        "aim2": model_files("aim2"),
    }


def final_outputs():
    return [
        *registry_paths(),
        "results/data/patients.csv",
        "results/data/exclusions.csv",
        "results/data/flow.json",
        "results/supplement.zip",
    ]
