"""Benchmark: feature extraction in 1 vs 2 (or more) shards with -j2.

    .venv/bin/python benchmarks/bench_shards.py [--shards 1 2] [--corpora demo large]
    (or `make benchmark-shards`)

For each corpus and shard count, a fresh working directory runs the default experiment (os
eGeMAPSv02 + svm, gender, speaker split) from scratch. Reported: the wall time of the whole
first run, the feature phase (samples table written -> merged feature table written, so shard
jobs, their start-up and the merge), and the CPU seconds the shard jobs spent extracting (from
their logs). The merged tables of all shard counts are compared: they must be identical.
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

from sauti import snakemake_cli

REPO = Path(__file__).resolve().parents[1]
CORPORA = {
    "demo": REPO / "data" / "demo" / "demo.csv",
    "large": REPO / "data" / "large" / "large.csv",
}


def run(workdir: Path, csv: Path, shards: int, jobs: int) -> dict:
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
        snakemake_cli.command(configfile, workdir, f"-j{jobs}"), capture_output=True, text=True
    )
    wall = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(result.stderr[-3000:])
    cache = workdir / "results" / "cache"
    samples = next(cache.glob("samples/*/samples.parquet")).stat().st_mtime
    merged = next(cache.glob("features/*/features.parquet"))
    extract = sum(
        float(m.group(1))
        for log in merged.parent.glob("shard-*.log")
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
    parser.add_argument("--shards", type=int, nargs="+", default=[1, 2])
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
            results = {}
            for shards in args.shards:
                workdir = Path(tmp) / f"{corpus}-{shards}"
                workdir.mkdir()
                results[shards] = r = run(workdir, csv, shards, args.jobs)
                base = results[args.shards[0]]
                rows.append(
                    f"| {corpus} ({n}) | {shards} | {r['wall']:.1f} | {r['features']:.1f} | "
                    f"{base['features'] / r['features']:.2f}x | {r['extract']:.1f} |"
                )
                print(rows[-1], flush=True)
                pd.testing.assert_frame_equal(r["table"], base["table"])  # the merge is exact
    text = "\n".join(
        [
            f"# Feature shards: speed-up with -j{args.jobs}",
            "",
            f"{platform.node()} · {os.cpu_count()} cores · Python {platform.python_version()} · "
            f"load average {os.getloadavg()[0]:.1f} · {time.strftime('%Y-%m-%d %H:%M')}",
            "",
            "os eGeMAPSv02 + svm, each run from scratch in a fresh working directory. Feature "
            "phase = samples table written -> merged feature table written (shard jobs with "
            "their start-up, and the merge). Extraction = the shard jobs' own seconds, summed. "
            "The merged tables were identical for every shard count.",
            "",
            "| corpus (files) | shards | first run (s) | feature phase (s) | speed-up | extraction (CPU s) |",
            "|---|---:|---:|---:|---:|---:|",
            *rows,
        ]
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
