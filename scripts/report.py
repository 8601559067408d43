from process_outcome.manuscript.build import write_manuscript
from process_outcome.steps.run import run

TABLES = (
    "descriptives correlations rm_correlations reliability aim1 aim2_tests aim2_fixed "
    "aim2_slopes aim2_correlations aim3 aim3_simple truth icc aim1_between r2 standardized"
).split()

run(
    write_manuscript,
    snakemake.log[0],
    config=snakemake.config,
    tables={k: snakemake.input[k] for k in TABLES if k in snakemake.input.keys()},
    models=list(snakemake.input.models),
    flow=snakemake.input.flow,
    figures_png=list(snakemake.input.figures),
    data_files=list(snakemake.input.data),
    template_dir=snakemake.params.templates,
    workflow_dir=snakemake.params.workflow_dir,
    out=dict(snakemake.output),
    power=list(snakemake.params.power),
)
