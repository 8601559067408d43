from process_outcome.steps.power import power_aggregate
from process_outcome.steps.run import run

run(
    power_aggregate,
    snakemake.log[0],
    config=snakemake.config,
    design=snakemake.input.design,
    cells=snakemake.params.cells,
    batches=list(snakemake.input.batches),
    out=dict(snakemake.output),
)
