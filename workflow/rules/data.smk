rule samples:
    """One database -> its samples table (audio checked). Keyed by where the audio is."""
    input:
        REG.samples_input,
    output:
        samples=f"{ROOT}/cache/samples/{{key}}/samples.parquet",
    log:
        f"{ROOT}/cache/samples/{{key}}/samples.log",
    conda:
        "../../envs/sauti.yaml"
    resources:
        mem_mb=1000,
        runtime=30,
    params:
        cfg=REG.params("samples"),
    script:
        "../scripts/samples.py"


rule split:
    """Select, label and split the experiment's samples (seeded)."""
    input:
        samples=REG.split_samples,
    output:
        split=f"{ROOT}/cache/split/{{key}}/split.parquet",
    log:
        f"{ROOT}/cache/split/{{key}}/split.log",
    conda:
        "../../envs/sauti.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        cfg=REG.params("split"),
        names=REG.split_names,
    script:
        "../scripts/split.py"
