"""Shim: select, label and split an experiment's samples (logic in sauti.stages)."""
from sauti.runner import stage_logging
from sauti.stages import split_stage

with stage_logging(snakemake.log[0], "split"):  # noqa: F821
    split_stage(list(snakemake.input.samples), snakemake.params.names, snakemake.params.cfg, snakemake.output.split)  # noqa: F821
