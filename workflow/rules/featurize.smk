rule features_shard:
    """One feature type for one shard of a database; shards run as parallel jobs."""
    input:
        samples=REG.features_samples,
    output:
        shard=temp(f"{ROOT}/cache/features/{{key}}/shard-{{shard}}-of-{{n}}.parquet"),
    log:
        f"{ROOT}/cache/features/{{key}}/shard-{{shard}}-of-{{n}}.log",
    conda:
        "../../envs/sauti.yaml"
    threads: 1
    resources:
        mem_mb=REG.mem_mb("features_shard"),
        runtime=REG.runtime("features_shard"),
        gpu=REG.features_gpu,
        device=REG.features_device,
        batch_size=REG.features_batch_size,
    params:
        cfg=REG.params("features"),
    script:
        "../scripts/features_shard.py"


rule features:
    """Merge the shards in sample order (identical to a one-shard run)."""
    input:
        shards=REG.feature_shards,
        samples=REG.features_samples,
    output:
        features=f"{ROOT}/cache/features/{{key}}/features.parquet",
    log:
        f"{ROOT}/cache/features/{{key}}/merge.log",
    conda:
        "../../envs/sauti.yaml"
    resources:
        mem_mb=REG.mem_mb("features"),
        runtime=REG.runtime("features"),
    script:
        "../scripts/features_merge.py"
