"""Who is running in this folder: `sauti run`'s own run record, and Snakemake's locks explained.

Why: Snakemake locks the files a run reads and writes (`.snakemake/locks/`), but the lock does
not say which process holds it. A second run then fails with advice to `--unlock`, which breaks
the first run if it is still going; and a killed run leaves its lock behind. So `sauti run`
writes a small record (its pid, start time, experiments, Snakemake's pid, which stage folders
belong to which experiment) for the length of the run, and a live Snakemake process is found by
its working directory in /proc. With both, a lock is either explained ("run 1234, started
10:02, experiments a, b, is still running") or, when no Snakemake process works in the folder
any more, removed with a one-line note.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sauti.core.errors import SautiError
from sauti.core.fileio import write_json
from sauti.workflow.registry import registry_from_files

#: Where `sauti run` keeps its records, inside Snakemake's own folder of the working directory.
RECORDS = Path(".snakemake") / "sauti-runs"
LOCKS = Path(".snakemake") / "locks"
#: The variable through which the Snakemake process (and the logger plugin in it) finds the record.
RECORD_ENV = "SAUTI_RUN_RECORD"
#: Seconds Snakemake gets to cancel its jobs and release its locks after a stop, before SIGKILL.
STOP_GRACE_S = 20


class Process(Protocol):
    """The Snakemake process `supervise` watches: a subprocess.Popen, or a run in the warm
    worker (`sauti.app.worker.WorkerRun`); either way the leader of its own process group."""

    pid: int

    def wait(self, timeout: float | None = None) -> int:
        """Its exit code; raises subprocess.TimeoutExpired when it runs after `timeout` s."""


def popen(command: list[str], env: dict[str, str]) -> Process:
    """Start `command` as a subprocess in a session (and process group) of its own."""
    return subprocess.Popen(command, env=env, start_new_session=True)


def supervise(
    command: list[str],
    workdir: Path,
    files: list[str],
    spawn: Callable[[list[str], dict[str, str]], Process] = popen,
) -> int:
    """Run Snakemake (`command`) as its own process group, with this run's record, and end the
    whole group when `sauti run` is stopped, so no job keeps running orphaned. `spawn` starts
    it (`sauti run` passes one that asks the warm worker first, `sauti.app.worker`).

    Stopping sends SIGTERM to the group: the jobs end at once and Snakemake, which takes SIGTERM
    as "finish what runs", sees them end, removes their incomplete outputs and releases its
    locks; whatever is left after STOP_GRACE_S gets SIGKILL. A `kill -9` of `sauti run` cannot be
    forwarded, so a small watchdog process does the same when `sauti run` is gone.
    """
    note = clear_stale_locks(workdir)
    if note:
        print(note, file=sys.stderr)
    record = record_path(workdir)
    experiments, stages = _experiment_stages(files)
    write_record(record, experiments, stages)
    stopping: dict = {}

    def stop(signum, _frame):
        if not stopping:
            stopping.update(signal=signum, at=time.monotonic())
            _mark_stopping(record)
            _signal_group(child.pid, signal.SIGTERM)

    watchdog = None
    try:
        env = {**os.environ, RECORD_ENV: str(record)}
        child = spawn(command, env)
        add_snakemake_pid(record, child.pid)
        watchdog = subprocess.Popen(
            [sys.executable, "-c", _WATCHDOG, str(os.getpid()), str(child.pid)],
            start_new_session=True,  # a Ctrl-C meant for `sauti run` must not end it
        )
        old = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            while True:
                try:
                    code = child.wait(timeout=0.5)
                    break
                except subprocess.TimeoutExpired:
                    if stopping and time.monotonic() - stopping["at"] > STOP_GRACE_S:
                        _signal_group(child.pid, signal.SIGKILL)
        finally:
            for sig, handler in old.items():
                signal.signal(sig, handler)
        if stopping:
            _signal_group(child.pid, signal.SIGKILL)  # anything that outlived Snakemake
            name = signal.Signals(stopping["signal"]).name
            print(
                f"sauti: stopped on {name}: Snakemake and its jobs have ended; "
                "run the same command again to resume",
                file=sys.stderr,
            )
            return 128 + stopping["signal"]
        return code
    finally:
        if watchdog is not None:
            watchdog.kill()
            watchdog.wait()
        record.unlink(missing_ok=True)


#: Ends the run's process group (argv[2]) once `sauti run` (argv[1]) is gone (e.g. kill -9).
_WATCHDOG = """
import os, signal, sys, time
parent, group = int(sys.argv[1]), int(sys.argv[2])
while os.getppid() == parent:
    time.sleep(1)
try:
    os.killpg(group, signal.SIGTERM)
except OSError:
    pass
"""


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass  # the group has ended


def _mark_stopping(path: Path) -> None:
    """Tell the logger plugin that the jobs failing now were stopped, not broken."""
    record = read_record(path)
    if record is not None:
        record["stopping"] = True
        write_json(path, record)


def _experiment_stages(files: list[str]) -> tuple[list[str], dict[str, list[str]]]:
    """Experiment names, and 'stage/key' -> the experiments that use that stage folder."""
    try:
        registry = registry_from_files(files)
    except SautiError:
        return [], {}
    stages: dict[str, list[str]] = {}
    for plan in registry.plans:
        for stage in plan.stages():
            names = stages.setdefault(f"{stage.stage}/{stage.key}", [])
            if plan.name not in names:
                names.append(plan.name)
    return [p.name for p in registry.plans], stages


@dataclass(frozen=True)
class Holder:
    """A live Snakemake process working in the folder, with what its run record adds."""

    pid: int
    started: float
    sauti_pid: int | None = None
    experiments: tuple[str, ...] = ()

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.started))
        who = f"sauti run pid {self.sauti_pid} (Snakemake pid {self.pid})"
        if self.sauti_pid is None:
            who = f"Snakemake pid {self.pid}"
        names = f", experiments {', '.join(self.experiments)}" if self.experiments else ""
        return f"{who}, started {when}{names}"


def record_path(workdir: str | Path, pid: int | None = None) -> Path:
    return Path(workdir) / RECORDS / f"run-{pid or os.getpid()}.json"


def write_record(path: Path, experiments: list[str], stages: dict[str, list[str]]) -> None:
    """The record of this `sauti run` (before Snakemake starts; `add_snakemake_pid` follows)."""
    write_json(
        path,
        {
            "pid": os.getpid(),
            "started": process_start(os.getpid()),
            "experiments": experiments,
            "stages": stages,
            "snakemake_pid": None,
        },
    )


def add_snakemake_pid(path: Path, pid: int) -> None:
    record = json.loads(path.read_text(encoding="utf-8"))
    record["snakemake_pid"] = pid
    write_json(path, record)


def read_record(path: str | Path | None) -> dict | None:
    """A run record, or None when there is none (or it is being replaced right now)."""
    if not path:
        return None
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def experiments_of(record: dict | None, path: str) -> list[str]:
    """Experiments whose stage folder (`cache/<stage>/<key>`) holds `path` (an output or log)."""
    if not record:
        return []
    parts = Path(path).parts
    for i in range(len(parts) - 2):
        if parts[i] == "cache":
            return record.get("stages", {}).get(f"{parts[i + 1]}/{parts[i + 2]}", [])
    return []


def holders(workdir: str | Path) -> list[Holder] | None:
    """Live Snakemake processes whose working directory is `workdir` (None: cannot tell here)."""
    proc = Path("/proc")
    if not (proc / "self" / "cwd").exists():
        return None
    target = Path(workdir).resolve()
    records = _records(target)
    found = []
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            named = (entry / "comm").read_text().strip() == "snakemake"  # a worker's child
            if not (named or _is_snakemake(argv)) or Path(os.readlink(entry / "cwd")) != target:
                continue
            pid = int(entry.name)
            started = process_start(pid)
        except (OSError, ValueError):
            continue  # ended while we looked, or not ours to read
        record = next((r for r in records if r.get("snakemake_pid") == pid), None)
        found.append(
            Holder(
                pid,
                started,
                record["pid"] if record else None,
                tuple(record["experiments"]) if record else (),
            )
        )
    return found


def clear_stale_locks(workdir: str | Path) -> str | None:
    """Remove Snakemake's locks when no Snakemake process works in `workdir`; return a note."""
    dead = [r for r in _records(Path(workdir)) if not record_alive(r)]
    for record in dead:
        record_path(workdir, record["pid"]).unlink(missing_ok=True)
    locks = sorted((Path(workdir) / LOCKS).glob("*.lock"))
    if not locks:
        return None
    live = holders(workdir)
    if live is None or live:
        return None  # a live run holds them (Snakemake explains on conflict), or we cannot tell
    for lock in locks:
        lock.unlink(missing_ok=True)
    left_by = "a run that is no longer running"
    if dead:
        last = max(dead, key=lambda r: r.get("started") or 0)
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(last.get("started") or 0))
        left_by = f"sauti run pid {last['pid']} (started {when}), which is no longer running"
    return f"sauti: removed the lock left in {Path(workdir) / LOCKS} by {left_by}"


def lock_message(workdir: str | Path) -> str:
    """The line shown instead of Snakemake's LockException (which advises --unlock)."""
    live = holders(workdir) or []
    if not live:
        return (
            "sauti: error: this folder is locked by a run that has just ended or was killed: "
            "run the same command again (sauti run removes a lock whose run is gone)"
        )
    others = "; ".join(h.describe() for h in live)
    return (
        f"sauti: error: another run shares stages with this one and is still running: {others}. "
        "Wait for it to finish (or stop it), then run again; do not use --unlock while it runs"
    )


def process_start(pid: int) -> float:
    """When a process started (seconds since the epoch), from /proc; now where /proc is absent."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        ticks = int(stat.rsplit(")", 1)[1].split()[19])
        boot = next(
            float(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime")
        )
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return time.time()


def _is_snakemake(argv: list[bytes]) -> bool:
    """`python -m snakemake ...` or a `snakemake` script (not an editor showing a Snakefile)."""
    words = [a.decode(errors="replace") for a in argv[:4]]
    if any(Path(w).name == "snakemake" for w in words[:2]):
        return True
    return "-m" in words and words[words.index("-m") + 1 : words.index("-m") + 2] == ["snakemake"]


def record_alive(record: dict) -> bool:
    """Whether the `sauti run` of a record still runs (same pid and the same start time)."""
    pid = record.get("pid")
    if not alive(pid):
        return False
    if Path("/proc/self/stat").exists() and record.get("started"):
        return abs(process_start(pid) - float(record["started"])) < 5  # not a reused pid
    return True


def alive(pid) -> bool:
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _records(workdir: Path) -> list[dict]:
    folder = workdir / RECORDS
    records = [read_record(p) for p in sorted(folder.glob("run-*.json"))]
    return [r for r in records if r and isinstance(r.get("pid"), int)]
