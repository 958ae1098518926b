"""What every rule script does around its stage call: log to the rule's log file, and turn a
SautiError into one clear line in that log (no traceback) and a failing exit code.

Why redirect stderr: progress bars (`sauti.core.progress`) and library warnings then land in the
job's log instead of interleaving on the terminal of a -j8 run. The terminal view (the sauti
logger plugin, `sauti.app.terminal`) reads the job's error line (`ERROR sauti: ...`) from the log
and its progress from `<log>.progress`, so the job itself prints nothing on the terminal: the
message appears once, with the stage and the log's path, and a crash's traceback stays in the log.

Jobs in threads: the light rules (split, evaluate, report, the summaries) run inside the
Snakemake process (`run:` blocks, `force-use-threads`), so several jobs may log at once in one
process. With `in_thread=True` each job's records reach only its own log (a handler filtered by
the job's thread), its stderr too (`sys.stderr` becomes a router keyed by thread, installed
once), and a failure raises `StageFailed` for Snakemake to record instead of ending the process.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import time

from sauti.core import progress
from sauti.core.errors import SautiError


class StageFailed(Exception):
    """A job run in a thread failed; its one-line reason is already in the job's log."""


class _ThreadStderr:
    """`sys.stderr` of a process whose jobs run in threads: a job thread's writes go to its log,
    every other thread's to the real stderr."""

    def __init__(self, real):
        self.real = real
        self.targets: dict[int, object] = {}

    def _target(self):
        return self.targets.get(threading.get_ident(), self.real)

    def write(self, text: str) -> int:
        return self._target().write(text)

    def flush(self) -> None:
        self._target().flush()

    def __getattr__(self, name):  # isatty, encoding, fileno ... of where this thread writes
        return getattr(self._target(), name)


_ROUTER_LOCK = threading.Lock()


def _thread_stderr() -> _ThreadStderr:
    """The process's stderr router, installed on first use and kept (other jobs may be using it)."""
    with _ROUTER_LOCK:
        if not isinstance(sys.stderr, _ThreadStderr):
            sys.stderr = _ThreadStderr(sys.stderr)
        return sys.stderr


def stop_threads_on_signals() -> None:
    """Make SIGINT and SIGTERM first tell the jobs running as threads to stop (progress.STOPPING:
    their next bar step ends them), then do what they did before (Snakemake's handlers). Called
    in Snakemake's main thread once Snakemake has set its own handlers (the Snakefile's onstart):
    without it a stopped run would wait for an in-process extraction to finish. `sauti watch`
    runs Snakemake again and again in one process: a handler installed by an earlier run is
    replaced, not wrapped again (its `__wrapped__` is what it calls)."""
    progress.STOPPING.clear()
    for signum in (signal.SIGINT, signal.SIGTERM):
        current = signal.getsignal(signum)
        previous = getattr(current, "__wrapped__", current)

        def handler(number, frame, previous=previous):
            progress.STOPPING.set()
            if callable(previous):
                previous(number, frame)
            elif previous != signal.SIG_IGN:  # the default action: end the process by it
                signal.signal(number, signal.SIG_DFL)
                os.kill(os.getpid(), number)

        handler.__wrapped__ = previous
        signal.signal(signum, handler)


def carry_job_output(function):
    """`function` wrapped so that, run in a helper thread of a job in Snakemake's process (an
    extraction pool), its stderr and log records reach that job's log like the job's own, not
    the terminal. Outside a job thread it is `function` itself."""
    router = sys.stderr
    if not isinstance(router, _ThreadStderr) or threading.get_ident() not in router.targets:
        return function
    target = router.targets[threading.get_ident()]

    def in_job(*args, **kwargs):
        ident = threading.get_ident()
        router.targets[ident] = target
        try:
            return function(*args, **kwargs)
        finally:
            router.targets.pop(ident, None)

    return in_job


@contextlib.contextmanager
def stage_logging(log_path: str, stage: str, in_thread: bool = False):
    """Run a stage with logging and stderr sent to `log_path`; on a SautiError write one line and
    exit(1), or with `in_thread` (a job in Snakemake's process) raise StageFailed."""
    real_stderr = sys.stderr
    status = progress.status_path_for(log_path)
    status.unlink(missing_ok=True)  # a line from an earlier attempt is not this job's progress
    progress.report_to(status)
    ident = threading.get_ident()
    with open(log_path, "w", encoding="utf-8", buffering=1) as log_file:
        if in_thread:
            router = _thread_stderr()
            router.targets[ident] = log_file
        else:
            sys.stderr = log_file
        handler = logging.StreamHandler(log_file)
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S")
        )
        if in_thread:  # the job's thread and its helper threads (carry_job_output)
            handler.addFilter(lambda record: router.targets.get(record.thread) is log_file)
        root = logging.getLogger()
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        started = time.perf_counter()
        if in_thread:
            logging.getLogger("sauti").info(
                "%s runs in the workflow's process %d (a thread)", stage, os.getpid()
            )
        try:
            yield
            logging.getLogger("sauti").info(
                "%s finished in %.1f s", stage, time.perf_counter() - started
            )
        except SautiError as err:
            logging.getLogger("sauti").error("%s", err)
            if in_thread:
                raise StageFailed(f"{stage}: {err}") from None
            raise SystemExit(1) from None
        except progress.Stopped:  # a job in a thread, told to stop: nothing written
            logging.getLogger("sauti").warning("%s stopped: the run is being stopped", stage)
            if in_thread:
                raise StageFailed(f"{stage} stopped: the run is being stopped") from None
            raise SystemExit(130) from None
        except KeyboardInterrupt:  # Ctrl-C on a plain `snakemake` run: a line, no traceback
            logging.getLogger("sauti").warning("%s interrupted", stage)
            raise SystemExit(130) from None
        except Exception as err:  # a bug: the traceback goes to the log, the terminal gets a line
            logging.getLogger("sauti").exception("%s crashed", stage)
            logging.getLogger("sauti").error(
                "%s crashed: %s: %s (a bug in sauti: the traceback is in this log)",
                stage, type(err).__name__, err,
            )  # fmt: skip
            if in_thread:
                raise StageFailed(f"{stage} crashed: {type(err).__name__}: {err}") from None
            raise SystemExit(1) from None
        finally:
            root.removeHandler(handler)
            if in_thread:
                router.targets.pop(ident, None)
            else:
                sys.stderr = real_stderr
            progress.report_to(None)
            status.unlink(missing_ok=True)
