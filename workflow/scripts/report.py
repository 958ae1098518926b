"""Shim: collect an experiment's results and write its report (logic in sauti.stages)."""
from sauti.runner import stage_logging
from sauti.stages import report_stage

with stage_logging(snakemake.log[0], "report"):  # noqa: F821
    report_stage(dict(snakemake.input.items()), snakemake.params.cfg, dict(snakemake.output.items()))  # noqa: F821
