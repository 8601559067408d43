# The journal supplementary-material package: everything but the patients' records.


rule supplement:
    input:
        unpack(supplement_inputs),
        # Private (never packaged): only the codes are used, as examples in the README.
        codes="results/private/therapist_codes.csv",
    output:
        zip="results/supplement.zip",
        folder=directory("results/supplement"),
    log:
        "results/logs/supplement.log",
    conda:
        "../envs/process_outcome.yaml"
    params:
        basedir=str(WORKFLOW_ROOT),
        # The config is packaged, so any config edit repackages.
        settings=config,
        # A plain path: source_path() points into a per-run cache, which would
        # change the params and rerun this rule every time.
        cff_schema=str(
            WORKFLOW_ROOT / "workflow" / "schemas" / "citation-cff-1.2.0.json"
        ),
    script:
        "../../scripts/supplement.py"
