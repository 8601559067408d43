from process_outcome.power_steps import power_batch
from process_outcome.steps import run

run(
    power_batch,
    snakemake.log[0],
    config=snakemake.config,
    design=snakemake.input.design,
    cell=snakemake.params.cell,
    batch=int(snakemake.wildcards.batch),
    out_csv=snakemake.output[0],
)
