"""Shim: one separation round (logic in sauti.separation)."""
from pathlib import Path

from sauti.runner import stage_logging
from sauti.separation import round_stage

with stage_logging(snakemake.log[0], "separate_train"):  # noqa: F821
    round_stage(list(snakemake.input.previous), snakemake.params.cfg,  # noqa: F821
                str(Path(snakemake.output.state).parent))  # noqa: F821
