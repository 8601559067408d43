from process_outcome.steps.analysis import make_figures
from process_outcome.steps.run import run

run(
    make_figures,
    snakemake.log[0],
    config=snakemake.config,
    aim1=snakemake.input.aim1,
    aim2_tests=snakemake.input.aim2_tests,
    aim2_slopes=snakemake.input.aim2_slopes,
    aim3_simple=snakemake.input.aim3_simple,
    aim3=snakemake.input.aim3,
    out=dict(snakemake.output),
)
