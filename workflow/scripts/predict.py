"""Shim: the predict stage (logic in sauti.predict)."""
from pathlib import Path

from sauti.stages.predict import predict_stage
from sauti.core.stage_log import stage_logging

with stage_logging(snakemake.log[0], "predict"):  # noqa: F821
    predict_stage(snakemake.input.data, snakemake.params.cfg,  # noqa: F821
                  Path(snakemake.output.table).parent,  # noqa: F821
                  encoders=snakemake.input.get("encoders"))  # noqa: F821  (speaker_embedding ssl)
