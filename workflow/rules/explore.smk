rule explore:
    """Dataset statistics, bias check, value counts and feature plots (EXPL section). Runs in
    Snakemake's process (sauti.workflow.jobs): a study's explore jobs share one import of
    matplotlib, seaborn and scipy instead of paying it per job."""
    input:
        unpack(REG.spec("explore").inputs),
    output:
        manifest=f"{ROOT}/cache/explore/{{key}}/explore.json",
    log:
        f"{ROOT}/cache/explore/{{key}}/explore.log",
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        cfg=REG.params("explore"),
    run:
        jobs.explore(input, output, params, log)  # in Snakemake's process
