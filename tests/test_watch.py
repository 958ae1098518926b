"""`sauti watch`: a real watch process on real speech, driven by editing its experiment file.

What a user sees is tested: the first run's headline; after a MODEL edit only train, evaluate
and report run and the headline shows its change; a typo gives one line and the watch goes on;
a revert runs only the report; Ctrl-C ends it with a line and exit code 0.
"""

from __future__ import annotations

import queue
import re
import signal
import subprocess
import sys
import threading
import time

import pytest
import yaml
from workflow_support import gender_experiment, small_table, write, write_csv

pytestmark = pytest.mark.workflow
HEADLINE = re.compile(r"^exp: UAR (\d\.\d{3})(?: -> (\d\.\d{3}) \(([+-]\d\.\d{3})\))? \(")


class Watch:
    """A `sauti watch` subprocess whose output lines are read as they come."""

    def __init__(self, workdir, configfile):
        # Ctrl-C must reach the watch even when the test runner ignores SIGINT (a shell ignores
        # it for `cmd &` in a script, children inherit that, and Python then leaves it
        # ignored): a handler set here is the default disposition in the child after exec.
        kept = signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "sauti.app.cli", "watch", str(configfile), "-j", "2"],
                cwd=workdir,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        finally:
            signal.signal(signal.SIGINT, kept)
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def until(self, pattern: str, timeout: float = 300) -> list[str]:
        """The lines up to and including the first one matching `pattern` (regex)."""
        got, deadline = [], time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                assert self.process.poll() is None, "watch ended:\n" + "\n".join(self.seen)
                continue
            got.append(line)
            self.seen.append(line)
            if re.search(pattern, line):
                return got
        raise AssertionError(f"no line matching {pattern!r} in:\n" + "\n".join(self.seen))


def _save(path, cfg: dict) -> None:
    time.sleep(0.05)  # a distinct mtime on coarse file systems
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")


def test_watch_reruns_what_an_edit_changes_and_survives_a_typo(tmp_path, demo_dir):
    corpus = write_csv(tmp_path, small_table(demo_dir, per_speaker=4))
    cfg = gender_experiment(corpus)
    configfile = write(tmp_path, cfg)
    watch = Watch(tmp_path, configfile)
    try:
        first = watch.until(r"^exp: UAR")
        assert HEADLINE.match(first[-1]) and HEADLINE.match(first[-1]).group(2) is None
        before = float(HEADLINE.match(first[-1]).group(1))

        _save(configfile, {**cfg, "MODEL": {"type": "tree"}})
        changed = watch.until(r"^exp: UAR")
        planned = next(line for line in changed if "jobs to run" in line)
        assert "train 1" in planned and "evaluate 1" in planned and "report 1" in planned
        assert "features" not in planned and "split" not in planned
        match = HEADLINE.match(changed[-1])
        assert match and float(match.group(1)) == before
        after = float(match.group(2))
        assert float(match.group(3)) == pytest.approx(after - before, abs=0.0015)

        _save(configfile, {**cfg, "MODEL": {"type": "svm", "C_vall": 2}})
        error = watch.until(r"error|UAR")
        assert "C_vall" in error[-1] and "did you mean 'C_val'" in error[-1], error
        assert "still watching" in error[-1]

        _save(configfile, cfg)  # back to the first model: only the report is made again
        reverted = watch.until(r"^exp: UAR")
        planned = next(line for line in reverted if "jobs to run" in line)
        assert "train" not in planned and "report 1" in planned
        match = HEADLINE.match(reverted[-1])
        assert match and float(match.group(1)) == after and float(match.group(2)) == before
    finally:
        watch.process.send_signal(signal.SIGINT)
        code = watch.process.wait(timeout=60)
    watch.reader.join(timeout=10)
    while not watch.lines.empty():
        watch.seen.append(watch.lines.get())
    assert code == 0 and watch.seen[-1] == "sauti watch: stopped", watch.seen[-5:]
    assert not any("Traceback" in line for line in watch.seen), "\n".join(watch.seen)
