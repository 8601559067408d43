from process_outcome.steps.data import clean_data
from process_outcome.steps.run import run

out = snakemake.output
run(
    clean_data,
    snakemake.log[0],
    config=snakemake.config,
    sessions=snakemake.input.sessions,
    therapists=snakemake.input.therapists,
    patients=snakemake.input.get("patients"),
    out_sessions=out.sessions,
    out_therapists=out.therapists,
    out_patients=out.patients,
    out_covariates=out.covariates,
    exclusions=out.exclusions,
    flow=out.flow,
    codes=out.codes,
    out_reliability=out.reliability,
)
