def report_inputs(wildcards):
    """Every file the manuscript quotes, hashes or is rendered from.

    Templates are inputs so that editing only a template re-runs only this rule.
    """
    inputs = {
        "flow": "results/data/flow.json",
        "descriptives": "results/tables/descriptives.csv",
        "correlations": "results/tables/correlations.csv",
        "rm_correlations": "results/tables/rm_correlations.csv",
        "reliability": "results/tables/reliability.csv",
        **TABLE_OUTPUTS,
        "models": [
            *model_files("aim1", joint=True),
            *model_files("aim2"),
            *(model_files("aim3") if MODERATORS else []),
        ],
        "figures": [f for f in FIGURES if f.endswith(".png")],
        "data": list(clean_inputs(wildcards).values()),
        "templates": TEMPLATES,
    }
    return inputs


rule report:
    input:
        unpack(report_inputs),
    output:
        **REPORT_TABLES,
        html=report(
            "results/report/manuscript.html",
            caption="../report/manuscript.rst",
            category="Manuscript",
        ),
        docx=report(
            "results/report/manuscript.docx",
            caption="../report/manuscript_docx.rst",
            category="Manuscript",
        ),
        md="results/report/manuscript.md",
    log:
        "results/logs/report.log",
    conda:
        "../envs/process_outcome.yaml"
    params:
        templates=TEMPLATE_DIR,
        workflow_dir=workflow.basedir,
    script:
        "../../scripts/report.py"
