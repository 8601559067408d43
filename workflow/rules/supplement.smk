# The journal supplementary-material package: everything but the patients' records.


rule supplement:
    input:
        unpack(supplement_inputs),
    output:
        zip="results/supplement.zip",
        folder=directory("results/supplement"),
    log:
        "results/logs/supplement.log",
    conda:
        "../envs/process_outcome.yaml"
    params:
        basedir=workflow.basedir,
        cff_schema=workflow.source_path("../schemas/citation-cff-1.2.0.json"),
    script:
        "../../scripts/supplement.py"
