rule samples:
    """One database -> its samples table (audio checked). Keyed by where the audio is."""
    input:
        REG.samples_input,
    output:
        samples=f"{ROOT}/cache/samples/{{key}}/samples.parquet",
    params:
        cfg=REG.params("samples"),
    log:
        f"{ROOT}/cache/samples/{{key}}/samples.log",
    resources:
        mem_mb=1000,
        runtime=30,
    script:
        "../scripts/samples.py"


rule split:
    """Select, label and split the experiment's samples (seeded)."""
    input:
        samples=REG.split_samples,
    output:
        split=f"{ROOT}/cache/split/{{key}}/split.parquet",
    params:
        cfg=REG.params("split"),
        names=REG.split_names,
    log:
        f"{ROOT}/cache/split/{{key}}/split.log",
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../scripts/split.py"
