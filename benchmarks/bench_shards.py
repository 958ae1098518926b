"""Benchmark: the two ways to use several cores for features, shards and threads, with -j2.

    .venv/bin/python benchmarks/bench_shards.py [--corpora demo large]
    (or `make benchmark-shards`)

For each corpus and setting, a fresh working directory runs the default experiment (os
eGeMAPSv02 + svm, gender, speaker split) from scratch. The settings: 1 shard in 1 thread (the
baseline), 1 shard in the job's threads (the default on a laptop), 2 shards of 1 thread each
(two processes). Reported: the wall time of the whole first run, the feature phase (samples
table written -> merged feature table written, so extraction jobs, their start-up and any
merge), and the seconds the extraction jobs spent extracting (from their logs, summed). The
feature tables of all settings are compared: they must be identical.
Writes benchmarks/results/shards.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

from sauti.workflow import snakemake as snakemake_cli

REPO = Path(__file__).resolve().parents[1]
CORPORA = {
    "demo": REPO / "data" / "demo" / "demo.csv",
    "large": REPO / "data" / "large" / "large.csv",
}


#: (label, EXP.shards, extra snakemake options)
SETTINGS = (
    ("1 shard, 1 thread", 1, ["--set-threads", "features=1"]),
    ("1 shard, threads", 1, []),
    ("2 shards, 1 thread each", 2, ["--set-threads", "features_shard=1"]),
)


def run(workdir: Path, csv: Path, shards: int, jobs: int, extra: list[str]) -> dict:
    cfg = {
        "EXP": {"name": "shards", "shards": shards},
        "DATA": {
            "databases": ["db"],
            "db": {"path": str(csv), "test_size": 25},
            "target": "gender",
            "labels": ["female", "male"],
        },
        "FEATS": {"type": ["os"], "set": "eGeMAPSv02"},
        "MODEL": {"type": "svm"},
    }
    configfile = workdir / "exp.yaml"
    configfile.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    started = time.perf_counter()
    result = subprocess.run(
        snakemake_cli.command(configfile, workdir, f"-j{jobs}", *extra),
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(result.stderr[-3000:])
    cache = workdir / "results" / "cache"
    samples = next(cache.glob("samples/*/samples.parquet")).stat().st_mtime
    merged = next(cache.glob("features/*/features.parquet"))
    logs = list(merged.parent.glob("shard-*.log")) or [merged.parent / "features.log"]
    extract = sum(
        float(m.group(1))
        for log in logs
        if (m := re.search(r"features finished in ([\d.]+) s", log.read_text()))
    )
    return {
        "wall": wall,
        "features": merged.stat().st_mtime - samples,
        "extract": extract,
        "table": pd.read_parquet(merged),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpora", nargs="+", choices=list(CORPORA), default=None)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/shards.md")
    args = parser.parse_args()
    corpora = args.corpora or [c for c, p in CORPORA.items() if p.exists()]
    rows = []
    with tempfile.TemporaryDirectory(prefix="sauti-shards-") as tmp:
        for corpus in corpora:
            csv = CORPORA[corpus]
            n = len(pd.read_csv(csv))
            base = None
            for i, (label, shards, extra) in enumerate(SETTINGS):
                workdir = Path(tmp) / f"{corpus}-{i}"
                workdir.mkdir()
                r = run(workdir, csv, shards, args.jobs, extra)
                base = base or r
                rows.append(
                    f"| {corpus} ({n}) | {label} | {r['wall']:.1f} | {r['features']:.1f} | "
                    f"{base['features'] / r['features']:.2f}x | {r['extract']:.1f} |"
                )
                print(rows[-1], flush=True)
                pd.testing.assert_frame_equal(r["table"], base["table"])  # the merge is exact
    text = "\n".join(
        [
            f"# Feature shards and threads: speed-up with -j{args.jobs}",
            "",
            f"{platform.node()} · {os.cpu_count()} cores · Python {platform.python_version()} · "
            f"load average {os.getloadavg()[0]:.1f} · {time.strftime('%Y-%m-%d %H:%M')}",
            "",
            "os eGeMAPSv02 + svm, each run from scratch in a fresh working directory. Feature "
            "phase = samples table written -> feature table written (extraction jobs with "
            "their start-up, and any merge). Extraction = the extraction jobs' own seconds, "
            "summed. The feature tables were identical for every setting.",
            "",
            "| corpus (files) | setting | first run (s) | feature phase (s) | speed-up | extraction (s) |",
            "|---|---:|---:|---:|---:|---:|",
            *rows,
        ]
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
