rule figures:
    input:
        aim1="results/tables/aim1_fixed_effects.csv",
        aim2_tests="results/tables/aim2_slope_tests.csv",
        aim2_slopes="results/tables/aim2_therapist_slopes.csv",
        aim3_simple="results/tables/aim3_simple_slopes.csv",
        aim3="results/tables/aim3_moderation.csv",
    output:
        forest_pdf="results/figures/figure1_aim1_forest.pdf",
        forest_png=report(
            "results/figures/figure1_aim1_forest.png",
            caption="../report/figure1.rst",
            category="Aim 1",
        ),
        caterpillar_pdf="results/figures/figure2_aim2_caterpillar.pdf",
        caterpillar_png=report(
            "results/figures/figure2_aim2_caterpillar.png",
            caption="../report/figure2.rst",
            category="Aim 2",
        ),
        simple_pdf="results/figures/figure3_aim3_simple_slopes.pdf",
        simple_png=report(
            "results/figures/figure3_aim3_simple_slopes.png",
            caption="../report/figure3.rst",
            category="Aim 3",
        ),
    log:
        "results/logs/figures.log",
    conda:
        "../envs/process_outcome.yaml"
    params:
        labels=measure_labels(),
    script:
        "../../scripts/figures.py"
