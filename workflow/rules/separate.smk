# SEPARATE: a voice/background separator trained by noisy self-training (sauti.stages.separate).
# Every round is a keyed stage whose key holds round r-1's, so raising SEPARATE.rounds trains
# only the new rounds; `separate` writes the voice tracks of SEPARATE.databases in shards, and
# later stages read its table instead of the split table.

SEPARATION = REG.spec("separate")


localrules:
    separate,
    separate_results,


rule separate_train:
    """One round: round 0 trains the teacher; round r filters the previous round's separations
    of the unlabelled mixtures by voice activity and trains a larger, noisy student."""
    input:
        previous=SEPARATION.previous,
    output:
        state=f"{ROOT}/cache/separate_train/{{key}}/round.json",
        model=f"{ROOT}/cache/separate_train/{{key}}/model.pt",
        pseudo=f"{ROOT}/cache/separate_train/{{key}}/pseudo.parquet",
    log:
        f"{ROOT}/cache/separate_train/{{key}}/separate_train.log",
    conda:
        "../../envs/sauti-deep.yaml"
    threads: 1
    resources:
        gpu=SEPARATION.gpu("separate_train"),
        mem_mb=4000,
        runtime=120,
    params:
        cfg=REG.params("separate_train"),
    script:
        "../scripts/separate_train.py"


rule separate_shard:
    """The voice tracks of every n-th recording of SEPARATE.databases (16 kHz wav files)."""
    input:
        unpack(SEPARATION.shard_inputs),
    output:
        shard=f"{ROOT}/cache/separate/{{key}}/shard-{{shard}}-of-{{n}}.parquet",
    log:
        f"{ROOT}/cache/separate/{{key}}/shard-{{shard}}-of-{{n}}.log",
    conda:
        "../../envs/sauti-deep.yaml"
    threads: 1
    resources:
        gpu=SEPARATION.gpu("separate"),
        mem_mb=3000,
        runtime=120,
    params:
        cfg=REG.params("separate"),
    script:
        "../scripts/separate_shard.py"


rule separate:
    """The separated table: the split table with the voice tracks in place of the recordings."""
    input:
        unpack(SEPARATION.shard_inputs),
        shards=SEPARATION.shards,
    output:
        table=f"{ROOT}/cache/separate/{{key}}/separated.parquet",
        manifest=f"{ROOT}/cache/separate/{{key}}/separate.json",
    log:
        f"{ROOT}/cache/separate/{{key}}/separate.log",
    conda:
        "../../envs/sauti.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        cfg=REG.params("separate"),
    script:
        "../scripts/separate.py"


rule separate_results:
    """Publish the rounds (SDR table, plot, summary) to <root>/<name>/separate/ (not cached)."""
    input:
        rounds=SEPARATION.results,
    output:
        summary=f"{ROOT}/{{name}}/separate/separation.json",
        table=f"{ROOT}/{{name}}/separate/rounds.csv",
        markdown=f"{ROOT}/{{name}}/separate/rounds.md",
        plot=f"{ROOT}/{{name}}/separate/sdr.png",
    log:
        f"{ROOT}/{{name}}/separate/separate_results.log",
    conda:
        "../../envs/sauti.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../scripts/separate_results.py"
