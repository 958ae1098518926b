# PREDICT: est_<target> columns for the data table (sauti.predict). Keyed by the PREDICT slice
# and the data table's key (split or segments); explore reads its output, training does not.

PREDICT_INPUTS = REG.spec("predict")


rule predict:
    """Estimated speaker / snr / mos / model-target columns for PREDICT.sample_selection."""
    input:
        unpack(PREDICT_INPUTS),
    output:
        table=f"{ROOT}/cache/predict/{{key}}/predicted.parquet",
        manifest=f"{ROOT}/cache/predict/{{key}}/predict.json",
    log:
        f"{ROOT}/cache/predict/{{key}}/predict.log",
    conda:
        "../../envs/sauti-deep.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=120,
    params:
        cfg=REG.params("predict"),
    script:
        "../scripts/predict.py"
