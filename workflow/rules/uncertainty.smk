rule uncertainty:
    """PLOT.uncertainty_threshold: per-sample uncertainty of the test predictions, the scores of
    the sure ones and per coverage (sauti.stages.uncertainty); a section of the report.
    """
    input:
        predictions=REG.spec("uncertainty").predictions,
    output:
        table=f"{ROOT}/cache/uncertainty/{{key}}/uncertainty.parquet",
        summary=f"{ROOT}/cache/uncertainty/{{key}}/uncertainty.json",
        plot=f"{ROOT}/cache/uncertainty/{{key}}/uncertainty.png",
    log:
        f"{ROOT}/cache/uncertainty/{{key}}/uncertainty.log",
    conda:
        "../../envs/sauti.yaml"
    resources:
        mem_mb=800,
        runtime=10,
    params:
        cfg=REG.params("uncertainty"),
    script:
        "../scripts/uncertainty.py"
