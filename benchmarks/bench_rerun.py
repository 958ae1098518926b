"""Benchmark: wall time of a first run, a re-run after one MODEL change, and a revert.

    .venv/bin/python benchmarks/bench_rerun.py [--config config/config.yaml] [--jobs 2]

Runs the experiment in a fresh temporary working directory (so earlier results do not help),
then changes MODEL.C_val, then reverts it, timing each snakemake invocation and counting the
jobs it ran. Writes benchmarks/results/rerun.md (a table) and prints it.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from sauti.workflow import snakemake as snakemake_cli

REPO = Path(__file__).resolve().parents[1]


def run(workdir: Path, cfg: dict, jobs: int) -> tuple[float, dict, str]:
    configfile = workdir / "exp.yaml"
    configfile.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    command = snakemake_cli.command(configfile, workdir, f"-j{jobs}")
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(result.stdout[-2000:] + result.stderr[-2000:])
    jobs_run = snakemake_cli.job_counts(result.stdout + result.stderr)
    metrics = json.loads((workdir / "results" / cfg["EXP"]["name"] / "metrics.json").read_text())
    headline = metrics["test"].get("uar", metrics["test"].get("ccc"))
    return elapsed, jobs_run, f"{headline:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default=str(REPO / "config" / "config.yaml"))
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "rerun.md"))
    args = parser.parse_args()
    base = yaml.safe_load(Path(args.config).read_text())
    for name in base["DATA"]["databases"]:  # make database paths absolute for the temp workdir
        spec = base["DATA"][name]
        if isinstance(spec, str):
            base["DATA"][name] = os.path.abspath(spec)
        else:
            spec["path"] = os.path.abspath(spec["path"])
    changed = copy.deepcopy(base)
    changed.setdefault("MODEL", {})["C_val"] = float(base.get("MODEL", {}).get("C_val", 1.0)) * 10
    rows = []
    with tempfile.TemporaryDirectory(prefix="sauti-bench-") as tmp:
        workdir = Path(tmp)
        for step, cfg in (
            ("first run", base),
            ("MODEL.C_val changed", changed),
            ("reverted", base),
        ):
            elapsed, jobs, score = run(workdir, cfg, args.jobs)
            ran = ", ".join(f"{k} {v}" for k, v in jobs.items() if k != "all") or "none"
            rows.append(f"| {step} | {elapsed:.1f} | {ran} | {score} |")
    header = [
        f"# sauti re-run benchmark ({Path(args.config).name}, -j{args.jobs})",
        "",
        f"{platform.node()} · {os.cpu_count()} cores · Python {platform.python_version()} · "
        f"{time.strftime('%Y-%m-%d %H:%M')}",
        "",
        "| step | wall time (s) | jobs run | test UAR/CCC |",
        "|---|---:|---|---:|",
    ]
    text = "\n".join(header + rows) + "\n"
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
