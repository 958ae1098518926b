rule train:
    """Scaler + balancing + classic model per run, fitted on train only; dev/test predictions.
    Runs in Snakemake's process (sauti.workflow.jobs); nets train in rule train_net."""
    input:
        unpack(REG.spec("train").inputs),
    output:
        model=f"{ROOT}/cache/train/{{key}}/model.joblib",
        predictions=f"{ROOT}/cache/train/{{key}}/predictions.parquet",
        info=f"{ROOT}/cache/train/{{key}}/info.json",
    log:
        f"{ROOT}/cache/train/{{key}}/train.log",
    wildcard_constraints:
        key=REG.train_keys(neural=False),
    threads: 1
    resources:
        mem_mb=REG.mem_mb("train"),
        runtime=REG.runtime("train"),
    params:
        cfg=REG.params("train"),
    run:
        jobs.train(input, output, params, log)  # in this process (sauti.workflow.jobs)


rule train_net:
    """The same for torch nets (mlp, cnn, mlp_reg), in a process of their own."""
    input:
        unpack(REG.spec("train").inputs),
    output:
        model=f"{ROOT}/cache/train/{{key}}/model.joblib",
        predictions=f"{ROOT}/cache/train/{{key}}/predictions.parquet",
        info=f"{ROOT}/cache/train/{{key}}/info.json",
    log:
        f"{ROOT}/cache/train/{{key}}/train.log",
    wildcard_constraints:
        key=REG.train_keys(neural=True),
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
