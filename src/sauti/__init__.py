"""sauti: cached, Snakemake-driven experiments on speaker characteristics."""

__version__ = "0.1.0"
