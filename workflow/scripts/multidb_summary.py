"""Shim: train x test database matrix and heat map (logic in sauti.summary)."""
from sauti.runner import stage_logging
from sauti.summary import multidb_summary_stage

with stage_logging(snakemake.log[0], "multidb summary"):  # noqa: F821
    multidb_summary_stage(list(snakemake.input.metrics), snakemake.params.cfg, dict(snakemake.output.items()))  # noqa: F821
