"""Scaling decisions made when the DAG is built: how many shards a database gets, and how
much memory and wall time each job asks the cluster for.

Why at DAG time and from cheap facts only: Snakemake builds the whole DAG before it runs a job,
so these functions must not read audio. They count rows of a database's CSV/parquet tables (a
20,000-row CSV takes milliseconds) and use the size of a job's input files, which Snakemake
knows once the upstream job has run.

Why the shard count depends on the data only, never on `-j` or the executor: the merge rule's
inputs are the shard files, and Snakemake re-runs a job whose set of inputs changed. A count
that followed the core count would re-extract every feature when a user moves from a laptop to
the cluster. The merged table does not depend on the count (see balanced_rows).
"""

from __future__ import annotations

import math
from pathlib import Path

#: `EXP.shards: auto` (the default) gives each shard at least this many samples ...
SAMPLES_PER_SHARD = 5000
#: ... and never more shards than this (one per node of a 100-node allocation).
MAX_SHARDS = 100
#: Threads of an extracting features job for sauti.workflow.plan.THREADED_KINDS (cpus_per_task on a
#: cluster; Snakemake lowers it to --cores on a laptop, so one job then uses every core).
FEATURE_THREADS = 4

#: Per rule: memory (MB) of a job whose inputs are empty (Python, pandas, the libraries it
#: imports; measured peak RSS rounded up), and MB per MB of input (parquet inflates when loaded,
#: and training holds the feature matrix, its scaled copy and the model's copy).
MEMORY = {
    "samples": (600, 4),
    "labels": (500, 8),
    "features_shard": (800, 8),
    "features": (500, 8),
    "split": (500, 8),
    "train": (1000, 12),
    "finetune": (6000, 12),  # torch + a base-size transformer, its Adam state and the clips
    "evaluate": (600, 8),
    "report": (600, 8),
}
#: Per rule: wall-time minutes of a small job; features_shard adds time per sample.
RUNTIME = {
    "samples": 30,
    "labels": 10,
    "features_shard": 10,
    "features": 10,
    "split": 10,
    "train": 60,
    "finetune": 600,
    "evaluate": 15,
    "report": 15,
}
#: features_shard minutes per 100 samples: ~20 ms per 1 s clip for eGeMAPS on one core, with
#: generous room for long recordings and slow cluster file systems.
SHARD_MINUTES_PER_100 = 2


#: Fixed cost of one file in seconds of audio: eGeMAPS takes ~8 ms + ~16 ms per second of
#: audio per file here (20 ms for a 0.74 s clip, 40 ms for a 2 s clip), so ~0.5 s.
PER_FILE_SECONDS = 0.5


def balanced_rows(durations, shard: int, n_shards: int) -> slice:
    """Contiguous rows of shard `shard` of `n_shards`, cut so that each shard holds about the
    same seconds of audio rather than the same number of rows.

    Why: databases are often sorted (long read sentences first, short prompts last); equal
    row counts then leave one job doing most of the work. Row i goes to the shard its
    midpoint in cumulative duration falls into, so the blocks stay contiguous, every row
    lands in exactly one shard, and every shard job computes the same cuts from the same
    samples table. Missing or non-positive durations count as the mean one. Each file also
    counts PER_FILE_SECONDS, its fixed cost (opening, set-up of the extractor per signal)."""
    import numpy as np

    seconds = np.asarray(durations, dtype=float)
    valid = np.isfinite(seconds) & (seconds > 0)
    seconds = np.where(valid, seconds, seconds[valid].mean() if valid.any() else 1.0)
    seconds = seconds + PER_FILE_SECONDS
    ends = np.cumsum(seconds)
    middles = ends - seconds / 2
    total = ends[-1] if len(ends) else 0.0

    def first_row(k: int) -> int:
        if k >= n_shards:
            return len(seconds)
        return int(np.searchsorted(middles, k * total / n_shards, side="left"))

    return slice(first_row(shard), first_row(shard + 1))


def auto_shards(rows: int | None, threaded: bool = True) -> int:
    """`EXP.shards: auto`: one shard per SAMPLES_PER_SHARD rows of the database (rounded down),
    at least 1 and at most MAX_SHARDS; 1 when the rows cannot be counted.

    Why few shards: each shard is a process that pays Python and library start-up (about a
    second locally, 5 to 10 s on SLURM), while a THREADED_KINDS job already uses every core of
    its machine; 5000 clips are minutes of extraction, so the start-up stays small. A kind that
    runs in one thread (praat, embeddings) gets at least 2, so a laptop's two cores both work.
    Spreading a large database over many cluster nodes takes a number (EXP.shards: 100).
    """
    if not rows:
        return 1
    return max(1 if threaded or rows < 2 else 2, min(MAX_SHARDS, rows // SAMPLES_PER_SHARD))


def count_rows(samples_params: dict) -> int | None:
    """Rows of a database without loading it: data lines of a CSV, or the largest table of an
    audformat folder (CSV or parquet tables; `files_tables`/`target_tables` when given).
    None when the database is not there (the samples job then reports the problem)."""
    path = Path(samples_params["path"])
    kind = samples_params.get("type") or ("audformat" if path.is_dir() else "csv")
    if kind == "csv":
        return _csv_rows(path) if path.is_file() else None
    if not path.is_dir():
        return None
    wanted = set(samples_params.get("files_tables") or []) | set(
        samples_params.get("target_tables") or []
    )
    counts = []
    for table in path.glob("db.*.*"):
        name, suffix = table.name[3:].rsplit(".", 1)
        if wanted and name not in wanted:
            continue
        if suffix == "csv":
            counts.append(_csv_rows(table))
        elif suffix == "parquet":
            import pyarrow.parquet

            counts.append(pyarrow.parquet.ParquetFile(table).metadata.num_rows)
    return max(counts) if counts else None


def _csv_rows(path: Path) -> int:
    """Data lines of a CSV (newlines minus the header; a missing final newline counted)."""
    lines, last = 0, b"\n"
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    if last != b"\n":
        lines += 1
    return max(0, lines - 1)


def mem_mb(rule: str, input_mb: float, attempt: int = 1) -> int:
    """Memory to request for a `rule` job reading `input_mb` MB, doubled on each retry
    (`--retries`): a job killed for memory comes back with twice as much."""
    base, per_mb = MEMORY[rule]
    return _round_up(base + per_mb * input_mb, 100) * attempt


def runtime(rule: str, samples: int = 0, attempt: int = 1) -> int:
    """Wall time (minutes) for a `rule` job, `samples` = samples in a features_shard job;
    grows with the attempt like memory, for jobs killed by the time limit."""
    minutes = RUNTIME[rule]
    if rule == "features_shard":
        minutes += math.ceil(samples / 100) * SHARD_MINUTES_PER_100
    return minutes * attempt


def _round_up(value: float, step: int) -> int:
    return int(math.ceil(value / step) * step)
