"""Shim: publish an ensemble's results and report (logic in sauti.ensemble)."""
from sauti.stages.ensemble import ensemble_report_stage
from sauti.core.stage_log import stage_logging

with stage_logging(snakemake.log[0], "ensemble report"):  # noqa: F821
    ensemble_report_stage(dict(snakemake.input.items()), snakemake.params.cfg, dict(snakemake.output.items()))  # noqa: F821
