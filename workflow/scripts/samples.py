"""Shim: load one database into its samples table (logic in sauti.stages)."""
from sauti.runner import stage_logging
from sauti.stages import samples_stage

with stage_logging(snakemake.log[0], "samples"):  # noqa: F821
    samples_stage(snakemake.params.cfg, snakemake.output.samples)  # noqa: F821
