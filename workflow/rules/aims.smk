rule aim1:
    input:
        patients="results/data/patients.csv",
        codes="results/private/therapist_codes.csv",
    output:
        "results/models/aim1/{outcome}/{process}.json",
    log:
        "results/logs/aim1/{outcome}/{process}.log",
    conda:
        "../envs/process_outcome.yaml"
    params:
        # The settings this model depends on: a change re-runs only the models it affects.
        settings=aim1_settings,
    script:
        "../../scripts/aim_model.py"


rule aim2:
    input:
        patients="results/data/patients.csv",
        codes="results/private/therapist_codes.csv",
    output:
        "results/models/aim2/{outcome}/{process}.json",
    log:
        "results/logs/aim2/{outcome}/{process}.log",
    conda:
        "../envs/process_outcome.yaml"
    params:
        # The settings this model depends on: a change re-runs only the models it affects.
        settings=aim2_settings,
    script:
        "../../scripts/aim_model.py"


rule aim3:
    input:
        patients="results/data/patients.csv",
        codes="results/private/therapist_codes.csv",
    output:
        "results/models/aim3/{outcome}/{process}.json",
    log:
        "results/logs/aim3/{outcome}/{process}.log",
    conda:
        "../envs/process_outcome.yaml"
    params:
        # The settings this model depends on: a change re-runs only the models it affects.
        settings=aim3_settings,
    script:
        "../../scripts/aim_model.py"


rule results_tables:
    input:
        unpack(table_inputs),
    output:
        **registry_outputs("results_tables"),
    log:
        "results/logs/results_tables.log",
    conda:
        "../envs/process_outcome.yaml"
    params:
        processes=PROCESSES,
    script:
        "../../scripts/results_tables.py"
