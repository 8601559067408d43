from process_outcome.steps import run, simulate

run(simulate, snakemake.log[0], config=snakemake.config, **dict(snakemake.output))
