"""Shim: publish the separation rounds of one experiment (logic in sauti.separation)."""
from pathlib import Path

from sauti.runner import stage_logging
from sauti.separation import publish_rounds

with stage_logging(snakemake.log[0], "separate_results"):  # noqa: F821
    publish_rounds(list(snakemake.input.rounds), str(Path(snakemake.output.summary).parent))  # noqa: F821
