from process_outcome.steps.data import simulate
from process_outcome.steps.run import run

run(simulate, snakemake.log[0], config=snakemake.config, **dict(snakemake.output))
