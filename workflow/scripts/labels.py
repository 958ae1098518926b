"""Shim: join a database's labels to its samples table (logic in sauti.stages)."""
from sauti.runner import stage_logging
from sauti.stages import labels_stage

with stage_logging(snakemake.log[0], "labels"):  # noqa: F821
    labels_stage(snakemake.input.samples, snakemake.params.cfg, snakemake.params.content, snakemake.output.labels)  # noqa: F821
