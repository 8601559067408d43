from process_outcome.steps import run, validate_data

run(
    validate_data,
    snakemake.log[0],
    config=snakemake.config,
    sessions=snakemake.input.get("sessions"),
    therapists=snakemake.input.get("therapists"),
    patients=snakemake.input.get("patients"),
)
