# DATA.tests: evaluate an experiment's saved model on other labelled databases.
# The test databases' samples and features come from the ordinary samples/features rules.

TESTS = REG.spec("test")


localrules:
    test_results,


rule test:
    """Saved model (features, scaler, labels of training) on one test database."""
    input:
        unpack(TESTS.test),
    output:
        metrics=f"{ROOT}/cache/test/{{key}}/metrics.json",
        predictions=f"{ROOT}/cache/test/{{key}}/predictions.parquet",
        images=f"{ROOT}/cache/test/{{key}}/images.json",
    log:
        f"{ROOT}/cache/test/{{key}}/test.log",
    conda:
        "../../envs/sauti-deep.yaml"
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        cfg=REG.params("test"),
    script:
        "../scripts/test.py"


rule test_results:
    """Publish one test database's results to <root>/<name>/tests/<db>/ (not cached)."""
    input:
        unpack(TESTS.results),
    output:
        metrics=f"{ROOT}/{{name}}/tests/{{db}}/metrics.json",
        predictions=f"{ROOT}/{{name}}/tests/{{db}}/predictions.csv",
        images=f"{ROOT}/{{name}}/tests/{{db}}/images.json",
    log:
        f"{ROOT}/{{name}}/tests/{{db}}/test_results.log",
    wildcard_constraints:
        db=r"[A-Za-z][A-Za-z0-9_-]*",
    conda:
        "../../envs/sauti.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../scripts/test_results.py"
