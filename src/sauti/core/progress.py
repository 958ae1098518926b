"""One progress helper for every long loop in a job: `bar(...)` is a tqdm bar that also tells
the terminal view how far the job is.

Why a status file: a Snakemake job is a separate process (locally a child, on a cluster another
machine), and its stderr goes to the job's log. The job's bar keeps writing there as before, and
each refresh also replaces one short line in `<log>.progress` next to the log; the sauti logger
plugin (`sauti.app.terminal`) polls that file for every running job. A file is the transport that
works the same for local jobs and cluster jobs on a shared file system, needs no socket, and
leaves nothing behind that matters (a stale line is ignored once the job has finished).

Usage, exactly like tqdm:
    for clip in progress.bar(clips, total=len(clips), desc="features os", unit="clip"): ...
    epochs = progress.bar(range(1, n + 1), desc="train mlp", unit="epoch")
    for epoch in epochs: ...; epochs.set_postfix(loss=f"{loss:.3f}")
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

from tqdm import tqdm

#: Where a thread's bars report to (set by `sauti.core.stage_log.stage_logging` for a job's stage); per
#: thread because the light jobs run as threads of the Snakemake process, each with its own file.
_target = threading.local()


#: Set when the run is being stopped (SIGINT/SIGTERM in Snakemake's process, see
#: `sauti.core.stage_log.stop_threads_on_signals`): a job running as a thread cannot be killed,
#: so every bar checks it at each step and ends the job there, before it writes anything.
STOPPING = threading.Event()


class Stopped(Exception):
    """The run is being stopped; raised by a bar in a job running as a thread."""


def report_to(path: str | Path | None) -> None:
    """Send the status line of every following bar of this thread to `path` (None: log only)."""
    _target.path = Path(path) if path is not None else None


def status_path_for(log_path: str | Path) -> Path:
    """The status file that belongs to a job's log file (the plugin and the job agree on it)."""
    return Path(f"{log_path}.progress")


def bar(iterable=None, total=None, desc: str = "", unit: str = "it", **kwargs) -> tqdm:
    """A tqdm bar on stderr (the job's log) that also writes the job's status line."""
    kwargs.setdefault("file", sys.stderr)
    kwargs.setdefault("mininterval", 1.0)
    kwargs.setdefault("dynamic_ncols", False)
    return _Bar(iterable, total=total, desc=desc, unit=unit, **kwargs)


def status_line(n: int, total: int | None, desc: str, unit: str, rate, postfix) -> str:
    """'features os 312/480 clips, 0:42 left, loss=0.41' from a bar's counters."""
    text = f"{desc} {n}/{total} {unit}s" if total else f"{desc} {n} {unit}s"
    if unit == "epoch" and total:
        text = f"{desc} epoch {n}/{total}"
    if total and rate and n < total:
        text += f", {tqdm.format_interval((total - n) / rate)} left"
    if postfix:
        text += f", {postfix}"
    return text.strip()


class _Bar(tqdm):
    """tqdm that mirrors each refresh into the status file (never failing the job over it) and
    stops at the next step once the run is being stopped (STOPPING)."""

    def __iter__(self):
        for item in super().__iter__():
            if STOPPING.is_set():
                raise Stopped
            yield item

    def update(self, n=1):
        if STOPPING.is_set():
            raise Stopped
        return super().update(n)

    def display(self, msg=None, pos=None):
        shown = super().display(msg, pos)
        status_path = getattr(_target, "path", None)
        if status_path is not None:
            info = self.format_dict
            line = status_line(
                info["n"], info["total"], info["prefix"] or "", info["unit"], info["rate"],
                info["postfix"],
            )  # fmt: skip
            _write_status(status_path, line)
        return shown


def _write_status(path: Path, line: str) -> None:
    """Replace the status file in one rename, so the reader never sees half a line."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        tmp.write_text(line + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass  # progress is a courtesy: a full disk must not fail the stage
