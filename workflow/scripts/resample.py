"""Shim: the resample stage (logic in sauti.resample)."""
from sauti.stages.resample import resample_stage
from sauti.core.stage_log import stage_logging

with stage_logging(snakemake.log[0], "resample"):  # noqa: F821
    resample_stage(snakemake.input.data, snakemake.params.cfg, snakemake.output.table)  # noqa: F821
