"""Building a Snakemake command line for sauti's workflow, and reading its job table.

Shared by `sauti run`, the benchmarks and the workflow tests, so all of them run the workflow
the same way (this interpreter, sauti's Snakefile, an explicit working directory).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from sauti.core.paths import SNAKEFILE


def command(configfile: str | Path, workdir: str | Path, *args: str) -> list[str]:
    """The snakemake command line; `args` may hold options and targets in any order.

    `--configfile=PATH` (one token) on purpose: `--configfile PATH` takes every following word
    as another config file, so a target right after it would be read as a config.
    """
    return [
        sys.executable, "-m", "snakemake", "--snakefile", str(SNAKEFILE),
        "--directory", str(workdir), f"--configfile={configfile}", *args,
    ]  # fmt: skip


def job_counts(output: str) -> dict[str, int]:
    """Rule -> number of jobs from the "Job stats" table Snakemake prints in a dry run, or the
    "sauti: N jobs to run: rule n, ..." line of sauti's terminal view in a real run (empty if
    neither)."""
    line = re.search(r"^sauti: \d+ jobs to run: (.*)$", output, re.M)
    if line:
        return {rule: int(n) for rule, n in re.findall(r"(\w+) (\d+)", line.group(1))}
    table = re.search(r"job\s+count\n[-\s]+\n(.*?)\ntotal", output, re.S)
    if not table:
        return {}
    return {
        m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table.group(1), re.M)
    }
