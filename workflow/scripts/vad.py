"""Shim: silero speech ratio per sample of an unlabelled database (logic in sauti.stages.selftrain)."""
from sauti.core.stage_log import stage_logging
from sauti.stages.selftrain import vad_stage

with stage_logging(snakemake.log[0], "vad"):  # noqa: F821
    vad_stage(snakemake.input.samples, snakemake.params.cfg, snakemake.output.speech)  # noqa: F821
