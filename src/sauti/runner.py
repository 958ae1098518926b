"""What every rule script does around its stage call: log to the rule's log file, and turn a
SautiError into one clear line (no traceback) and a failing exit code.

Why redirect stderr: progress bars (tqdm) and library warnings then land in the job's log,
which Snakemake points to when a job fails, instead of interleaving on the terminal of a -j8 run.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time

from .errors import SautiError


@contextlib.contextmanager
def stage_logging(log_path: str, stage: str):
    """Run a stage with logging and stderr sent to `log_path`; exit(1) with one line on SautiError."""
    real_stderr = sys.stderr
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
            print(f"sauti {stage}: error: {err}", file=real_stderr)
            sys.stderr = real_stderr
            raise SystemExit(1) from None
        finally:
            root.removeHandler(handler)
            sys.stderr = real_stderr
