"""A process that imports sauti freezes its objects at exit (no last garbage-collection walk over
the scientific stack) and still flushes what it wrote: logging's handlers, open files closed by
reference counting, and atexit functions registered before and after the import."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_exit_freezes_objects_and_still_flushes_everything(tmp_path):
    log_file, data_file, marks = tmp_path / "job.log", tmp_path / "data.txt", tmp_path / "marks"
    script = textwrap.dedent(
        f"""
        import atexit, gc, logging
        marks = open({str(marks)!r}, "w")
        # registered before sauti's: atexit runs it after sauti's function
        atexit.register(lambda: marks.write(f"frozen at exit: {{gc.get_freeze_count()}}\\n"))
        import sauti
        import pandas  # a share of the stack a job holds
        atexit.register(lambda: marks.write(f"frozen before sauti's: {{gc.get_freeze_count()}}\\n"))
        logging.basicConfig(filename={str(log_file)!r}, level=logging.INFO)
        logging.getLogger("sauti").info("written by the job")
        data = open({str(data_file)!r}, "w")
        data.write("x" * 100)  # buffered: reaches the file when `data` is finalized
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(": ") for line in marks.read_text().splitlines())
    assert lines["frozen before sauti's"] == "0"
    assert int(lines["frozen at exit"]) > 10_000  # pandas' objects among them
    assert "written by the job" in log_file.read_text()
    assert data_file.read_text() == "x" * 100
