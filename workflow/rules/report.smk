from process_outcome.manuscript.power import power_results


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
        # Every config key can change the text, so any config edit re-renders.
        settings=config,
        workflow_dir=str(WORKFLOW_ROOT),
        # Design-planning results when `snakemake power` has run (not inputs: the
        # default target never runs the grid); their hashes re-render on change.
        power=power_results(),
    script:
        "../../scripts/report.py"
