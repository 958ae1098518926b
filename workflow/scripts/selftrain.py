"""Shim: one self-training round (logic in sauti.stages.selftrain)."""
from pathlib import Path

from sauti.core.stage_log import stage_logging
from sauti.stages.selftrain import round_stage

with stage_logging(snakemake.log[0], "selftrain"):  # noqa: F821
    round_stage(dict(snakemake.input), snakemake.params.cfg,  # noqa: F821
                str(Path(snakemake.output.state).parent))  # noqa: F821
