from process_outcome.steps.analysis import aim1_model, aim2_model, aim3_model
from process_outcome.steps.run import run

run_model = {"aim1": aim1_model, "aim2": aim2_model, "aim3": aim3_model}
run(
    run_model[snakemake.rule],
    snakemake.log[0],
    config=snakemake.config,
    patients=snakemake.input.patients,
    codes=snakemake.input.codes,
    outcome=snakemake.wildcards.outcome,
    process=snakemake.wildcards.process,
    out_json=snakemake.output[0],
)
