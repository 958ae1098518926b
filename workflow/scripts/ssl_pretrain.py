"""Shim: SSL Stage I (logic in sauti.speaker_ssl / sauti.deep.ssl)."""
from pathlib import Path

from sauti.runner import stage_logging
from sauti.speaker_ssl import pretrain_stage

with stage_logging(snakemake.log[0], "ssl_pretrain"):  # noqa: F821
    pretrain_stage(list(snakemake.input.samples), snakemake.params.cfg,  # noqa: F821
                   Path(snakemake.output.encoders).parent, snakemake.threads)  # noqa: F821
