"""Shim: publish the separation rounds of one experiment (logic in sauti.stages.separate)."""
from pathlib import Path

from sauti.core.stage_log import stage_logging
from sauti.stages.separate import publish_rounds

with stage_logging(snakemake.log[0], "separate_results"):  # noqa: F821
    publish_rounds(list(snakemake.input.rounds), str(Path(snakemake.output.summary).parent))  # noqa: F821
