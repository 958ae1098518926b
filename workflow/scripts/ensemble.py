"""Shim: combine an ensemble's members (logic in sauti.ensemble)."""
from pathlib import Path

from sauti.stages.ensemble import ensemble_stage
from sauti.core.stage_log import stage_logging

with stage_logging(snakemake.log[0], "ensemble"):  # noqa: F821
    ensemble_stage(list(snakemake.input.predictions), list(snakemake.input.info),  # noqa: F821
                   snakemake.params.cfg, str(Path(snakemake.output.metrics).parent))  # noqa: F821
