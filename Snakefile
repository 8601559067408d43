# Process-outcome workflow: Coyne & Constantino (2022) analysis design.
# Run `snakemake --cores all`; the config is config/config.yaml (see config/README.md).


from snakemake.utils import min_version

min_version("8.20")


# A config given with --configfile defines the analysis alone. Snakemake would otherwise
# deep-merge it into config/config.yaml, and the default study's measures, ranges and
# moderators would enter another lab's analysis; defaults come only from the schema.
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


report: "workflow/captions/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/descriptives.smk"
include: "workflow/rules/aims.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/robustness.smk"
include: "workflow/rules/manuscript.smk"
include: "workflow/rules/supplement.smk"
include: "workflow/rules/power.smk"


# The last complete results survive a failed run (process_outcome.runstate): the
# outputs to recompute are set aside when the run starts, deleted when it succeeds and
# put back when it fails.
onstart:
    keep_outputs_to_rerun()


onsuccess:
    discard_last_good()


onerror:
    print(restored_message(restore_last_good()), file=sys.stderr)


localrules:
    validate,


rule all:
    default_target: True
    input:
        final_outputs(),
