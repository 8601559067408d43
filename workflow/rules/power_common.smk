# Helpers of the design-planning rules (workflow/rules/power.smk).
from snakemake.utils import Paramspace

from process_outcome.steps.power import planned_measures

POWER = config["power"]


def power_grid():
    """The grid as a Paramspace; null slope SD / moderator effect = generating value."""
    import pandas as pd

    rows = [
        {
            "n_therapists": t,
            "patients_per_therapist": p,
            "max_sessions": s,
            "slope_sd": "gen" if sd is None else repr(float(sd)),
            "moderator_effect": "gen" if m is None else repr(float(m)),
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
    return {
        k: getattr(v, "item", lambda: v)()
        for k, v in POWER_GRID.instance(wildcards).items()
    }


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
        inputs["aim3"] = (
            f"results/models/aim3/{planned['outcome']}/{planned['process']}.json"
        )
    return inputs
