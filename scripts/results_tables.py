from process_outcome.steps.analysis import results_tables
from process_outcome.steps.run import run

run(
    results_tables,
    snakemake.log[0],
    config=snakemake.config,
    aim1=list(snakemake.input.aim1),
    aim2=list(snakemake.input.aim2),
    aim3=list(snakemake.input.aim3),
    truth=snakemake.input.get("truth"),
    out=dict(snakemake.output),
)
