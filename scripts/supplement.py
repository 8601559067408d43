from process_outcome.steps.run import run
from process_outcome.supplement.build import build

inp = snakemake.input
run(
    build,
    snakemake.log[0],
    config=snakemake.config,
    inputs={t: inp[t] for t in ("sessions", "therapists", "patients") if t in inp.keys()},
    report=list(inp.report),
    tables=list(inp.tables),
    figures=list(inp.figures),
    descriptives=inp.descriptives,
    analysis=inp.analysis,
    aim1_joint=list(inp.aim1_joint),
    aim2=list(inp.aim2),
    basedir=snakemake.params.basedir,
    cff_schema=snakemake.params.cff_schema,
    out_dir=snakemake.output.folder,
    out_zip=snakemake.output.zip,
    codes=inp.codes,
)
