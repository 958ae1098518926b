"""What every rule script does around its stage call: log to the rule's log file, and turn a
SautiError into one clear line in that log (no traceback) and a failing exit code.

Why redirect stderr: progress bars (`sauti.progress`) and library warnings then land in the
job's log instead of interleaving on the terminal of a -j8 run. The terminal view (the sauti
logger plugin, `sauti.terminal`) reads the job's error line (`ERROR sauti: ...`) from the log
and its progress from `<log>.progress`, so the job itself prints nothing on the terminal: the
message appears once, with the stage and the log's path, and a crash's traceback stays in the log.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time

from . import progress
from .errors import SautiError


@contextlib.contextmanager
def stage_logging(log_path: str, stage: str):
    """Run a stage with logging and stderr sent to `log_path`; exit(1) with one line on SautiError."""
    real_stderr = sys.stderr
    status = progress.status_path_for(log_path)
    status.unlink(missing_ok=True)  # a line from an earlier attempt is not this job's progress
    progress.report_to(status)
    with open(log_path, "w", encoding="utf-8", buffering=1) as log_file:
        sys.stderr = log_file
        handler = logging.StreamHandler(log_file)
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S")
        )
        root = logging.getLogger()
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        started = time.perf_counter()
        try:
            yield
            logging.getLogger("sauti").info(
                "%s finished in %.1f s", stage, time.perf_counter() - started
            )
        except SautiError as err:
            logging.getLogger("sauti").error("%s", err)
            raise SystemExit(1) from None
        except KeyboardInterrupt:  # Ctrl-C on a plain `snakemake` run: a line, no traceback
            logging.getLogger("sauti").warning("%s interrupted", stage)
            raise SystemExit(130) from None
        except Exception as err:  # a bug: the traceback goes to the log, the terminal gets a line
            logging.getLogger("sauti").exception("%s crashed", stage)
            logging.getLogger("sauti").error(
                "%s crashed: %s: %s (a bug in sauti: the traceback is in this log)",
                stage, type(err).__name__, err,
            )  # fmt: skip
            raise SystemExit(1) from None
        finally:
            root.removeHandler(handler)
            sys.stderr = real_stderr
            progress.report_to(None)
            status.unlink(missing_ok=True)
