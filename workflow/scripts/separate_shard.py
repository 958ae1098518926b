"""Shim: separate one shard of recordings (logic in sauti.stages.separate)."""
from sauti.core.stage_log import stage_logging
from sauti.stages.separate import separate_shard

with stage_logging(snakemake.log[0], "separate_shard"):  # noqa: F821
    separate_shard(snakemake.input.split, snakemake.input.get("model"),  # noqa: F821
                   snakemake.params.cfg, int(snakemake.wildcards.shard),  # noqa: F821
                   int(snakemake.wildcards.n), snakemake.output.shard)  # noqa: F821
