"""Shim: extract one feature type for one shard of a database (logic in sauti.stages)."""
from sauti.core.stage_log import stage_logging
from sauti.stages.features import features_shard_stage

with stage_logging(snakemake.log[0], "features"):  # noqa: F821
    features_shard_stage(
        snakemake.input.samples,  # noqa: F821
        snakemake.params.cfg,  # noqa: F821
        int(snakemake.wildcards.shard),  # noqa: F821
        int(snakemake.wildcards.n),  # noqa: F821
        snakemake.output.shard,  # noqa: F821
        device=snakemake.resources.device,  # noqa: F821
        batch_size=snakemake.resources.batch_size,  # noqa: F821
        workers=snakemake.threads,  # noqa: F821
        encoders=snakemake.input.get("encoders"),  # noqa: F821  (FEATS.type spkrec_ssl)
    )
