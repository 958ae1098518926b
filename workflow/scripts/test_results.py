"""Shim: publish one test database's results (logic in sauti.testsets)."""
from sauti.runner import stage_logging
from sauti.testsets import publish_test

with stage_logging(snakemake.log[0], "test_results"):  # noqa: F821
    publish_test(dict(snakemake.input.items()), dict(snakemake.output.items()))  # noqa: F821
