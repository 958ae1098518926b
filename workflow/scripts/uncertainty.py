"""Shim: the uncertainty stage (logic in sauti.stages.uncertainty)."""
from pathlib import Path

from sauti.core.stage_log import stage_logging
from sauti.stages.uncertainty import uncertainty_stage

with stage_logging(snakemake.log[0], "uncertainty"):  # noqa: F821
    uncertainty_stage(snakemake.input.predictions, snakemake.params.cfg,  # noqa: F821
                      str(Path(snakemake.output.table).parent))  # noqa: F821
