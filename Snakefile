# Process-outcome workflow: Coyne & Constantino (2022) analysis design.
# Run `snakemake --cores all`; the config is config/config.yaml (see config/README.md).


from snakemake.utils import min_version

min_version("8.20")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/descriptives.smk"
include: "workflow/rules/aims.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/supplement.smk"
include: "workflow/rules/power.smk"


localrules:
    validate,


rule all:
    default_target: True
    input:
        final_outputs(),
