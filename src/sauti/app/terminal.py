"""What a run shows on the terminal (the sauti Snakemake logger plugin's behaviour).

Why sauti's own view instead of Snakemake's text or `snakemake-logger-plugin-rich`: the job's own
progress (clips done and time left, epoch and loss, SSL round) lives inside the job process, and
neither of those can see it; the rich plugin also prints a failed job's whole log. Here:
- a terminal (TTY) gets a live list of running jobs, each with its status line from
  `sauti.core.progress` (polled from `<log>.progress`), and every finished job collapses to one line;
- anything else (CI, a file) gets plain text: one line per finished job;
- a failed job is at most three lines: sauti's one-line error with its hint (read from the job's
  log), which stage of which experiment, the job's log; at the end one line with Snakemake's own
  log file, which keeps the full text (tracebacks, CalledProcessError) for whoever needs it;
- Snakemake's LockException becomes a line naming the run that holds the folder (`sauti.workflow.runs`);
- dry runs, --verbose and --debug-dag keep Snakemake's own text (job tables, reasons).
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from sauti.core import progress
from sauti.workflow import runs

#: The line `sauti.core.stage_log.stage_logging` writes into a job's log when the stage fails.
_ERROR_LINE = re.compile(r"\bERROR sauti: (.*)$")
#: Snakemake's informative lines a sauti run keeps (everything else is in Snakemake's log file).
_KEEP_INFO = ("Nothing to be done",)
#: Snakemake's error text about a failed job (a script's exit status, a `run:` block's
#: StageFailed from sauti.core.stage_log, the closing summary): the job_error record says it shorter.
_JOB_FAILURE_TEXT = ("CalledProcessError", "StageFailed", "job execution failed")


@dataclass
class Job:
    rule: str
    label: str
    logs: list[str]
    started: float = field(default_factory=time.monotonic)


class TerminalView:
    """Turns Snakemake's log records into sauti's terminal text (live on a TTY, else plain)."""

    def __init__(self, stream, live: bool, record_path: str | None = None):
        self.stream = stream
        self.record_path = record_path
        self.record = runs.read_record(record_path)
        self.jobs: dict[int, Job] = {}
        self.total = 0
        self.finished = 0
        self.failed: list[str] = []  # rules of failed jobs
        self.stopped_by: str | None = None  # "workflow" (an error outside jobs) or "lock"
        self.snakemake_log: str | None = None
        self.started = time.monotonic()
        self.console = self.live = None
        if live:
            from rich.console import Console
            from rich.live import Live

            self.console = Console(file=stream, highlight=False)
            self.live = Live(
                get_renderable=self._running_jobs,
                console=self.console,
                refresh_per_second=2,
                transient=True,
                redirect_stdout=False,
                redirect_stderr=False,
            )

    # ------------------------------------------------------------------ records in

    def handle(self, record: logging.LogRecord) -> None:
        event = str(getattr(record, "event", "") or "")
        if event == "job_info":
            self._job_info(record)
        elif event == "job_finished":
            self._job_finished(record.job_id)
        elif event == "job_error":
            self._job_error(record)
        elif event == "group_error":
            for info in getattr(record, "job_error_info", []):
                self._report_failure(info["rule_name"], info.get("log") or [], info.get("output"))
        elif event == "run_info":
            self._run_info(getattr(record, "stats", {}))
        elif event in ("", "error"):
            self._message(record)

    def close(self) -> None:
        if self.live is not None and self.live.is_started:
            self.live.stop()
        if self._stopping():
            return
        log = self.snakemake_log or _newest_snakemake_log()
        where = f"; Snakemake's own log: {log}" if log else ""
        if self.failed:
            count = len(self.failed)
            self._print(f"sauti: stopped: {count} job{'s' * (count > 1)} failed{where}", "red")
        elif self.stopped_by == "workflow" and where:
            self._print(f"sauti: stopped{where}", "red")
        elif self.finished:
            took = _duration(time.monotonic() - self.started)
            self._print(f"sauti: {self.finished} jobs done in {took}", "green")

    # ------------------------------------------------------------------ events

    def _run_info(self, stats: dict) -> None:
        self.total = int(stats.get("total", 0))
        counts = ", ".join(f"{rule} {n}" for rule, n in sorted(stats.items()) if rule != "total")
        self._print(f"sauti: {self.total} jobs to run: {counts}", "bold")

    def _job_info(self, record) -> None:
        logs = list(getattr(record, "log", []) or [])
        outputs = list(getattr(record, "output", []) or [])
        self.jobs[record.jobid] = Job(
            record.rule_name, self._label(record.rule_name, logs + outputs, record), logs
        )
        if self.live is not None and not self.live.is_started:
            self.live.start()

    def _job_finished(self, jobid: int) -> None:
        job = self.jobs.pop(jobid, None)
        if job is None:
            return
        self.finished += 1
        count = f"[{self.finished}/{self.total}] " if self.total else ""
        took = _duration(time.monotonic() - job.started)
        self._print(f"{count}done  {job.label}  ({took})", "green" if self.live else None)

    def _job_error(self, record) -> None:
        job = self.jobs.pop(record.jobid, None)
        logs = list(getattr(record, "log", []) or []) or (job.logs if job else [])
        self._report_failure(record.rule_name, logs, getattr(record, "output", []))

    def _report_failure(self, rule: str, logs: list[str], outputs) -> None:
        """Two lines: sauti's one-line error (or the log's last line), and where it happened."""
        if self._stopping():
            return  # `sauti run` was stopped: these jobs were ended, not broken (it says so)
        self.failed.append(rule)
        reason = _error_from_logs(logs)
        where = self._label(rule, list(logs) + list(outputs or []), None)
        log_text = f"; full log: {logs[0]}" if logs else ""
        self._print(f"sauti {rule}: error: {reason}", "bold red")
        self._print(f"  failed: stage {where}{log_text}", "red")

    def _message(self, record: logging.LogRecord) -> None:
        text = record.getMessage() if record.msg is not None else ""
        if text.startswith("Complete log(s):"):
            self.snakemake_log = _relative(text.split(":", 1)[1].strip())
            return
        if record.levelno >= logging.ERROR:
            if self._stopping():
                return  # `sauti run` was stopped and says so itself
            if "LockException" in text or "cannot be locked" in text:
                self._print(runs.lock_message(os.getcwd()), "bold red")
                self.stopped_by = "lock"
            elif any(mark in text for mark in _JOB_FAILURE_TEXT):
                pass  # a job's failure: reported from its job_error record, full text in the log
            elif not self.failed and not self.stopped_by:
                # (after a failed job, Snakemake's follow-up text is in its log only)
                self.stopped_by = "workflow"
                self._print(_short(text), "red")
        elif record.levelno >= logging.WARNING:
            self._print(text.strip(), "yellow")
        elif text.startswith(_KEEP_INFO):
            self._print(text.strip(), None)

    def _stopping(self) -> bool:
        """Whether `sauti run` is ending this run on a signal (its record says so)."""
        record = runs.read_record(self.record_path)
        return bool(record and (record.get("stopping") or not runs.record_alive(record)))

    # ------------------------------------------------------------------ text out

    def _label(self, rule: str, paths: list[str], record) -> str:
        """'features_shard shard 1 (exp_a, exp_b)': the rule, its wildcards other than the stage
        key, and the experiments its stage folder serves (else the key)."""
        wildcards = dict(getattr(record, "wildcards", None) or {})
        words = [rule] + [
            str(v) if k == "name" else f"{k} {v}" for k, v in wildcards.items() if k != "key"
        ]
        for path in paths:
            names = runs.experiments_of(self.record, path)
            if names:
                return f"{' '.join(words)} ({', '.join(names)})"
            key = _stage_key(path)
            if key:
                return f"{' '.join(words)} {key}"
        return " ".join(words)

    def _running_jobs(self):
        """The live part: one line per running job with its own progress, and a total."""
        from rich.table import Table

        grid = Table.grid(padding=(0, 2))
        now = time.monotonic()
        for job in list(self.jobs.values()):
            status = _read_status(job.logs)
            grid.add_row(
                f"[cyan]▸ {job.label}[/]", status or "[dim]running[/]",
                f"[dim]{_duration(now - job.started)}[/]",
            )  # fmt: skip
        total = f"{self.finished}/{self.total}" if self.total else str(self.finished)
        running = len(self.jobs)
        grid.add_row(
            f"[bold]{total} jobs done[/], {running} running", "",
            f"[dim]{_duration(now - self.started)}[/]",
        )  # fmt: skip
        return grid

    def _print(self, text: str, style: str | None) -> None:
        if self.console is not None:
            self.console.print(text, style=style, markup=False, highlight=False, soft_wrap=True)
        else:
            self.stream.write(text + "\n")
            self.stream.flush()


def _error_from_logs(logs: list[str]) -> str:
    """The stage's own error line, else the last line of its log, else a pointer to Snakemake."""
    last = ""
    for log in logs:
        try:
            lines = Path(log).read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
        for line in reversed(lines):
            found = _ERROR_LINE.search(line)
            if found:
                return found.group(1)
        last = last or next((x.strip() for x in reversed(lines) if x.strip()), "")
    if last:
        return f"the job failed; its log ends with: {last[-300:]}"
    return "the job failed before writing its log (Snakemake's own log has the details)"


def _short(text: str, limit: int = 3) -> str:
    """Snakemake's error text without its file/line trace, at most `limit` lines."""
    lines = [x for x in text.strip().splitlines() if x.strip() and not x.startswith("  File ")]
    return "\n".join(lines[:limit])


def _newest_snakemake_log() -> str | None:
    """The log file Snakemake writes for this run (the newest in the working directory's)."""
    logs = sorted(Path(".snakemake", "log").glob("*.snakemake.log"), key=os.path.getmtime)
    return _relative(str(logs[-1])) if logs else None


def _relative(path: str) -> str:
    """A path inside the working directory as a relative one (shorter on the terminal)."""
    here = os.getcwd() + os.sep
    return path[len(here) :] if path.startswith(here) else path


def _read_status(logs: list[str]) -> str:
    for log in logs:
        try:
            return progress.status_path_for(log).read_text(encoding="utf-8").strip()
        except OSError:
            continue
    return ""


def _stage_key(path: str) -> str:
    """'abc123def456' from '.../cache/<stage>/<key>/...' (the stage folder's key)."""
    parts = Path(path).parts
    for i in range(len(parts) - 2):
        if parts[i] == "cache":
            return parts[i + 2]
    return ""


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    return (
        f"{seconds // 60}:{seconds % 60:02d} min" if seconds < 3600 else f"{seconds / 3600:.1f} h"
    )


def wants_live(stream) -> bool:
    """A live view only on a real terminal that can redraw (not CI, a pipe, a file, TERM=dumb)."""
    return (
        hasattr(stream, "isatty")
        and stream.isatty()
        and os.environ.get("TERM", "") not in ("", "dumb")
        and "CI" not in os.environ
    )


def default_stream(settings) -> object:
    return sys.stdout if getattr(settings, "stdout", False) else sys.stderr
