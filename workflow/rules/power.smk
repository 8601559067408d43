# Design planning: `snakemake power --cores all` (not part of the default target).
# One job per grid cell x batch of replicates; seeds come from the cell and the
# replicate index, so the results do not depend on --cores or the executor.
from snakemake.utils import Paramspace

from process_outcome.power_steps import planned_measures

POWER = config["power"]


def power_grid():
    """The grid as a Paramspace; null slope SD / moderator effect = generating value."""
    import pandas as pd

    rows = [
        {
            "n_therapists": t,
            "patients_per_therapist": p,
            "max_sessions": s,
            "slope_sd": "gen" if sd is None else f"{sd:g}",
            "moderator_effect": "gen" if m is None else f"{m:g}",
        }
        for t in POWER["n_therapists"]
        for p in POWER["patients_per_therapist"]
        for s in POWER["max_sessions"]
        for sd in POWER["slope_sd"]
        for m in POWER["moderator_effect"]
    ]
    return Paramspace(pd.DataFrame(rows), filename_params="*", single_wildcard="cell")


POWER_GRID = power_grid()
POWER_BATCHES = list(range(-(-POWER["replicates"] // POWER["batch_size"])))


def power_cell(wildcards):
    """The grid cell of a batch job, as plain Python values."""
    return {k: getattr(v, "item", lambda: v)() for k, v in POWER_GRID.instance(wildcards).items()}


def power_model_inputs(wildcards):
    """The user's fitted models that give the generating values (fitted if missing)."""
    if POWER["generating_values"] != "models":
        return {}
    try:
        planned = planned_measures(config)
    except InputError as exc:
        raise WorkflowError(str(exc)) from None
    inputs = {
        "aim2": f"results/models/aim2/{planned['outcome']}/{planned['process']}.json"
    }
    if planned["moderator"]:
        inputs["aim3"] = f"results/models/aim3/{planned['outcome']}/{planned['process']}.json"
    return inputs


rule power_design:
    input:
        unpack(power_model_inputs),
    output:
        "results/power/design.json",
    log:
        "results/logs/power/design.log",
    conda:
        "../envs/process_outcome.yaml"
    params:
        settings=POWER,
    script:
        "../../scripts/power_design.py"


rule power_batch:
    input:
        design="results/power/design.json",
    output:
        f"results/power/batches/{POWER_GRID.wildcard_pattern}/batch{{batch}}.csv",
    log:
        f"results/logs/power/{POWER_GRID.wildcard_pattern}/batch{{batch}}.log",
    wildcard_constraints:
        batch=r"\d+",
    conda:
        "../envs/process_outcome.yaml"
    params:
        cell=power_cell,
        # Cleaning and analysis settings the replicates use: a change re-runs them.
        settings={"cleaning": config["cleaning"], "analysis": config["analysis"]},
    resources:
        runtime=60,
        mem_mb=1000,
    script:
        "../../scripts/power_batch.py"


rule power:
    """Design planning: power, recovery, type-I error, power curves."""
    input:
        design="results/power/design.json",
        batches=expand(
            "results/power/batches/{cell}/batch{batch}.csv",
            cell=POWER_GRID.instance_patterns,
            batch=POWER_BATCHES,
        ),
    output:
        power="results/power/power.csv",
        recovery="results/power/recovery.csv",
        type1="results/power/type1.csv",
        designs="results/power/design_for_power.csv",
        figure_pdf="results/power/power_curves.pdf",
        figure_png="results/power/power_curves.png",
    log:
        "results/logs/power/power.log",
    conda:
        "../envs/process_outcome.yaml"
    params:
        cells=POWER_GRID.dataframe.to_dict("records"),
    script:
        "../../scripts/power_aggregate.py"
