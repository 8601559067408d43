from process_outcome.steps.power import power_batch
from process_outcome.steps.run import run

run(
    power_batch,
    snakemake.log[0],
    config=snakemake.config,
    design=snakemake.input.design,
    cell=snakemake.params.cell,
    batch=int(snakemake.wildcards.batch),
    out_csv=snakemake.output[0],
)
