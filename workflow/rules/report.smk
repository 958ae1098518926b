rule report:
    """Collect an experiment's results into <root>/<name>/ and write report.html."""
    input:
        unpack(REG.report_inputs),
    output:
        report=f"{ROOT}/{{name}}/report.html",
        metrics=f"{ROOT}/{{name}}/metrics.json",
        predictions=f"{ROOT}/{{name}}/predictions.csv",
        config=f"{ROOT}/{{name}}/config.yaml",
    log:
        f"{ROOT}/{{name}}/report.log",
    wildcard_constraints:
        name=REG.composite.pattern("experiment"),
    conda:
        "../../envs/sauti.yaml"
    resources:
        mem_mb=REG.mem_mb("report"),
        runtime=REG.runtime("report"),
    params:
        cfg=REG.report_params,
    script:
        "../scripts/report.py"
