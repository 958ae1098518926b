rule train:
    """Scaler + balancing + model per run, fitted on train only; dev/test predictions."""
    input:
        unpack(REG.train_inputs),
    output:
        model=f"{ROOT}/cache/train/{{key}}/model.joblib",
        predictions=f"{ROOT}/cache/train/{{key}}/predictions.parquet",
        info=f"{ROOT}/cache/train/{{key}}/info.json",
    log:
        f"{ROOT}/cache/train/{{key}}/train.log",
    conda:
        "../../envs/sauti-deep.yaml"
    threads: 1
    resources:
        mem_mb=REG.mem_mb("train"),
        runtime=REG.runtime("train"),
        gpu=REG.gpu("train"),
    params:
        cfg=REG.params("train"),
    script:
        "../scripts/train.py"
