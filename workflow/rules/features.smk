rule features_shard:
    """One feature type for one shard of a database (EXP.shards > 1); shards run as parallel jobs."""
    input:
        unpack(REG.extract_inputs),
    output:
        shard=temp(f"{ROOT}/cache/features/{{key}}/shard-{{shard}}-of-{{n}}.parquet"),
    log:
        f"{ROOT}/cache/features/{{key}}/shard-{{shard}}-of-{{n}}.log",
    conda:
        "../../envs/sauti-deep.yaml"
    threads: REG.features_threads
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
    """A database's feature table: its shards merged in sample order (identical to one shard),
    or, for a one-shard database, the extraction itself (no shard job, no copy)."""
    input:
        unpack(REG.features_inputs),
    output:
        features=f"{ROOT}/cache/features/{{key}}/features.parquet",
    log:
        f"{ROOT}/cache/features/{{key}}/features.log",
    conda:
        "../../envs/sauti-deep.yaml"
    threads: REG.features_threads
    resources:
        mem_mb=REG.mem_mb("features"),
        runtime=REG.runtime("features"),
        gpu=REG.features_gpu,
        device=REG.features_device,
        batch_size=REG.features_batch_size,
    params:
        cfg=REG.params("features"),
    script:
        "../scripts/features.py"
