"""What the workflow tests share: a small real-speech corpus, config files, and snakemake calls.

Why a module (not copies per test file): every end-to-end test runs the real Snakefile through
`sauti.workflow.snakemake.command` and reads its dry-run job table; one definition keeps the timeout,
job count and error reporting identical across test files. Import it as `workflow_support`
(pytest puts tests/ on sys.path).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pandas as pd
import yaml

from sauti.workflow import snakemake as snakemake_cli

#: 16 speakers (8 female, 8 male; real and espeak): small but real.
SPEAKERS = [
    *["allison", "june", "carlo", "menardi", "gcin_m", "gcin_f", "codec2_m", "codec2_f"],
    *["espeak_en-us_f1", "espeak_en-us_f2", "espeak_en-us_m1", "espeak_en-us_m2"],
    *["espeak_de_f3", "espeak_de_f4", "espeak_de_m3", "espeak_de_m4"],
]
#: Generous: a test that hangs fails instead of blocking the suite.
TIMEOUT_S = 900


def small_table(demo_dir: Path, speakers=SPEAKERS, per_speaker: int = 5) -> pd.DataFrame:
    """Up to `per_speaker` clips of each speaker from demo.csv, with absolute file paths."""
    table = pd.read_csv(demo_dir / "demo.csv")
    table = table[table["speaker"].isin(speakers)].groupby("speaker").head(per_speaker).copy()
    table["file"] = [str((demo_dir / f).resolve()) for f in table["file"]]
    return table.reset_index(drop=True)


def write_csv(folder: Path, table: pd.DataFrame, name: str = "small.csv") -> Path:
    path = folder / name
    table.to_csv(path, index=False)
    return path


def gender_experiment(corpus: Path, name: str = "exp", model: str = "svm") -> dict:
    """The smallest gender experiment on a `small_table` corpus: eGeMAPS features and one model."""
    return {
        "EXP": {"name": name},
        "DATA": {
            "databases": ["small"],
            "small": {"path": str(corpus), "test_size": 25},
            "target": "gender",
            "labels": ["female", "male"],
        },
        "FEATS": {"type": ["os"]},
        "MODEL": {"type": model},
    }


def write(workdir: Path, cfg: dict, name: str = "exp.yaml") -> Path:
    path = workdir / name
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return path


def snakemake(workdir: Path, configfile: Path, *args: str) -> subprocess.CompletedProcess:
    command = snakemake_cli.command(configfile, workdir, "-j2", *args)
    return subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S)


def output(result: subprocess.CompletedProcess) -> str:
    return result.stdout + result.stderr


def run_ok(workdir: Path, configfile: Path, *args: str) -> str:
    """Run snakemake; fail the test with the log's tail when it does not succeed."""
    result = snakemake(workdir, configfile, *args)
    assert result.returncode == 0, output(result)[-3000:]
    return output(result)


def planned_jobs(workdir: Path, configfile: Path) -> dict[str, int]:
    """Rule -> job count from a dry run's job table (empty when nothing is to be done)."""
    text = run_ok(workdir, configfile, "--dry-run")
    jobs = snakemake_cli.job_counts(text)
    if not jobs:
        assert "Nothing to be done" in text, text
    return jobs


def processes_in(workdir: Path) -> list[str]:
    """Command lines of processes working in `workdir` (Snakemake and its jobs run there)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and Path(os.readlink(entry / "cwd")) == workdir.resolve():
                found.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except OSError:
            continue
    return found
