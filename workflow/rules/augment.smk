rule augment:
    """Augmented copies (16 kHz wavs + samples table) of AUGMENT.sample_selection (train by default)."""
    input:
        split=REG.spec("augment").split,
    output:
        samples=f"{ROOT}/cache/augment/{{key}}/samples.parquet",
        audio=directory(f"{ROOT}/cache/augment/{{key}}/audio"),
    log:
        f"{ROOT}/cache/augment/{{key}}/augment.log",
    conda:
        "../../envs/sauti.yaml"
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        cfg=REG.params("augment"),
    script:
        "../scripts/augment.py"
