from process_outcome.manuscript.power import power_results


rule manuscript:
    input:
        unpack(manuscript_inputs),
        sources=manuscript_sources,
    output:
        **registry_outputs("manuscript"),
    log:
        "results/logs/manuscript.log",
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
        "../../scripts/manuscript.py"
