"""The warm worker behind `sauti run` (sauti.app.worker), driven as a user drives it, on real speech.

- the first run (no worker yet) starts one; the next run, after a MODEL change, goes through it
  (the worker's log names the run), prints the same lines and writes the same metrics as the
  same run without it; on a terminal the live view still shows (the child writes to the
  user's terminal, passed to it as a file descriptor);
- Ctrl-C or SIGTERM of `sauti run` ends the forked run's whole process group, leaves no lock,
  and the worker serves on; with no worker running, the run is a fork of `sauti run` itself
  (sauti.app.worker.fork_run), and a stop ends it the same way;
- a worker of other code is not used: the run goes on as a subprocess;
- a stale socket is replaced; `sauti worker stop` ends the worker; SAUTI_WORKER=0 (or CI) never
  starts one.
Each test has its own runtime folder (XDG_RUNTIME_DIR) and stops its workers at the end.
"""

from __future__ import annotations

import json
import os
import pty
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest
from workflow_support import gender_experiment, processes_in, small_table, write, write_csv

from sauti.app import worker
from sauti.workflow import runs

pytestmark = pytest.mark.workflow
TIMEOUT_S = 900


class Workers:
    """A private runtime folder for workers, the environment that points `sauti run` there,
    and the pids of the workers seen (all must be gone at the end)."""

    def __init__(self):
        # short: a UNIX socket's path has at most 107 bytes
        self.folder = Path(tempfile.mkdtemp(prefix="sw-"))
        self.env = {**os.environ, "SAUTI_WORKER": "1", "XDG_RUNTIME_DIR": str(self.folder)}
        self.pids: set[int] = set()

    def paths(self) -> dict[str, Path]:
        return worker.paths(worker.code_digest(self.env), self.env)

    def wait(self, timeout: float = 180) -> dict:
        """The status of the worker at this code's socket once it answers (it imports first)."""
        ends = time.monotonic() + timeout
        while time.monotonic() < ends:
            found = worker.status(self.env)
            if found:
                self.pids.add(found["pid"])
                return found
            time.sleep(0.2)
        logs = {p.name: p.read_text() for p in self.folder.glob("*/worker-*.log")}
        raise AssertionError(f"no worker answered (did the code change meanwhile?): {logs}")


@pytest.fixture
def workers():
    made = Workers()
    yield made
    stop = sauti(["worker", "stop"], Path.cwd(), made.env)
    assert stop.returncode == 0, stop.stderr
    ends = time.monotonic() + 30
    while any(alive(pid) for pid in made.pids) and time.monotonic() < ends:
        time.sleep(0.1)
    assert not [pid for pid in made.pids if alive(pid)], "a worker outlived its test"
    shutil.rmtree(made.folder, ignore_errors=True)


@pytest.fixture(scope="module")
def table(demo_dir) -> pd.DataFrame:
    return small_table(demo_dir)


def sauti(args: list[str], cwd: Path, env: dict, *more: str) -> subprocess.CompletedProcess:
    """`sauti ...` with this interpreter (so its code digest is the one this test computes)."""
    return subprocess.run(
        [sys.executable, "-m", "sauti.app.cli", *args, *more],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )


def run(workdir: Path, configfile: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    result = sauti(["run", str(configfile), "-j2"], workdir, env, *args)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    return result


def shown(result: subprocess.CompletedProcess) -> list[str]:
    """The lines a run printed, durations blanked."""
    text = result.stdout + result.stderr
    return [re.sub(r"\b\d+ s\b", "N s", line) for line in text.splitlines() if line.strip()]


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def runs_in_log(log: Path, workdir: Path) -> list[int]:
    """Pids of the runs the worker forked for `workdir`."""
    return [
        int(p) for p in re.findall(rf"run (\d+) in {re.escape(str(workdir))}\n", log.read_text())
    ]


def on_a_terminal(command: list[str], cwd: Path, env: dict) -> tuple[int, str]:
    """Run `command` with a pseudo-terminal as stdin, stdout and stderr; (exit code, output)."""
    master, slave = pty.openpty()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the terminal is closed once every process holding it has ended
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    return process.wait(timeout=TIMEOUT_S), out.decode(errors="replace")


# --------------------------------------------------------------------------- through the worker


def test_the_run_after_a_model_change_goes_through_the_worker_the_first_run_started(
    tmp_path, table, workers
):
    cfg = gender_experiment(write_csv(tmp_path, table))
    configfile = write(tmp_path, cfg)
    run(tmp_path, configfile, workers.env)
    where = workers.paths()
    assert where["lock"].exists()  # the worker holds it once `sauti run` has returned
    found = workers.wait()
    assert found["served"] == 0

    cfg["MODEL"]["C_val"] = 10.0
    write(tmp_path, cfg)
    through = run(tmp_path, configfile, workers.env)
    forked = runs_in_log(where["log"], tmp_path)
    assert len(forked) == 1, where["log"].read_text()
    assert f"run {forked[0]} ended with 0" in where["log"].read_text()
    metrics = json.loads((tmp_path / "results/exp/metrics.json").read_text())

    # the same run as a subprocess: same lines, same metrics
    without = run(tmp_path, configfile, {**workers.env, "SAUTI_WORKER": "0"}, "--forcerun", "train")
    assert len(runs_in_log(where["log"], tmp_path)) == 1  # this one did not use the worker
    assert json.loads((tmp_path / "results/exp/metrics.json").read_text()) == metrics
    assert shown(through) == shown(without)
    assert "sauti: 4 jobs to run: all 1, evaluate 1, report 1, train 1" in shown(through)
    assert "Traceback" not in through.stdout + through.stderr

    # reverted, on a terminal: only the report, with the live view (colours, cursor control)
    cfg["MODEL"].pop("C_val")
    write(tmp_path, cfg)
    env = {k: v for k, v in workers.env.items() if k != "CI"}
    code, out = on_a_terminal(
        [sys.executable, "-m", "sauti.app.cli", "run", str(configfile), "-j2"],
        tmp_path,
        {**env, "TERM": "xterm"},
    )
    assert code == 0, out[-3000:]
    assert len(runs_in_log(where["log"], tmp_path)) == 2
    assert "\x1b[" in out and "done  report" in out and "Traceback" not in out
    assert worker.status(workers.env)["served"] == 2


# --------------------------------------------------------------------------- stopping a run


@pytest.fixture(scope="module")
def long_corpus(tmp_path_factory, demo_dir) -> Path:
    """The whole demo corpus: its feature extraction runs long enough to act during it."""
    table = pd.read_csv(demo_dir / "demo.csv")
    table["file"] = [str((demo_dir / f).resolve()) for f in table["file"]]
    return write_csv(tmp_path_factory.mktemp("long"), table, "demo.csv")


@pytest.mark.parametrize(
    ("sig", "through"),
    [(signal.SIGINT, "worker"), (signal.SIGTERM, "worker"), (signal.SIGTERM, "sauti run")],
    ids=["ctrl-c", "sigterm", "sigterm-no-worker"],
)
def test_stopping_sauti_run_ends_the_forked_run_and_leaves_no_lock(
    tmp_path, long_corpus, workers, sig, through
):
    """Through the worker, or with none running through a fork of `sauti run` itself."""
    if through == "worker":
        worker.start_in_background(workers.env)
        found = workers.wait()
    configfile = write(tmp_path, gender_experiment(long_corpus, "long"))
    client = subprocess.Popen(
        [sys.executable, "-m", "sauti.app.cli", "run", str(configfile), "-j2"],
        cwd=tmp_path,
        env=workers.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        ends, record = time.monotonic() + 300, None
        while time.monotonic() < ends:  # until the features job reports progress
            assert client.poll() is None, client.stdout.read()
            record = runs.read_record(runs.record_path(tmp_path, client.pid))
            progress = list((tmp_path / "results/cache/features").glob("*/*.progress"))
            if progress and record and record.get("snakemake_pid"):
                break
            time.sleep(0.2)
        snakemake_pid = record["snakemake_pid"]
        assert parent(snakemake_pid) == (found["pid"] if through == "worker" else client.pid)
        assert snakemake_pid in [h.pid for h in runs.holders(tmp_path)]  # a live run, named

        client.send_signal(sig)
        out, _ = client.communicate(timeout=120)
    finally:
        if client.poll() is None:
            client.kill()
    assert client.returncode == 128 + sig, out
    assert f"stopped on {sig.name}" in out and "Traceback" not in out
    ends = time.monotonic() + 30
    while processes_in(tmp_path) and time.monotonic() < ends:
        time.sleep(0.2)
    assert processes_in(tmp_path) == []  # neither Snakemake nor a job is left
    assert not list((tmp_path / ".snakemake" / "locks").glob("*"))
    if through == "worker":
        assert f"run {snakemake_pid} ended with" in workers.paths()["log"].read_text()
        assert worker.status(workers.env)["pid"] == found["pid"]  # the worker serves on
    else:
        workers.wait()  # the stopped run still started a worker for the next one


def test_without_a_worker_the_fork_of_sauti_run_gives_snakemakes_exit_code(
    tmp_path, table, workers
):
    configfile = write(tmp_path, gender_experiment(write_csv(tmp_path, table)))
    results = {
        how: sauti(["run", str(configfile), "-j1", "--no-such-option"], tmp_path, env)
        for how, env in (
            ("fork", workers.env),
            ("subprocess", {**workers.env, "SAUTI_WORKER": "0"}),
        )
    }
    for how, result in results.items():
        assert result.returncode == 2, (how, result.stderr[-2000:])
        assert "unrecognized arguments: --no-such-option" in result.stderr, how
        assert "Traceback" not in result.stdout + result.stderr, how
    assert results["fork"].stderr.count("usage:") == 1  # nothing printed twice by the fork


def test_the_fork_leaves_the_commands_temporary_folders_to_the_command(tmp_path):
    """`sauti test` writes its config into a temporary folder and runs Snakemake; a forked
    Snakemake runs the atexit functions when it ends, but not the command's finalizers."""
    script = """
import sys, tempfile
from pathlib import Path
from sauti.app import worker
with tempfile.TemporaryDirectory() as folder:
    run = worker.fork_run([sys.executable, "-m", "snakemake", "--version"], {})
    assert run is not None, "not forked"
    assert run.wait(timeout=120) == 0
    print("kept" if Path(folder).is_dir() else "removed by the fork")
"""
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.splitlines()[-1] == "kept"


# --------------------------------------------------------------------------- when it is not used


def test_a_worker_of_other_code_is_not_used(tmp_path, table, workers):
    where = workers.paths()
    # a value read at import time is part of the digest: this worker imported "other code"
    threads = "3" if workers.env.get("OMP_NUM_THREADS") != "3" else "2"
    worker.start_in_background({**workers.env, "OMP_NUM_THREADS": threads}, where["sock"])
    found = workers.wait()
    assert found["digest"] != worker.code_digest(workers.env)

    configfile = write(tmp_path, gender_experiment(write_csv(tmp_path, table)))
    result = run(tmp_path, configfile, workers.env, "-n")
    assert "Traceback" not in result.stdout + result.stderr
    log = where["log"].read_text()
    assert f"refused a run in {tmp_path}: a client of other code" in log
    assert runs_in_log(where["log"], tmp_path) == []


def test_a_stale_socket_is_replaced_and_worker_stop_ends_the_worker(tmp_path, table, workers):
    where = workers.paths()
    where["sock"].parent.mkdir(mode=0o700, parents=True)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(where["sock"]))  # a socket file nobody listens on (a killed worker's)
    stale.close()

    configfile = write(tmp_path, gender_experiment(write_csv(tmp_path, table)))
    run(tmp_path, configfile, workers.env, "-n")  # refused connection: a subprocess as before
    found = workers.wait()  # ... and then a new worker in its place

    status = sauti(["worker", "status"], tmp_path, workers.env)
    assert f"sauti worker: pid {found['pid']} (this code)" in status.stdout
    stop = sauti(["worker", "stop"], tmp_path, workers.env)
    assert stop.stdout.strip() == f"sauti worker: stopped pid {found['pid']} (this code)"
    assert not alive(found["pid"]) and not where["sock"].exists()
    status = sauti(["worker", "status"], tmp_path, workers.env)
    assert status.stdout.strip() == "sauti worker: none running"


@pytest.mark.parametrize("switch", [{"SAUTI_WORKER": "0"}, {"SAUTI_WORKER": "", "CI": "true"}])
def test_sauti_worker_0_or_ci_never_starts_a_worker(tmp_path, table, workers, switch):
    configfile = write(tmp_path, gender_experiment(write_csv(tmp_path, table)))
    run(tmp_path, configfile, {**workers.env, **switch}, "-n")
    assert not (workers.folder / f"sauti-{os.getuid()}").exists()


def test_an_idle_worker_ends_by_itself(workers):
    worker.start_in_background({**workers.env, "SAUTI_WORKER_IDLE_S": "3"})
    found = workers.wait()
    ends = time.monotonic() + 60
    while alive(found["pid"]) and time.monotonic() < ends:
        time.sleep(0.2)
    assert not alive(found["pid"])
    assert "idle for 3 s: no new runs" in workers.paths()["log"].read_text()
    assert not workers.paths()["sock"].exists()
