# sauti: cached speaker-characteristics experiments.
#   snakemake --configfile config/config.yaml -j8
# Every stage writes under <root>/cache/<stage>/<key>/, key = hash of its config slice and
# upstream keys, so a changed key re-runs only what depends on it (see README.md).
from snakemake.utils import min_version

min_version("9.0")


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/segment.smk"
include: "workflow/rules/predict.smk"
include: "workflow/rules/augment.smk"
include: "workflow/rules/featurize.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/finetune.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/explore.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/ensemble.smk"
include: "workflow/rules/compare.smk"
include: "workflow/rules/optim.smk"
include: "workflow/rules/resample.smk"
include: "workflow/rules/test.smk"
include: "workflow/rules/selftrain.smk"
include: "workflow/rules/separate.smk"
include: "workflow/rules/ssl.smk"


localrules:
    all,
    report,


rule all:
    default_target: True
    input:
        REG.final_targets(),
