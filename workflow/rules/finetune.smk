rule finetune:
    """MODEL.type finetune: a pretrained speech transformer trained end to end on the audio.
    Writes what rule train writes (model.joblib, predictions.parquet, info.json), plus the
    best checkpoint, curves and TensorBoard logs; reads no feature tables."""
    input:
        split=REG.spec("finetune").split,
    output:
        model=f"{ROOT}/cache/finetune/{{key}}/model.joblib",
        predictions=f"{ROOT}/cache/finetune/{{key}}/predictions.parquet",
        info=f"{ROOT}/cache/finetune/{{key}}/info.json",
        checkpoint=directory(f"{ROOT}/cache/finetune/{{key}}/checkpoint"),
    log:
        f"{ROOT}/cache/finetune/{{key}}/finetune.log",
    conda:
        "../../envs/sauti-deep.yaml"
    threads: 4
    resources:
        gpu=REG.gpu("finetune"),
        mem_mb=REG.mem_mb("finetune"),
        runtime=REG.runtime("finetune"),
    params:
        cfg=REG.params("finetune"),
    script:
        "../scripts/finetune.py"
