# sauti: cached speaker-characteristics experiments.
#   snakemake --configfile config/config.yaml -j8
# Every stage writes under <root>/cache/<stage>/<key>/, key = hash of its config slice and
# upstream keys, so a changed key re-runs only what depends on it (see README.md).
from snakemake.utils import min_version

min_version("9.0")


include: "workflow/rules/common.smk"


# one rule file per stage, in pipeline order (sauti.stages.STAGES)
for stage in STAGES:

    include: f"workflow/rules/{stage.SPEC.name}.smk"


localrules:
    all,
    report,


onstart:
    jobs.on_start()  # a stopped run also ends the jobs running as threads of this process


onsuccess:
    jobs.cancel_scheduler_timers()  # else Python waits up to 1 s for them at exit


onerror:
    jobs.cancel_scheduler_timers()


rule all:
    default_target: True
    input:
        REG.final_targets(),
