"""Shim: the explore stage (logic in sauti.stages / sauti.explore)."""
from pathlib import Path

from sauti.core.stage_log import stage_logging
from sauti.stages.explore import explore_stage

with stage_logging(snakemake.log[0], "explore"):  # noqa: F821
    explore_stage(snakemake.input.split, list(snakemake.input.features), snakemake.params.cfg,  # noqa: F821
                  Path(snakemake.output.manifest).parent)  # noqa: F821
