"""Shim: hyper-parameter search with speaker-grouped CV (logic in sauti.optim)."""
from pathlib import Path

from sauti.stages.optim import optim_stage
from sauti.core.stage_log import stage_logging

with stage_logging(snakemake.log[0], "optim"):  # noqa: F821
    optim_stage(snakemake.input.split, list(snakemake.input.features), snakemake.params.cfg,  # noqa: F821
                str(Path(snakemake.output.best).parent))  # noqa: F821
