"""Shim: the SSL speaker-verification evaluation (logic in sauti.stages.ssl)."""
from pathlib import Path

from sauti.core.stage_log import stage_logging
from sauti.stages.ssl import eval_stage

with stage_logging(snakemake.log[0], "ssl_eval"):  # noqa: F821
    eval_stage(snakemake.input.utterances, list(snakemake.input.encoders),  # noqa: F821
               list(snakemake.input.rounds), snakemake.params.cfg,  # noqa: F821
               Path(snakemake.output.manifest).parent, snakemake.threads)  # noqa: F821
