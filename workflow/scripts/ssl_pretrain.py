"""Shim: SSL Stage I (logic in sauti.stages.ssl / sauti.ml.deep.ssl)."""
from pathlib import Path

from sauti.core.stage_log import stage_logging
from sauti.stages.ssl import pretrain_stage

with stage_logging(snakemake.log[0], "ssl_pretrain"):  # noqa: F821
    pretrain_stage(list(snakemake.input.samples), snakemake.params.cfg,  # noqa: F821
                   Path(snakemake.output.encoders).parent, snakemake.threads)  # noqa: F821
