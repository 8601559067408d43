from process_outcome.steps.analysis import describe_sample
from process_outcome.steps.run import run

run(
    describe_sample,
    snakemake.log[0],
    config=snakemake.config,
    sessions=snakemake.input.sessions,
    patients=snakemake.input.patients,
    therapists=snakemake.input.therapists,
    out_descriptives=snakemake.output.descriptives,
    out_correlations=snakemake.output.correlations,
    out_rm_correlations=snakemake.output.rm_correlations,
    out_icc=snakemake.output.icc,
)
