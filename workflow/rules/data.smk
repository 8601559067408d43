rule simulate_study:
    output:
        sessions="results/data/simulated/sessions.csv",
        therapists="results/data/simulated/therapists.csv",
        patients="results/data/simulated/patients.csv",
        truth="results/data/simulated/truth.csv",
    log:
        "results/logs/simulate_study.log",
    conda:
        "../envs/process_outcome.yaml"
    params:
        simulate=config["simulate"],
    script:
        "../../scripts/simulate_study.py"


rule clean_data:
    input:
        unpack(clean_inputs),
    output:
        **registry_outputs("clean_data"),
        sessions="results/data/sessions_clean.csv",
        therapists="results/data/therapists_clean.csv",
        patients="results/data/patients.csv",
        covariates="results/data/patient_covariates.csv",
        exclusions="results/data/exclusions.csv",
        flow="results/data/flow.json",
        codes="results/private/therapist_codes.csv",
    log:
        "results/logs/clean_data.log",
    conda:
        "../envs/process_outcome.yaml"
    params:
        # Config sections the cleaning depends on, so that editing them re-runs it.
        settings={
            "data": config["data"],
            "measures": cleaning_settings(),
            "cleaning": config["cleaning"],
            "analysis": config["analysis"],
        },
    script:
        "../../scripts/clean_data.py"


rule validate:
    """Check the data and config only and print a summary; writes no results."""
    input:
        unpack(validate_inputs),
    log:
        "results/logs/validate.log",
    conda:
        "../envs/process_outcome.yaml"
    script:
        "../../scripts/validate.py"
