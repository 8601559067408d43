rule figures:
    input:
        **{
            name: table(name)
            for name in (
                "aim1_fixed_effects",
                "aim2_slope_tests",
                "aim2_therapist_slopes",
                "aim3_simple_slopes",
                "aim3_moderation",
            )
        },
    output:
        **registry_outputs("figures"),
    log:
        "results/logs/figures.log",
    conda:
        "../envs/process_outcome.yaml"
    params:
        labels=measure_labels(),
    script:
        "../../scripts/figures.py"
