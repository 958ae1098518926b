"""Shim: the segment stage (logic in sauti.segment)."""
from pathlib import Path

from sauti.core.stage_log import stage_logging
from sauti.stages.segment import segment_stage

with stage_logging(snakemake.log[0], "segment"):  # noqa: F821
    segment_stage(snakemake.input.split, snakemake.params.cfg,  # noqa: F821
                  Path(snakemake.output.segments).parent, snakemake.params.token)  # noqa: F821
