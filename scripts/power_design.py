from process_outcome.steps.power import power_design
from process_outcome.steps.run import run

run(
    power_design,
    snakemake.log[0],
    config=snakemake.config,
    aim2=snakemake.input.get("aim2"),
    aim3=snakemake.input.get("aim3"),
    out_design=snakemake.output[0],
)
