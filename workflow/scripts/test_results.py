"""Shim: publish one test database's results (logic in sauti.stages.test)."""
from sauti.core.stage_log import stage_logging
from sauti.stages.test import publish_test

with stage_logging(snakemake.log[0], "test_results"):  # noqa: F821
    publish_test(dict(snakemake.input.items()), dict(snakemake.output.items()))  # noqa: F821
