rule report:
    """Collect an experiment's results into <root>/<name>/ and write report.html."""
    input:
        unpack(REG.spec("report").inputs),
    output:
        # report(): what `snakemake --report report.zip` shows, one category per experiment
        report=report(
            f"{ROOT}/{{name}}/report.html",
            caption="../report/report.rst",
            category="{name}",
        ),
        metrics=report(
            f"{ROOT}/{{name}}/metrics.json",
            caption="../report/metrics.rst",
            category="{name}",
        ),
        predictions=report(
            f"{ROOT}/{{name}}/predictions.csv",
            caption="../report/predictions.rst",
            category="{name}",
        ),
        config=f"{ROOT}/{{name}}/config.yaml",
        images=report(
            directory(f"{ROOT}/{{name}}/images"),
            patterns=["{plot}.png", "{plot}.svg"],
            caption="../report/images.rst",
            category="{name}",
        ),
    log:
        f"{ROOT}/{{name}}/report.log",
    wildcard_constraints:
        name=REG.composite.pattern("experiment"),
    resources:
        mem_mb=REG.mem_mb("report"),
        runtime=REG.runtime("report"),
    params:
        cfg=REG.spec("report").params,
    run:
        jobs.report(input, output, params, log)  # in this process (sauti.workflow.jobs)
