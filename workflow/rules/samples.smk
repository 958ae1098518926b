rule samples:
    """One database -> its samples table (audio checked). Keyed by what the audio is: the
    file/start/end columns and every audio file's content digest (no data file is an input:
    Snakemake would judge it by its time). Runs in Snakemake's process (sauti.workflow.jobs):
    reading headers and digests is I/O, not worth a new Python per database."""
    output:
        samples=f"{ROOT}/cache/samples/{{key}}/samples.parquet",
    log:
        f"{ROOT}/cache/samples/{{key}}/samples.log",
    resources:
        mem_mb=REG.mem_mb("samples"),
        runtime=REG.runtime("samples"),
    params:
        cfg=REG.params("samples"),
        content=REG.content("samples"),
    run:
        jobs.samples(input, output, params, log)  # in Snakemake's process
