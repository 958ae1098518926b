"""Shim: summary table and plot of a grid or list of experiments (logic in sauti.summary)."""
from sauti.runner import stage_logging
from sauti.summary import grid_summary_stage

with stage_logging(snakemake.log[0], "grid summary"):  # noqa: F821
    grid_summary_stage(list(snakemake.input.metrics), snakemake.params.cfg, dict(snakemake.output.items()))  # noqa: F821
