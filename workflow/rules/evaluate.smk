rule evaluate:
    """metrics.json (test, dev, runs, cv, per speaker) and result plots."""
    input:
        unpack(REG.spec("evaluate").inputs),
    output:
        metrics=f"{ROOT}/cache/evaluate/{{key}}/metrics.json",
        images=f"{ROOT}/cache/evaluate/{{key}}/images.json",
    log:
        f"{ROOT}/cache/evaluate/{{key}}/evaluate.log",
    resources:
        mem_mb=REG.mem_mb("evaluate"),
        runtime=REG.runtime("evaluate"),
    params:
        cfg=REG.params("evaluate"),
    run:
        jobs.evaluate(
            input, output, params, log
        )  # in this process (sauti.workflow.jobs)
