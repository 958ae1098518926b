"""What `sauti run` shows on the terminal, run as a user runs it (a subprocess on real audio).

- a bad input stops with at most 5 lines that name the file or key and the reason;
- a second run that shares stages with a live one is told which run (pid) holds the folder;
- SIGTERM to `sauti run` ends Snakemake and every job, and the next run resumes;
- the lock of a killed run (kill -9) is removed by the next `sauti run` with a one-line note.
The terminal view's pieces (status lines, labels) are tested directly at the end.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from workflow_support import processes_in, small_table, write, write_csv

from sauti.app import terminal
from sauti.core import progress
from sauti.workflow import runs

SAUTI = str(Path(sys.executable).parent / "sauti")
TIMEOUT_S = 900


def experiment(corpus: Path, name: str = "exp", **data) -> dict:
    return {
        "EXP": {"name": name, "shards": 1},
        "DATA": {
            "databases": ["small"],
            "small": {"path": str(corpus), "test_size": 25},
            "target": "gender",
            "labels": ["female", "male"],
            **data,
        },
        "FEATS": {"type": ["os"], "set": "eGeMAPSv02"},
        "MODEL": {"type": "svm"},
    }


def sauti_run(workdir: Path, configfile: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [SAUTI, "run", str(configfile), "-j2", *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )


def printed(result: subprocess.CompletedProcess) -> list[str]:
    return [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]


def start(workdir: Path, configfile: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [SAUTI, "run", str(configfile), "-j2"],
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for_extraction(workdir: Path, run: subprocess.Popen, timeout: float = 300) -> dict:
    """Wait until the features job reports progress; return the run's record."""
    ends = time.monotonic() + timeout
    while time.monotonic() < ends:
        assert run.poll() is None, run.stdout.read()
        if list((workdir / "results" / "cache" / "features").glob("*/*.progress")):
            record = runs.read_record(runs.record_path(workdir, run.pid))
            if record and record.get("snakemake_pid"):
                return record
        time.sleep(0.2)
    raise AssertionError("the features job never reported progress")


@pytest.fixture(scope="module")
def table(demo_dir) -> pd.DataFrame:
    return small_table(demo_dir)


# --------------------------------------------------------------------------- bad inputs


def _bad_audio(tmp_path: Path, table: pd.DataFrame, kind: str) -> tuple[dict, str]:
    bad = tmp_path / f"{kind}.wav"
    if kind == "empty":
        bad.write_bytes(b"")
    elif kind == "text":
        bad.write_text("this is not audio\n" * 50)
    table = table.copy()
    table.loc[3, "file"] = str(bad)
    return experiment(write_csv(tmp_path, table), skip_bad=False), str(bad)


@pytest.mark.parametrize(
    ("kind", "reason"),
    [("missing", "missing"), ("empty", "empty"), ("text", "not audio")],
)
def test_bad_audio_stops_in_at_most_five_lines(tmp_path, table, kind, reason):
    cfg, bad = _bad_audio(tmp_path, table, kind)
    result = sauti_run(tmp_path, write(tmp_path, cfg))
    lines = printed(result)
    assert result.returncode != 0
    assert len(lines) <= 5, "\n".join(lines)
    error = next(line for line in lines if line.startswith("sauti samples: error:"))
    assert bad in error and reason in error and "DATA.small" in error
    assert any("failed: stage samples (exp)" in line and "samples.log" in line for line in lines)
    log = next(line for line in lines if line.startswith("sauti: stopped: 1 job failed"))
    assert (tmp_path / log.rsplit(": ", 1)[1]).exists()  # Snakemake's own log, with the details
    text = "\n".join(lines)
    assert "Traceback" not in text and "CalledProcessError" not in text
    details = Path(tmp_path / log.rsplit(": ", 1)[1]).read_text()
    assert "Error in rule samples" in details and bad in details  # the job's log, quoted


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda c: c["MODEL"].update(C_vall=2), ["[MODEL] unknown key 'C_vall'", "'C_val'"]),
        (
            lambda c: c["DATA"]["small"].update(test_size=100),
            ["small.test_size must be below 100, not 100", "test share in percent"],
        ),
    ],
)
def test_config_errors_stop_in_one_line_before_snakemake(tmp_path, table, change, expected):
    cfg = experiment(write_csv(tmp_path, table))
    change(cfg)
    result = sauti_run(tmp_path, write(tmp_path, cfg))
    lines = printed(result)
    assert result.returncode == 2 and len(lines) == 1, lines
    assert lines[0].startswith("sauti: error: ") and str(tmp_path / "exp.yaml") in lines[0]
    assert all(part in lines[0] for part in expected), lines[0]
    assert not (tmp_path / ".snakemake").exists()  # Snakemake never started


def test_nan_label_runs_through_and_is_summed_up(tmp_path, table):
    table = table.copy()
    table.loc[[2, 7], "gender"] = None
    result = sauti_run(tmp_path, write(tmp_path, experiment(write_csv(tmp_path, table))))
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    lines = printed(result)
    done = [line for line in lines if "done  " in line]
    assert done and all(line.startswith("[") for line in done)  # one line per finished job
    assert any("2" in line and "gender" in line for line in lines), "\n".join(lines)
    assert (tmp_path / "results/exp/report.html").exists()


def test_missing_example_corpus_names_its_build_command(tmp_path):
    example = Path(__file__).parents[1] / "config/examples/ssl_sentences.yaml"
    result = sauti_run(tmp_path, example)
    lines = printed(result)
    assert result.returncode != 0 and len(lines) <= 5, lines
    error = next(line for line in lines if "error:" in line)
    assert "sentences.csv does not exist" in error
    assert "build_sentence_corpus.sh data/sentences" in error


# --------------------------------------------------------------------------- locks and signals


@pytest.fixture(scope="module")
def long_corpus(tmp_path_factory, demo_dir) -> Path:
    """The whole demo corpus: its feature extraction runs long enough to act during it."""
    table = pd.read_csv(demo_dir / "demo.csv")
    table["file"] = [str((demo_dir / f).resolve()) for f in table["file"]]
    return write_csv(tmp_path_factory.mktemp("long"), table, "demo.csv")


def test_a_live_run_is_named_and_sigterm_ends_it_all_and_the_next_run_resumes(
    tmp_path, long_corpus
):
    configfile = write(tmp_path, experiment(long_corpus, "long"))
    first = start(tmp_path, configfile)
    try:
        record = wait_for_extraction(tmp_path, first)
        second = sauti_run(tmp_path, configfile)
        assert second.returncode != 0
        text = "\n".join(printed(second))
        assert f"sauti run pid {first.pid} (Snakemake pid {record['snakemake_pid']})" in text
        assert "is still running" in text and "experiments long" in text
        assert "--unlock" not in text.replace("do not use --unlock", "")
        assert first.poll() is None  # the second run left the first alone

        first.send_signal(signal.SIGTERM)
        out, _ = first.communicate(timeout=120)
    finally:
        if first.poll() is None:
            os.killpg(record["snakemake_pid"], signal.SIGKILL)
            first.kill()
    assert first.returncode == 128 + signal.SIGTERM, out
    assert "stopped on SIGTERM" in out and "Traceback" not in out
    time.sleep(1)
    assert processes_in(tmp_path) == []  # neither Snakemake nor a job is left
    assert not list((tmp_path / ".snakemake" / "locks").glob("*"))

    again = sauti_run(tmp_path, configfile)
    assert again.returncode == 0, (again.stdout + again.stderr)[-3000:]
    planned = next(line for line in printed(again) if "jobs to run:" in line)
    assert "features 1" in planned and "samples" not in planned  # resumed: samples were done
    assert (tmp_path / "results/long/metrics.json").exists()


def test_the_lock_of_a_killed_run_is_removed_by_the_next_run(tmp_path, table):
    configfile = write(tmp_path, experiment(write_csv(tmp_path, table)))
    first = start(tmp_path, configfile)
    record = wait_for_extraction(tmp_path, first)
    first.kill()  # kill -9: sauti run cannot clean up
    os.killpg(record["snakemake_pid"], signal.SIGKILL)  # nor can Snakemake
    first.communicate(timeout=60)
    ends = time.monotonic() + 30
    while processes_in(tmp_path) and time.monotonic() < ends:
        time.sleep(0.2)  # the watchdog ends the orphaned job
    assert processes_in(tmp_path) == []
    assert list((tmp_path / ".snakemake" / "locks").glob("*.lock"))  # left behind

    result = sauti_run(tmp_path, configfile)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    note = printed(result)[0]
    assert note.startswith("sauti: removed the lock left in") and f"pid {first.pid}" in note
    assert "no longer running" in note
    assert (tmp_path / "results/exp/metrics.json").exists()


# --------------------------------------------------------------------------- the view's parts


def test_progress_bar_writes_the_status_line_the_view_shows(tmp_path):
    log = tmp_path / "features.log"
    progress.report_to(progress.status_path_for(log))
    try:
        clips = progress.bar(range(10), total=10, desc="features os", unit="clip", mininterval=0)
        for i in clips:
            if i == 4:
                assert terminal._read_status([str(log)]).startswith("features os 4/10 clips")
        epochs = progress.bar(range(1, 4), desc="train mlp", unit="epoch", mininterval=0)
        for epoch in epochs:
            epochs.set_postfix(loss=f"{1 / epoch:.3f}")
    finally:
        progress.report_to(None)
    assert terminal._read_status([str(log)]) == "train mlp epoch 3/3, loss=0.333"


def test_failed_job_is_two_lines_from_its_log(tmp_path):
    log = tmp_path / "results/cache/split/abc123def456/split.log"
    log.parent.mkdir(parents=True)
    log.write_text("10:00:00 INFO sauti: start\n10:00:01 ERROR sauti: DATA.x: bad (hint: fix)\n")
    record = tmp_path / "run.json"
    record.write_text(
        json.dumps({"pid": os.getpid(), "stages": {"split/abc123def456": ["a", "b"]}}),
        encoding="utf-8",
    )
    out = tmp_path / "terminal.txt"
    with out.open("w") as stream:
        view = terminal.TerminalView(stream, live=False, record_path=str(record))
        error = logging.LogRecord(
            "snakemake", logging.ERROR, "", 0, "Error in rule split", (), None
        )
        error.__dict__.update(event="job_error", jobid=3, rule_name="split", log=[str(log)])
        view.handle(error)
    assert out.read_text().splitlines() == [
        "sauti split: error: DATA.x: bad (hint: fix)",
        f"  failed: stage split (a, b); full log: {log}",
    ]


def test_live_view_lists_running_jobs_with_their_progress(tmp_path):
    import io

    from rich.console import Console

    log = tmp_path / "results/cache/features/abc123def456/features.log"
    log.parent.mkdir(parents=True)
    progress.status_path_for(log).write_text("features os 120/480 clips, 00:42 left\n")
    view = terminal.TerminalView(io.StringIO(), live=False)
    info = logging.LogRecord("snakemake", logging.INFO, "", 0, "job", (), None)
    info.__dict__.update(
        event="job_info", jobid=1, rule_name="features", log=[str(log)], output=[], wildcards={}
    )
    view.handle(info)
    shown = io.StringIO()
    Console(file=shown, width=120).print(view._running_jobs())
    lines = shown.getvalue().splitlines()
    assert (
        "features abc123def456" in lines[0] and "features os 120/480 clips, 00:42 left" in lines[0]
    )
    assert lines[1].startswith("0 jobs done, 1 running")
