from process_outcome.manuscript.build import write_manuscript
from process_outcome.outputs import outputs
from process_outcome.provenance import shared_config
from process_outcome.steps.run import run

run(
    write_manuscript,
    snakemake.log[0],
    # The config as shared files give it (no machine path in data.files).
    config=shared_config(snakemake.config),
    tables={
        o.name: snakemake.input[o.name]
        for o in outputs(folder="tables")
        if o.name in snakemake.input.keys()
    },
    models=list(snakemake.input.models),
    flow=snakemake.input.flow,
    figures_png=list(snakemake.input.figures),
    data_files=list(snakemake.input.data),
    template_dir=snakemake.params.templates,
    workflow_dir=snakemake.params.workflow_dir,
    out=dict(snakemake.output),
    power=list(snakemake.params.power),
)
