"""`sauti watch exp.ini`: re-run an experiment each time its file is saved, inside one process.

Why a live mode: a researcher's loop is edit a key, save, look at the score. `sauti run` pays
for a new Python with Snakemake and sauti imported (about 1.6 s) and a new process per job
before any work; here both stay imported, Snakemake runs through its Python API
(`snakemake.api`) in this process, and the light jobs run as its threads (`sauti.workflow.jobs`), so a
MODEL change costs the DAG, the training job and a few hundred milliseconds of evaluation.

How a save is noticed: the files' mtimes are polled (cheap) and a changed mtime is confirmed
by a digest of the content (an editor that rewrites the same text runs nothing). A config
error is shown in one line and the watch goes on with the last good state; Ctrl-C ends it.
After each run the headline of every experiment is printed with its change against the last
run, e.g. `exp: UAR 0.913 -> 0.921 (+0.008)`.
"""

from __future__ import annotations

import hashlib
import os
import signal
import sys
import time
from pathlib import Path

from sauti.app.running import write_run_config
from sauti.config import compose
from sauti.core.errors import SautiError
from sauti.core.fileio import read_json
from sauti.core.paths import SNAKEFILE
from sauti.stages.summary import headline

#: Seconds between two looks at the files' mtimes.
POLL_S = 0.1


def watch(
    files: list[str], cores: int | None = None, out=sys.stdout, runs: int | None = None
) -> int:
    """Run now and after every saved change of `files`; `runs` stops after that many runs
    (tests and benchmarks; None: until Ctrl-C)."""
    cores = cores or os.cpu_count() or 1
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # and again after each run
    last: dict[str, float] = {}
    seen_stamps = seen_digest = None
    done = 0
    say = _printer(out)
    say(f"sauti watch: {', '.join(files)} (Ctrl-C ends)")
    try:
        while runs is None or done < runs:
            stamps = _stamps(files)
            if stamps == seen_stamps:
                time.sleep(POLL_S)
                continue
            seen_stamps = stamps
            digest = _digest(files)
            if digest == seen_digest:  # touched or rewritten with the same text
                continue
            seen_digest = digest
            if done:
                say(f"sauti watch: {', '.join(Path(f).name for f in files)} changed, re-running")
            _run_once(files, cores, last, say)
            done += 1
    except KeyboardInterrupt:
        say("sauti watch: stopped")
    return 0


def _printer(out):
    def say(text: str) -> None:
        out.write(text + "\n")
        out.flush()

    return say


def _stamps(files: list[str]) -> tuple:
    """Each file's (mtime, size), or None when it is missing (mid-save): what the poll compares."""
    stamps = []
    for f in files:
        try:
            info = os.stat(f)
            stamps.append((info.st_mtime_ns, info.st_size))
        except OSError:
            stamps.append(None)
    return tuple(stamps)


def _digest(files: list[str]) -> str:
    hasher = hashlib.sha256()
    for f in files:
        try:
            hasher.update(Path(f).read_bytes())
        except OSError:
            hasher.update(b"\0missing")
    return hasher.hexdigest()


def _run_once(files: list[str], cores: int, last: dict[str, float], say) -> None:
    """Plan and run the experiments once; print their headlines, or one line on an error."""
    started = time.perf_counter()
    try:
        configfile, _ = write_run_config(files)
        members = compose.expand_files(files).configs
    except SautiError as err:
        say(f"sauti watch: error: {err} (fix the file and save; still watching)")
        return
    ok = _snakemake(configfile, cores)
    seconds = time.perf_counter() - started
    if not ok:
        say(f"sauti watch: the run failed after {seconds:.1f} s (see above; still watching)")
        return
    for cfg in members:
        name = cfg["EXP"]["name"]
        path = Path(cfg["EXP"]["root"]) / name / "metrics.json"
        if not path.exists():
            continue
        say(f"{name}: {headline_change(read_json(path), last.get(name))} ({seconds:.1f} s)")
        last[name] = _headline_value(read_json(path))


def _headline_value(metrics: dict) -> float:
    return float((metrics.get("test") or {}).get(headline(metrics["type"]), float("nan")))


def headline_change(metrics: dict, before: float | None) -> str:
    """'UAR 0.921', or with an earlier value 'UAR 0.913 -> 0.921 (+0.008)'."""
    label = headline(metrics["type"]).upper()
    now = _headline_value(metrics)
    if before is None:
        return f"{label} {now:.3f}"
    return f"{label} {before:.3f} -> {now:.3f} ({now - before:+.3f})"


def _snakemake(configfile: Path, cores: int) -> bool:
    """One Snakemake run of sauti's workflow in this process; False when it failed (the sauti
    logger plugin has printed the failed job's one line)."""
    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import (
        ConfigSettings,
        DAGSettings,
        ExecutionSettings,
        OutputSettings,
        ResourceSettings,
    )
    from snakemake_interface_common.plugin_registry.plugin import SettingsBase

    # sauti's terminal view, as in the default profile (the plugin has no settings of its own)
    output = OutputSettings(show_failed_logs=True, log_handler_settings={"sauti": SettingsBase()})
    try:
        with SnakemakeApi(output) as api:
            workflow = api.workflow(
                resource_settings=ResourceSettings(cores=cores),
                config_settings=ConfigSettings(configfiles=[Path(configfile).resolve()]),
                snakefile=SNAKEFILE,
                workdir=Path.cwd(),
            )
            dag = workflow.dag(dag_settings=DAGSettings(force_incomplete=True))
            dag.execute_workflow(
                executor="local",
                execution_settings=ExecutionSettings(use_threads=True, latency_wait=5),
            )
        return True
    except KeyboardInterrupt:
        raise
    except BaseException:  # noqa: BLE001  (a failed job or workflow: the plugin said why)
        return False
    finally:
        # SIGTERM (a supervisor, a script) ends the watch like Ctrl-C: one line, exit code 0.
        # Set after every run, before its headline is printed: Snakemake's scheduler installs
        # its own handler, which does nothing once the run is over.
        signal.signal(signal.SIGTERM, signal.default_int_handler)
