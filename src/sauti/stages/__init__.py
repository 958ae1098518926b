"""The stages, one module each, in pipeline order.

A stage's module declares its facts (`SPEC`, a sauti.stages.base.StageSpec: its keyed stages
with their versions, output files and source modules, and its rules' helper) and holds its
planning and its run functions. The rest of sauti loops over this list: the Snakefile includes
workflow/rules/<name>.smk for each, the registry answers `REG.spec(name)`, and the cache-version
guard (sauti.workflow.stage_sources) checks every keyed stage's sources.

Adding a stage: its module here and in STAGES below, workflow/rules/<name>.smk, its shim(s) in
workflow/scripts/, and docs/<name>.md.
"""

from sauti.stages import (
    augment,
    ensemble,
    evaluate,
    explore,
    features,
    finetune,
    labels,
    optim,
    predict,
    report,
    resample,
    samples,
    segment,
    selftrain,
    separate,
    split,
    ssl,
    summary,
    test,
    train,
    uncertainty,
)

#: Pipeline order: data, its tables, features, models, their evaluation, the studies, report.
STAGES = (
    samples, labels, split, resample, separate, segment, predict, features, augment, train,
    finetune, evaluate, explore, uncertainty, test, optim, ensemble, selftrain, ssl, summary, report,
)  # fmt: skip
#: name -> StageSpec
SPECS = {module.SPEC.name: module.SPEC for module in STAGES}
#: keyed stage name (a cache folder under <root>/cache/) -> sauti.core.keys.Keyed
KEYED = {kind.name: kind for spec in SPECS.values() for kind in spec.keyed}
