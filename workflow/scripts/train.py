"""Shim: fit the model(s) and predict dev/test (logic in sauti.stages)."""
from pathlib import Path

from sauti.core.stage_log import stage_logging
from sauti.stages.train import train_stage

with stage_logging(snakemake.log[0], "train"):  # noqa: F821
    train_stage(snakemake.input.split, list(snakemake.input.features), snakemake.params.cfg,  # noqa: F821
                str(Path(snakemake.output.model).parent),  # noqa: F821
                augmented_path=snakemake.input.get("augment"))  # noqa: F821  (aug_train)
