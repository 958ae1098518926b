"""Benchmark: how building the DAG and a dry run scale with the database size.

    .venv/bin/python benchmarks/dag_scale.py [--files 20000] [--seconds 1.0]
    (or `make benchmark-dag`)

Writes a synthetic database of short generated clips (tones with noise, two "genders" by
pitch, 200 speakers) with soundfile into a temporary folder, plus its CSV, and times
`snakemake -n` (DAG built, nothing run) for an experiment with two feature types and
`EXP.shards: auto`, measuring wall time and peak RSS of the Snakemake process. The dry runs
happen once before any audio exists (which shows the DAG never opens an audio file) at
several database sizes, and twice with the audio written: first with an empty digest state
(sauti.core.digests hashes every file), then with the warm state file (only stat calls), which is
what every later Snakemake start pays. The first-hashing throughput is measured in-process on
the same files (just written, so read from the page cache: the hash's own speed). Then it
times the samples stage alone, the first job that does read the audio (it checks every file).
Writes benchmarks/results/dag_scale.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile
import yaml

from sauti.core import digests
from sauti.ml import scaling
from sauti.workflow import snakemake as snakemake_cli

REPO = Path(__file__).resolve().parents[1]
RATE = 16000
#: Runs the command given as arguments; prints the children's peak RSS (KB) and CPU seconds
#: (user + system: unlike wall time, hardly changed by other processes) on its last line.
RSS_WRAPPER = (
    "import resource, subprocess, sys; code = subprocess.run(sys.argv[1:]).returncode; "
    "u = resource.getrusage(resource.RUSAGE_CHILDREN); "
    "print(u.ru_maxrss, u.ru_utime + u.ru_stime, file=sys.stderr); "
    "sys.exit(code)"
)


def section(name: str, lines: list[str]) -> list[str]:
    """`lines` between pymdownx.snippets section markers: the docs include them by name
    (`--8<-- "benchmarks/results/dag_scale.md:<name>"`), so no figure there is retyped."""
    return [f"<!-- --8<-- [start:{name}] -->", *lines, "", f"<!-- --8<-- [end:{name}] -->"]


def write_table(folder: Path, n_files: int) -> Path:
    speakers = [f"spk{i:03d}" for i in range(200)]
    table = pd.DataFrame(
        {
            "file": [f"wav/{i // 1000:02d}/clip{i:05d}.wav" for i in range(n_files)],
            "speaker": [speakers[i % len(speakers)] for i in range(n_files)],
        }
    )
    table["gender"] = ["female" if int(s[3:]) % 2 else "male" for s in table["speaker"]]
    path = folder / f"synthetic-{n_files}.csv"
    table.to_csv(path, index=False)
    return path


def write_audio(folder: Path, table: pd.DataFrame, seconds: float) -> None:
    """A pitched tone with noise per clip: female speakers ~220 Hz, male ~120 Hz."""
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * RATE)) / RATE
    for file, speaker, gender in table[["file", "speaker", "gender"]].itertuples(index=False):
        pitch = (220 if gender == "female" else 120) + int(speaker[3:]) % 20
        signal = 0.3 * np.sin(2 * np.pi * pitch * t) + 0.05 * rng.standard_normal(t.size)
        path = folder / file
        path.parent.mkdir(parents=True, exist_ok=True)
        soundfile.write(path, signal.astype(np.float32), RATE, subtype="PCM_16")


def experiment(workdir: Path, csv: Path) -> Path:
    cfg = {
        "EXP": {"name": "dag_scale", "shards": "auto"},
        "DATA": {"databases": ["synthetic"], "synthetic": str(csv), "target": "gender"},
        "FEATS": {"type": ["os", "praat"]},
        "MODEL": {"type": "svm"},
    }
    path = workdir / f"{csv.stem}.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return path


def measured(command: list[str], env: dict | None = None) -> tuple[float, float, str, float]:
    """(wall s, peak RSS MB, output, CPU s) of one run of `command`."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", RSS_WRAPPER, *command], capture_output=True, text=True, env=env
    )
    elapsed = time.perf_counter() - started
    *output, last = result.stderr.rstrip().rsplit("\n", 1)
    rss, cpu = last.split()
    if result.returncode != 0:
        sys.exit(f"failed: {' '.join(command)}\n{result.stdout[-2000:]}{output[0][-2000:]}")
    return elapsed, int(rss) / 1024, result.stdout + "\n".join(output), float(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=1.0, help="length of each clip")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/dag_scale.md")
    parser.add_argument(
        "--compare-with",
        type=Path,
        help="another sauti checkout (e.g. `git archive` of an older commit): its dry run on the "
        "same files is one more row",
    )
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="sauti-dag-scale-") as tmp:
        tmp = Path(tmp)

        def dry_run(csv: Path, label: str, checkout: Path | None = None) -> None:
            rows_in_db = len(pd.read_csv(csv))
            command = snakemake_cli.command(experiment(tmp, csv), tmp, "-n", "--quiet", "rules")
            env = None
            if checkout:  # the other checkout's Snakefile and package
                command[command.index("--snakefile") + 1] = str(checkout / "Snakefile")
                env = {**os.environ, "PYTHONPATH": str(checkout / "src")}
            elapsed, rss, output, cpu = measured(command, env)
            jobs = snakemake_cli.job_counts(output)
            shards = f"{scaling.auto_shards(rows_in_db)} / {scaling.auto_shards(rows_in_db, False)}"
            rows.append(
                f"| {rows_in_db:,} | {label} | {shards} | {sum(jobs.values())} | "
                f"{elapsed:.1f} | {cpu:.1f} | {rss:.0f} |"
            )
            print(rows[-1], flush=True)

        sizes = sorted({args.files // 10, args.files, args.files * 10})
        for n in sizes:  # no audio yet: the DAG must not need it
            dry_run(write_table(tmp, n), "CSV only, no audio")
        csv = tmp / f"synthetic-{args.files}.csv"
        started = time.perf_counter()
        write_audio(tmp, pd.read_csv(csv), args.seconds)
        written = time.perf_counter() - started
        dry_run(csv, f"with {args.files:,} wav files, digest state empty (hashes all)")
        dry_run(csv, f"with {args.files:,} wav files, digest state warm")
        if args.compare_with:
            label = f"with {args.files:,} wav files, {args.compare_with.name} (no digests)"
            dry_run(csv, label, args.compare_with.resolve())
        files = [str(tmp / f) for f in pd.read_csv(csv)["file"]]
        megabytes = sum(os.path.getsize(f) for f in files) / 1e6
        started = time.perf_counter()
        digests.DigestState(tmp / "hash-throughput").digests(files)
        hashing = time.perf_counter() - started
        # the samples job is the first that reads audio: it checks every file
        samples_s, samples_rss, _, _ = measured(
            snakemake_cli.command(experiment(tmp, csv), tmp, "-j1", "--until", "samples")
        )
    text = "\n".join(
        [
            "# DAG scale: build + dry run (`snakemake -n`) on a synthetic database",
            "",
            *section(  # the sections docs/slurm.md includes: dryruns, audio
                "dryruns",
                [
                    f"{platform.node()} · {os.cpu_count()} cores · Python "
                    f"{platform.python_version()} · load average {os.getloadavg()[0]:.1f} · "
                    f"{time.strftime('%Y-%m-%d %H:%M')}",
                    "",
                    "Experiment: FEATS.type [os, praat], EXP.shards auto, svm. Peak RSS: the "
                    "largest process (Snakemake, or the job it ran). Jobs = every job of the DAG. "
                    "CPU: user + system seconds of the Snakemake process, the fairer figure on a "
                    "busy machine.",
                    "",
                    "| rows | audio | shards (os / praat) | jobs | wall (s) | CPU (s) | peak RSS (MB) |",
                    "|---:|---|---:|---:|---:|---:|---:|",
                    *rows,
                ],
            ),
            "",
            *section(
                "audio",
                [
                    f"Writing the {args.files:,} clips ({args.seconds:g} s each) took "
                    f"{written:.0f} s; the samples job alone (reads and checks every file) took "
                    f"{samples_s:.1f} s (peak RSS {samples_rss:.0f} MB, Snakemake start-up "
                    "included).",
                    "",
                    f"First hashing (sauti.core.digests, xxh3-128, one process, files in the page "
                    f"cache): {megabytes:,.0f} MB in {len(files):,} files took {hashing:.2f} s = "
                    f"{megabytes / hashing:,.0f} MB/s, {len(files) / hashing:,.0f} files/s "
                    "(stat, read, hash and one SQLite transaction).",
                ],
            ),
        ]
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
