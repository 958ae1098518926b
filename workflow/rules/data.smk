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
        mem_mb=REG.mem_mb("samples"),
        runtime=REG.runtime("samples"),
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
        mem_mb=REG.mem_mb("split"),
        runtime=REG.runtime("split"),
    params:
        cfg=REG.params("split"),
        names=REG.split_names,
    script:
        "../scripts/split.py"
