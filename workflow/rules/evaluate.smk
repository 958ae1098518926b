rule evaluate:
    """metrics.json (test, dev, runs, cv, per speaker) and result plots."""
    input:
        unpack(REG.evaluate_inputs),
    output:
        metrics=f"{ROOT}/cache/evaluate/{{key}}/metrics.json",
        images=f"{ROOT}/cache/evaluate/{{key}}/images.json",
    log:
        f"{ROOT}/cache/evaluate/{{key}}/evaluate.log",
    resources:
        mem_mb=REG.mem_mb("evaluate"),
        runtime=REG.runtime("evaluate"),
    params:
        cfg=REG.params("evaluate"),
    run:
        # in Snakemake's process (a thread): no interpreter start-up (sauti.runner)
        from sauti.stages import evaluate_stage

        with stage_logging(log[0], "evaluate", in_thread=True):
            evaluate_stage(
                input.predictions,
                input.info,
                params.cfg,
                Path(output.metrics).parent,
            )
