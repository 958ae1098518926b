"""Shim: one separation round (logic in sauti.stages.separate)."""
from pathlib import Path

from sauti.core.stage_log import stage_logging
from sauti.stages.separate import round_stage

with stage_logging(snakemake.log[0], "separate_train"):  # noqa: F821
    round_stage(list(snakemake.input.previous), snakemake.params.cfg,  # noqa: F821
                str(Path(snakemake.output.state).parent))  # noqa: F821
