# ENSEMBLE: combine members' predictions. The inputs are the members' keyed train outputs, so
# members already computed are never recomputed; the combination itself is a keyed stage.


localrules:
    ensemble_report,


rule ensemble:
    """Members' test (and dev) predictions joined by sample id and combined by one method."""
    input:
        unpack(REG.composite.ensemble_inputs),
    output:
        metrics=f"{ROOT}/cache/ensemble/{{key}}/metrics.json",
        predictions=f"{ROOT}/cache/ensemble/{{key}}/predictions.parquet",
        comparison=f"{ROOT}/cache/ensemble/{{key}}/comparison.csv",
        images=f"{ROOT}/cache/ensemble/{{key}}/images.json",
    log:
        f"{ROOT}/cache/ensemble/{{key}}/ensemble.log",
    conda:
        "../../envs/sauti.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        cfg=REG.params("ensemble"),
    script:
        "../scripts/ensemble.py"


rule ensemble_report:
    """Publish an ensemble to <root>/<name>/ with its comparison table and report.html."""
    input:
        unpack(REG.composite.ensemble_report_inputs),
    output:
        report=f"{ROOT}/{{name}}/report.html",
        metrics=f"{ROOT}/{{name}}/metrics.json",
        predictions=f"{ROOT}/{{name}}/predictions.csv",
        comparison=f"{ROOT}/{{name}}/comparison.csv",
        markdown=f"{ROOT}/{{name}}/comparison.md",
    log:
        f"{ROOT}/{{name}}/ensemble_report.log",
    wildcard_constraints:
        name=REG.composite.pattern("ensemble"),
    conda:
        "../../envs/sauti.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        cfg=REG.composite.ensemble_report_params,
    script:
        "../scripts/ensemble_report.py"
