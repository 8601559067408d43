rule report:
    input:
        flow="results/data/flow.json",
        descriptives="results/tables/descriptives.csv",
        correlations="results/tables/correlations.csv",
        rm_correlations="results/tables/rm_correlations.csv",
        templates=TEMPLATES,
    output:
        html=report(
            "results/report/index.html",
            category="Report",
            caption="../report/report.rst",
        ),
    log:
        "results/logs/report.log",
    conda:
        "../envs/process_outcome.yaml"
    params:
        templates=lambda wildcards, input: str(Path(input.templates[0]).parent),
    script:
        "../../scripts/report.py"
