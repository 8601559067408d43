# Design planning: `snakemake power --cores all` (not part of the default target).
# One job per grid cell x batch of replicates; seeds come from the cell and the
# replicate index, so the results do not depend on --cores or the executor.


include: "power_common.smk"


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
    resources:
        runtime=60,
        mem_mb=1000,
    params:
        cell=power_cell,
        # Cleaning and analysis settings the replicates use: a change re-runs them.
        settings={
            "cleaning": config["cleaning"],
            "analysis": config["analysis"],
            "inference": config["inference"],
        },
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
