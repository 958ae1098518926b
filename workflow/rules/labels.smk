rule labels:
    """A database's samples with the table's other columns (labels), keyed by the samples and
    the table's digest: a label edit re-runs this and the split, never the features."""
    input:
        samples=REG.spec("labels").samples,
    output:
        labels=f"{ROOT}/cache/labels/{{key}}/labels.parquet",
    log:
        f"{ROOT}/cache/labels/{{key}}/labels.log",
    resources:
        mem_mb=REG.mem_mb("labels"),
        runtime=REG.runtime("labels"),
    params:
        cfg=REG.params("labels"),
        content=REG.content("labels"),
    run:
        jobs.labels(input, output, params, log)  # in this process (sauti.workflow.jobs)
