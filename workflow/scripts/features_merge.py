"""Shim: merge feature shards in sample order (logic in sauti.stages)."""
from sauti.runner import stage_logging
from sauti.stages import features_merge_stage

with stage_logging(snakemake.log[0], "features merge"):  # noqa: F821
    features_merge_stage(list(snakemake.input.shards), snakemake.input.samples, snakemake.output.features)  # noqa: F821
