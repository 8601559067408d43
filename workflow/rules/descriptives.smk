rule descriptives:
    input:
        sessions="results/data/sessions_clean.csv",
        patients="results/data/patients.csv",
        therapists="results/data/therapists_clean.csv",
    output:
        **registry_outputs("descriptives"),
    log:
        "results/logs/descriptives.log",
    conda:
        "../envs/process_outcome.yaml"
    params:
        measures=config["measures"],
    script:
        "../../scripts/descriptives.py"
