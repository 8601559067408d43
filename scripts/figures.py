from process_outcome.steps.analysis import make_figures
from process_outcome.steps.run import run

run(
    make_figures,
    snakemake.log[0],
    config=snakemake.config,
    tables=dict(snakemake.input),
    out=dict(snakemake.output),
)
