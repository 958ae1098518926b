"""Shim: metrics and plots (logic in sauti.stages)."""
from pathlib import Path

from sauti.runner import stage_logging
from sauti.stages import evaluate_stage

with stage_logging(snakemake.log[0], "evaluate"):  # noqa: F821
    evaluate_stage(snakemake.input.predictions, snakemake.input.info, snakemake.params.cfg,  # noqa: F821
                   Path(snakemake.output.metrics).parent)  # noqa: F821
