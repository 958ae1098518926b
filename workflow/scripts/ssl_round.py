"""Shim: one SSL Stage II round (logic in sauti.speaker_ssl / sauti.deep.ssl)."""
from pathlib import Path

from sauti.runner import stage_logging
from sauti.speaker_ssl import round_stage

with stage_logging(snakemake.log[0], "ssl_round"):  # noqa: F821
    round_stage(snakemake.input.utterances, snakemake.input.encoders,  # noqa: F821
                snakemake.params.cfg, Path(snakemake.output.encoders).parent, snakemake.threads)  # noqa: F821
