"""Shim: a database's feature table, merged from its shards or extracted whole (sauti.stages)."""
from sauti.core.stage_log import stage_logging
from sauti.stages.features import features_stage

with stage_logging(snakemake.log[0], "features"):  # noqa: F821
    features_stage(
        snakemake.input.samples,  # noqa: F821
        list(snakemake.input.get("shards", [])),  # noqa: F821
        snakemake.params.cfg,  # noqa: F821
        snakemake.output.features,  # noqa: F821
        device=snakemake.resources.device,  # noqa: F821
        batch_size=snakemake.resources.batch_size,  # noqa: F821
        workers=snakemake.threads,  # noqa: F821
        encoders=snakemake.input.get("encoders"),  # noqa: F821  (FEATS.type spkrec_ssl)
    )
