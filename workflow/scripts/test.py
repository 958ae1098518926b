"""Shim: evaluate the saved model on one DATA.tests database (logic in sauti.stages.test)."""
from pathlib import Path

from sauti.core.stage_log import stage_logging
from sauti.stages.test import test_stage

with stage_logging(snakemake.log[0], "test"):  # noqa: F821
    test_stage(snakemake.input.model, snakemake.input.samples, list(snakemake.input.features),  # noqa: F821
               snakemake.params.cfg, str(Path(snakemake.output.metrics).parent))  # noqa: F821
