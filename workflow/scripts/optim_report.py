"""Shim: publish a hyper-parameter search to <root>/<name>/optim/ (logic in sauti.optim)."""
from sauti.stages.optim import optim_report_stage
from sauti.core.stage_log import stage_logging

with stage_logging(snakemake.log[0], "optim report"):  # noqa: F821
    optim_report_stage(dict(snakemake.input.items()), snakemake.wildcards.name, dict(snakemake.output.items()))  # noqa: F821
