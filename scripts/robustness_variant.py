from process_outcome.steps.robustness import robustness_variant
from process_outcome.steps.run import run

run(
    robustness_variant,
    snakemake.log[0],
    config=snakemake.config,
    variant=snakemake.wildcards.variant,
    sessions=snakemake.input.sessions,
    therapists=snakemake.input.therapists,
    patients=snakemake.input.get("patients"),
    out=snakemake.output[0],
)
