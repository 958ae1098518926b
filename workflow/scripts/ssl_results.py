"""Shim: publish the SSL results to <root>/<name>/ssl/ (logic in sauti.stages.ssl)."""
from sauti.core.stage_log import stage_logging
from sauti.stages.ssl import publish

with stage_logging(snakemake.log[0], "ssl_results"):  # noqa: F821
    publish(snakemake.input.manifest, dict(snakemake.output.items()))  # noqa: F821
