from process_outcome.steps.robustness import robustness_table
from process_outcome.steps.run import run

run(
    robustness_table,
    snakemake.log[0],
    config=snakemake.config,
    aim1=snakemake.input.aim1_fixed_effects,
    aim2=snakemake.input.aim2_slope_tests,
    aim3=snakemake.input.aim3_moderation,
    flow=snakemake.input.flow,
    variants=list(snakemake.input.variants),
    out=snakemake.output.robustness,
)
