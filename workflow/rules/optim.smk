# OPTIM: hyper-parameter search with speaker-grouped CV on the train split. Keyed by OPTIM,
# MODEL and the train settings plus the split and features it reads (shared with train).


localrules:
    optim_report,


rule optim:
    """Every setting's CV score; the best setting refitted on train and scored on dev/test."""
    input:
        unpack(REG.composite.optim_inputs),
    output:
        results=f"{ROOT}/cache/optim/{{key}}/results.csv",
        best=f"{ROOT}/cache/optim/{{key}}/best.json",
        plot=f"{ROOT}/cache/optim/{{key}}/optim.png",
    log:
        f"{ROOT}/cache/optim/{{key}}/optim.log",
    conda:
        "../../envs/sauti-deep.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=120,
    params:
        cfg=REG.params("optim"),
    script:
        "../scripts/optim.py"


rule optim_report:
    """Publish the search results to <root>/<name>/optim/."""
    input:
        unpack(REG.composite.optim_report_inputs),
    output:
        results=f"{ROOT}/{{name}}/optim/results.csv",
        markdown=f"{ROOT}/{{name}}/optim/results.md",
        best=f"{ROOT}/{{name}}/optim/best.json",
        plot=f"{ROOT}/{{name}}/optim/optim.png",
    log:
        f"{ROOT}/{{name}}/optim/optim_report.log",
    wildcard_constraints:
        name=REG.composite.pattern("optim"),
    conda:
        "../../envs/sauti.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../scripts/optim_report.py"
