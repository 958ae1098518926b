rule samples:
    """One database -> its samples table (audio checked). Keyed by what the audio is: the
    file/start/end columns and every audio file's content digest (no data file is an input:
    Snakemake would judge it by its time)."""
    output:
        samples=f"{ROOT}/cache/samples/{{key}}/samples.parquet",
    log:
        f"{ROOT}/cache/samples/{{key}}/samples.log",
    conda:
        "../../envs/sauti.yaml"
    resources:
        mem_mb=REG.mem_mb("samples"),
        runtime=REG.runtime("samples"),
    params:
        cfg=REG.params("samples"),
        content=REG.content("samples"),
    script:
        "../scripts/samples.py"


rule labels:
    """A database's samples with the table's other columns (labels), keyed by the samples and
    the table's digest: a label edit re-runs this and the split, never the features."""
    input:
        samples=REG.labels_samples,
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


rule split:
    """Select, label and split the experiment's samples (seeded)."""
    input:
        samples=REG.split_samples,
    output:
        split=f"{ROOT}/cache/split/{{key}}/split.parquet",
    log:
        f"{ROOT}/cache/split/{{key}}/split.log",
    resources:
        mem_mb=REG.mem_mb("split"),
        runtime=REG.runtime("split"),
    params:
        cfg=REG.params("split"),
        names=REG.split_names,
    run:
        jobs.split(input, output, params, log)  # in this process (sauti.workflow.jobs)
