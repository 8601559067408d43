from process_outcome import steps

run_model = {"aim1": steps.aim1_model, "aim2": steps.aim2_model, "aim3": steps.aim3_model}
steps.run(
    run_model[snakemake.rule],
    snakemake.log[0],
    config=snakemake.config,
    patients=snakemake.input.patients,
    codes=snakemake.input.codes,
    outcome=snakemake.wildcards.outcome,
    process=snakemake.wildcards.process,
    out_json=snakemake.output[0],
)
