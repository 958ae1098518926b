"""Shim: publish the self-training rounds of one experiment (logic in sauti.stages.selftrain)."""
from pathlib import Path

from sauti.core.stage_log import stage_logging
from sauti.stages.selftrain import publish_rounds

with stage_logging(snakemake.log[0], "selftrain_results"):  # noqa: F821
    publish_rounds(list(snakemake.input.rounds), str(Path(snakemake.output.summary).parent))  # noqa: F821
