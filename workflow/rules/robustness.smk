# Robustness analyses: each configured variant is its own job, so a change to one
# variant reruns only that variant.


rule robustness_variant:
    input:
        unpack(clean_inputs),
    output:
        "results/robustness/{variant}.csv",
    log:
        "results/logs/robustness/{variant}.log",
    conda:
        "../envs/process_outcome.yaml"
    params:
        settings=robustness_settings,
    script:
        "../../scripts/robustness_variant.py"


rule robustness_table:
    input:
        **{
            name: table(name)
            for name in ("aim1_fixed_effects", "aim2_slope_tests", "aim3_moderation")
        },
        flow="results/data/flow.json",
        variants=expand("results/robustness/{variant}.csv", variant=VARIANTS),
    output:
        **registry_outputs("robustness_table"),
    log:
        "results/logs/robustness_table.log",
    conda:
        "../envs/process_outcome.yaml"
    params:
        variants=VARIANTS,
    script:
        "../../scripts/robustness_table.py"
