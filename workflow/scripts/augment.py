"""Shim: write augmented audio and its samples table (logic in sauti.augment)."""
from sauti.stages.augment import augment_stage
from sauti.core.stage_log import stage_logging

with stage_logging(snakemake.log[0], "augment"):  # noqa: F821
    augment_stage(snakemake.input.split, snakemake.params.cfg, snakemake.output.samples)  # noqa: F821
