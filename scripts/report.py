from process_outcome.steps import first_report, run

run(
    first_report,
    snakemake.log[0],
    config=snakemake.config,
    flow=snakemake.input.flow,
    descriptives=snakemake.input.descriptives,
    correlations=snakemake.input.correlations,
    rm_correlations=snakemake.input.rm_correlations,
    template_dir=snakemake.params.templates,
    out_html=snakemake.output.html,
)
