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
    or, for a one-shard database, the extraction itself (no shard job, no copy). Merges and the
    kinds that release the GIL (os, mfcc) run in Snakemake's process (sauti.workflow.jobs); the
    others in rule features_process."""
    input:
        unpack(REG.features_inputs),
    output:
        features=f"{ROOT}/cache/features/{{key}}/features.parquet",
    log:
        f"{ROOT}/cache/features/{{key}}/features.log",
    wildcard_constraints:
        key=REG.features_keys(in_process=True),
    threads: REG.features_threads
    resources:
        mem_mb=REG.mem_mb("features"),
        runtime=REG.runtime("features"),
        gpu=REG.features_gpu,
        device=REG.features_device,
        batch_size=REG.features_batch_size,
    params:
        cfg=REG.params("features"),
    run:
        jobs.features(input, output, params, log, threads, resources)  # in this process


rule features_process:
    """The same for praat (parselmouth is not thread-safe) and the network kinds (torch, a GPU,
    the deep conda env), in a process of their own."""
    input:
        unpack(REG.features_inputs),
    output:
        features=f"{ROOT}/cache/features/{{key}}/features.parquet",
    log:
        f"{ROOT}/cache/features/{{key}}/features.log",
    wildcard_constraints:
        key=REG.features_keys(in_process=False),
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
