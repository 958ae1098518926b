"""Shim: fine-tune a pretrained speech transformer (logic in sauti.ml.deep.finetune)."""
from pathlib import Path

from sauti.core.stage_log import stage_logging

with stage_logging(snakemake.log[0], "finetune"):  # noqa: F821
    import torch

    from sauti.ml.deep.finetune import finetune_stage

    torch.set_num_threads(snakemake.threads)  # noqa: F821
    finetune_stage(snakemake.input.split, snakemake.params.cfg,  # noqa: F821
                   str(Path(snakemake.output.model).parent))  # noqa: F821
