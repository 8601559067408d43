from process_outcome.steps.data import validate_data
from process_outcome.steps.run import run

run(
    validate_data,
    snakemake.log[0],
    config=snakemake.config,
    sessions=snakemake.input.get("sessions"),
    therapists=snakemake.input.get("therapists"),
    patients=snakemake.input.get("patients"),
)
