"""Shim: merge the separated shards into the separated table (logic in sauti.stages.separate)."""
from pathlib import Path

from sauti.core.stage_log import stage_logging
from sauti.stages.separate import merge_shards

with stage_logging(snakemake.log[0], "separate"):  # noqa: F821
    merge_shards(snakemake.input.split, list(snakemake.input.shards), snakemake.params.cfg,  # noqa: F821
                 str(Path(snakemake.output.table).parent))  # noqa: F821
