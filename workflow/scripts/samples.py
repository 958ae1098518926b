"""Shim: check one database's audio into its samples table (logic in sauti.stages)."""
from sauti.core.stage_log import stage_logging
from sauti.stages.samples import samples_stage

with stage_logging(snakemake.log[0], "samples"):  # noqa: F821
    samples_stage(snakemake.params.cfg, snakemake.params.content, snakemake.output.samples)  # noqa: F821
