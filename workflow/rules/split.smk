rule split:
    """Select, label and split the experiment's samples (seeded)."""
    input:
        samples=REG.spec("split").samples,
    output:
        split=f"{ROOT}/cache/split/{{key}}/split.parquet",
    log:
        f"{ROOT}/cache/split/{{key}}/split.log",
    resources:
        mem_mb=REG.mem_mb("split"),
        runtime=REG.runtime("split"),
    params:
        cfg=REG.params("split"),
        names=REG.spec("split").names,
    run:
        jobs.split(input, output, params, log)  # in this process (sauti.workflow.jobs)
