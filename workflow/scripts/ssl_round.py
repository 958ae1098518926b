"""Shim: one SSL Stage II round (logic in sauti.stages.ssl / sauti.ml.deep.ssl)."""
from pathlib import Path

from sauti.core.stage_log import stage_logging
from sauti.stages.ssl import round_stage

with stage_logging(snakemake.log[0], "ssl_round"):  # noqa: F821
    round_stage(snakemake.input.utterances, snakemake.input.encoders,  # noqa: F821
                snakemake.params.cfg, Path(snakemake.output.encoders).parent, snakemake.threads)  # noqa: F821
