rule descriptives:
    input:
        sessions="results/data/sessions_clean.csv",
        patients="results/data/patients.csv",
        therapists="results/data/therapists_clean.csv",
    output:
        descriptives="results/tables/descriptives.csv",
        correlations="results/tables/correlations.csv",
        rm_correlations="results/tables/rm_correlations.csv",
        icc="results/tables/icc_therapist_means.csv",
    log:
        "results/logs/descriptives.log",
    conda:
        "../envs/process_outcome.yaml"
    params:
        measures=config["measures"],
    script:
        "../../scripts/descriptives.py"
