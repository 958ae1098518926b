# SELFTRAIN: noisy teacher-student self-training on DATA.unlabelled databases. The pools'
# samples and features come from the ordinary samples/features rules; every round is a keyed
# stage whose key holds round r-1's, so raising SELFTRAIN.rounds runs only the new rounds.

SELFTRAIN = REG.spec("selftrain")


localrules:
    selftrain_results,


rule vad:
    """Silero speech ratio of every sample of an unlabelled database (the VAD filter's input)."""
    input:
        samples=SELFTRAIN.vad,
    output:
        speech=f"{ROOT}/cache/vad/{{key}}/speech.parquet",
    log:
        f"{ROOT}/cache/vad/{{key}}/vad.log",
    conda:
        "../../envs/sauti.yaml"
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        cfg=REG.params("vad"),
    script:
        "../scripts/vad.py"


rule selftrain:
    """One round: round 0 fits the teacher; round r pseudo-labels, filters, fits the noisy student."""
    input:
        unpack(SELFTRAIN.round),
    output:
        state=f"{ROOT}/cache/selftrain/{{key}}/round.json",
        model=f"{ROOT}/cache/selftrain/{{key}}/model.joblib",
        predictions=f"{ROOT}/cache/selftrain/{{key}}/predictions.parquet",
        pseudo=f"{ROOT}/cache/selftrain/{{key}}/pseudo.parquet",
    log:
        f"{ROOT}/cache/selftrain/{{key}}/selftrain.log",
    conda:
        "../../envs/sauti-deep.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=120,
    params:
        cfg=REG.params("selftrain"),
    script:
        "../scripts/selftrain.py"


rule selftrain_results:
    """Publish the rounds (table, plot, summary) to <root>/<name>/selftrain/ (not cached)."""
    input:
        rounds=SELFTRAIN.results,
    output:
        summary=f"{ROOT}/{{name}}/selftrain/selftrain.json",
        table=f"{ROOT}/{{name}}/selftrain/rounds.csv",
        markdown=f"{ROOT}/{{name}}/selftrain/rounds.md",
        plot=f"{ROOT}/{{name}}/selftrain/rounds.png",
    log:
        f"{ROOT}/{{name}}/selftrain/selftrain_results.log",
    conda:
        "../../envs/sauti.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../scripts/selftrain_results.py"
