rule evaluate:
    """metrics.json (test, dev, runs, cv, per speaker) and result plots."""
    input:
        unpack(REG.evaluate_inputs),
    output:
        metrics=f"{ROOT}/cache/evaluate/{{key}}/metrics.json",
        images=f"{ROOT}/cache/evaluate/{{key}}/images.json",
    params:
        cfg=REG.params("evaluate"),
    log:
        f"{ROOT}/cache/evaluate/{{key}}/evaluate.log",
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../scripts/evaluate.py"
