"""The warm worker behind `sauti run`: a fork server with Snakemake and the light jobs imported.

Why: a cached re-run after a MODEL change does well under a second of work, but a fresh
`python -m snakemake` first imports Snakemake (about 1.2 s), and the in-process jobs then import
scikit-learn (about 1 s) and matplotlib (about 0.4 s). This worker pays those imports once and
forks a child per run: the child is a pristine copy of an interpreter that has imported
everything and run nothing, so each run starts where a fresh process would be after its imports.

How a run goes through it: `sauti run` connects to the worker's UNIX socket and sends the
Snakemake argv (`sauti.workflow.snakemake.command` minus the interpreter), its working directory,
its whole environment and its stdin/stdout/stderr (SCM_RIGHTS). The worker forks; the child
starts its own session (a process group, as `sauti run`'s subprocess had), takes the three file
descriptors as 0/1/2 (so the terminal view still sees the user's terminal), changes into the
directory, takes the environment and runs Snakemake's command-line main. The worker answers
with the child's pid at once and with its exit status when it ends; `sauti.workflow.runs`
supervises it like a subprocess (record, signals to the group, watchdog).

Which worker: one per user and code version. The socket's name holds a digest of the
interpreter, sauti's source files (paths, sizes, mtimes), the installed distributions, the
workflow folder and the environment variables read at import time, so changed code gets a new
worker and an old one is never asked; the worker also compares the digest of each request with
its own, and ends when its files change, after SAUTI_WORKER_IDLE_S seconds without a run
(default 600) or on `sauti worker stop`.

When: `sauti run` uses a worker that answers; without one it runs Snakemake in a fork of itself
(`fork_run`: what it imported to plan the run is not imported again) and then starts a worker in
the background for the next run (the first run is not slowed by the worker's imports). Anything
wrong with the worker or the fork means a subprocess as before, never a failed run.
SAUTI_WORKER=0 turns both off, SAUTI_WORKER=1 on; by default they are on except where the CI
variable is set (a CI job runs once; no process should outlive it).

Fork safety: before it forks, the worker has only imported, never run anything, and it has no
Python threads; the native threads present after the imports (the OpenBLAS pools of numpy and
scipy, pyarrow's jemalloc) have fork handlers, and a child's BLAS, xgboost and parquet calls
were checked to work.
"""

from __future__ import annotations

import fcntl
import gc
import hashlib
import importlib.util
import json
import os
import selectors
import signal
import site
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import weakref
from pathlib import Path

from sauti.core.paths import REPO

#: The switch: 0/off/no/false never use or start a worker, 1/on/yes/true always (CI included).
SWITCH_ENV = "SAUTI_WORKER"
#: Seconds without a run after which the worker ends.
IDLE_ENV = "SAUTI_WORKER_IDLE_S"
IDLE_S = 600.0
#: Read at import time by the interpreter, numpy, matplotlib or sauti: a worker started with
#: other values would run with stale ones, so they are part of the digest.
IMPORT_ENV = (
    "PYTHONPATH", "PYTHONHASHSEED", "PYTHONIOENCODING", "PYTHONUTF8", "PYTHONWARNINGS",
    "LANG", "LC_ALL", "LC_CTYPE", "SAUTI_WORKFLOW_DIR", "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "MPLBACKEND", "MPLCONFIGDIR",
)  # fmt: skip
#: The entries of site-packages that name an installed distribution and its version.
INSTALLED = (".dist-info", ".egg-info", ".pth")
#: Seconds between the worker's looks at its source files.
CHECK_S = 2.0
#: Seconds a client waits for a worker's greeting before it runs Snakemake itself.
HELLO_TIMEOUT_S = 10.0


def enabled(env=None) -> bool:
    """Whether `sauti run` may use (and start) a worker (SAUTI_WORKER, else not in CI)."""
    env = os.environ if env is None else env
    value = env.get(SWITCH_ENV, "").strip().lower()
    if value in ("0", "off", "no", "false"):
        return False
    if value in ("1", "on", "yes", "true"):
        return True
    return "CI" not in env


# --------------------------------------------------------------------------- where and which


def runtime_dir(env=None) -> Path:
    """The user's private folder for workers: $XDG_RUNTIME_DIR/sauti-<uid> or <tmp>/sauti-<uid>."""
    env = os.environ if env is None else env
    base = env.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    return Path(base) / f"sauti-{os.getuid()}"


def _private(folder: Path, create: bool) -> bool:
    """Whether `folder` is ours alone (created 0700 when asked): another user must never be able
    to put a socket there, since a run sends it the terminal and the whole environment."""
    try:
        if create:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = folder.lstat()
    except OSError:
        return False
    return folder.is_dir() and info.st_uid == os.getuid() and not info.st_mode & 0o077


def code_digest(env=None) -> str:
    """Digest of what an imported interpreter depends on (see the module docstring); a few
    hundred stat calls, about a millisecond."""
    env = os.environ if env is None else env
    hasher = hashlib.sha256()
    hasher.update(f"{sys.executable}\0{sys.version}\0{REPO.resolve()}\0".encode())
    for name in IMPORT_ENV:
        hasher.update(f"{name}={env.get(name)}\0".encode())
    for package in ("sauti", "snakemake_logger_plugin_sauti"):
        spec = importlib.util.find_spec(package)
        for location in (spec.submodule_search_locations or []) if spec else []:
            for path in sorted(Path(location).rglob("*.py")):
                try:
                    info = path.stat()
                    hasher.update(f"{path}\0{info.st_size}\0{info.st_mtime_ns}\0".encode())
                except OSError:  # removed while we looked
                    hasher.update(f"{path}\0gone\0".encode())
    for folder in site.getsitepackages():  # what is installed, in which version
        try:
            names = sorted(e.name for e in os.scandir(folder) if e.name.endswith(INSTALLED))
        except OSError:
            names = []
        hasher.update(f"{folder}\0{names}\0".encode())
    return hasher.hexdigest()[:16]


def paths(digest: str, env=None) -> dict[str, Path]:
    """The worker's socket, lock (held while it lives) and log for code `digest`."""
    folder = runtime_dir(env)
    return {kind: folder / f"worker-{digest}.{kind}" for kind in ("sock", "lock", "log")}


# --------------------------------------------------------------------------- protocol


def _send(sock: socket.socket, message: dict, fds: list[int] | None = None) -> None:
    data = json.dumps(message).encode() + b"\n"
    if fds:
        sent = socket.send_fds(sock, [data], fds)
        data = data[sent:]
    sock.sendall(data)


class _Lines:
    """Newline-delimited JSON messages from a socket (None at end of stream)."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buffer = b""
        self.fds: list[int] = []

    def read(self, with_fds: bool = False) -> dict | None:
        while b"\n" not in self.buffer:
            if with_fds and not self.fds:
                chunk, fds, _flags, _addr = socket.recv_fds(self.sock, 1 << 16, 3)
                self.fds += fds
            else:
                chunk = self.sock.recv(1 << 16)
            if not chunk:
                return None
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return json.loads(line)


def _peer_uid(sock: socket.socket) -> int:
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", creds)[1]


def _connect(path: Path, timeout: float) -> tuple[socket.socket, _Lines, dict] | None:
    """A connection to the worker at `path` and its greeting, or None (no worker, stale
    socket, another user's, silent)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(str(path))
        if _peer_uid(sock) != os.getuid():
            raise OSError("the socket belongs to another user")
        lines = _Lines(sock)
        hello = lines.read()
        if not hello or "worker" not in hello:
            raise OSError("no greeting")
        return sock, lines, hello
    except (OSError, ValueError):
        sock.close()
        return None


# --------------------------------------------------------------------------- client


class WorkerRun:
    """A Snakemake run in a worker's child, for `sauti.workflow.runs.supervise`: its `pid`
    (the leader of its own process group) and `wait`, like subprocess.Popen."""

    def __init__(self, sock: socket.socket, lines: _Lines, pid: int):
        self.sock: socket.socket | None = sock
        self.lines, self.pid = lines, pid
        self.returncode: int | None = None

    def wait(self, timeout: float | None = None) -> int:
        """The exit status the worker reports; raises subprocess.TimeoutExpired after
        `timeout` seconds, as Popen.wait does (supervise polls with it)."""
        if self.returncode is not None:
            return self.returncode
        if self.sock is not None:
            self.sock.settimeout(timeout)
            try:
                message = self.lines.read()
            except TimeoutError:
                raise subprocess.TimeoutExpired(["snakemake"], timeout) from None
            except (OSError, ValueError):
                message = None
            self.sock.close()
            self.sock = None
            if message and "status" in message:
                self.returncode = int(message["status"])
                return self.returncode
            print(
                "sauti: the warm worker ended during the run; exit status unknown", file=sys.stderr
            )
        ends = None if timeout is None else time.monotonic() + timeout
        while _alive(self.pid):  # the worker is gone: wait for the run itself
            if ends is not None and time.monotonic() >= ends:
                raise subprocess.TimeoutExpired(["snakemake"], timeout)
            time.sleep(0.1)
        self.returncode = 1
        return self.returncode


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (OSError, IndexError):
        return False


def request_run(command: list[str], env: dict[str, str]) -> WorkerRun | None:
    """Run `command` (a `python -m snakemake ...` line) in this code's worker; None when there
    is none or it cannot take the run (the caller then starts a subprocess)."""
    if command[:3] != [sys.executable, "-m", "snakemake"]:
        return None
    try:
        for fd in (0, 1, 2):
            os.fstat(fd)
        digest = code_digest(env)
        where = paths(digest, env)
        if not _private(where["sock"].parent, create=False) or not where["sock"].exists():
            return None
        found = _connect(where["sock"], HELLO_TIMEOUT_S)
        if found is None:
            return None
        sock, lines, _hello = found
        message = {"op": "run", "argv": command[3:], "cwd": os.getcwd(), "env": dict(env)}
        _send(sock, {**message, "digest": digest}, [0, 1, 2])
        sock.settimeout(None)  # the fork takes milliseconds; a dead worker closes the socket
        answer = lines.read()
        if not answer or "pid" not in answer:
            sock.close()
            return None
        return WorkerRun(sock, lines, int(answer["pid"]))
    except (OSError, ValueError):
        return None


class ForkedRun:
    """A Snakemake run in a fork of the `sauti` process itself (`fork_run`): its `pid` (the
    leader of its own process group) and `wait`, like subprocess.Popen."""

    def __init__(self, pid: int):
        self.pid = pid
        self.returncode: int | None = None

    def wait(self, timeout: float | None = None) -> int:
        """Its exit code (-N after signal N, as Popen); subprocess.TimeoutExpired after
        `timeout` seconds."""
        ends = None if timeout is None else time.monotonic() + timeout
        while self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
            elif ends is not None and time.monotonic() >= ends:
                raise subprocess.TimeoutExpired(["snakemake"], timeout)
            else:
                time.sleep(0.02)
        return self.returncode


def fork_run(command: list[str], env: dict[str, str]) -> ForkedRun | None:
    """Run `command` (a `python -m snakemake ...` line) in a fork of this process, when no
    worker answers; None when it cannot (the caller then starts a subprocess).

    Why: a new interpreter would import again what `sauti run` has imported to plan the run
    (pandas, numpy, sauti's config, stages and registry), about 0.4 s of a first run. The fork
    becomes Snakemake as the worker's children do (`_become_snakemake`). Only a process without
    other Python threads is forked; its native threads (numpy's BLAS pool) have fork handlers.
    """
    if command[:3] != [sys.executable, "-m", "snakemake"] or threading.active_count() > 1:
        return None
    for stream in (sys.stdout, sys.stderr):  # else the child writes the buffered text again
        stream.flush()
    gc.freeze()  # the child's garbage collections then do not walk (and copy) what it inherits
    try:
        pid = os.fork()
    except OSError:
        return None
    if pid:
        return ForkedRun(pid)
    code = 1
    try:
        # the child's exit runs the atexit functions (Snakemake's temporary folders): the
        # command's own finalizers, e.g. `sauti test`'s temporary config folder, are not its
        for finalizer in list(weakref.finalize._registry):  # noqa: SLF001
            finalizer.atexit = False
        _default_signals()
        _enter_run(command[3:], os.getcwd(), env)
        code = _run_snakemake(command[3:])
    except BaseException:  # noqa: BLE001  (a child must end here, never return)
        traceback.print_exc()
    finally:
        _finish(code)


class Spawner:
    """How `sauti run` starts Snakemake (`supervise(..., spawn=...)`): in the warm worker when
    one answers, else in a fork of this process (`fork_run`), else with `fallback`
    (`sauti.workflow.runs.popen`, a subprocess)."""

    def __init__(self, fallback):
        self.fallback = fallback
        self.enabled = enabled()
        self.used: WorkerRun | None = None

    def __call__(self, command: list[str], env: dict[str, str]):
        if self.enabled:
            self.used = request_run(command, env)
            if self.used is not None:
                return self.used
            forked = fork_run(command, env)
            if forked is not None:
                return forked
        return self.fallback(command, env)

    def after_run(self) -> None:
        """Start a worker for the next run when this one had none (it exits at once if
        another is starting already)."""
        if self.enabled and self.used is None:
            start_in_background()


def start_in_background(env=None, socket_path: Path | None = None) -> None:
    """Start a worker and return once it holds its lock (a fraction of a second); it imports
    Snakemake and the jobs' libraries afterwards, detached. Never raises."""
    # -P: no working directory on sys.path (cwd is /); a child puts the run's there, as
    # `python -m snakemake` has it
    command = [sys.executable, "-P", "-m", "sauti.app.worker", "serve"]
    if socket_path is not None:
        command += ["--socket", str(socket_path)]
    try:
        launcher = subprocess.Popen(
            command,
            cwd="/",  # never keep a project folder busy
            env=os.environ if env is None else env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        launcher.wait(timeout=30)
    except (OSError, subprocess.SubprocessError):
        pass


# --------------------------------------------------------------------------- the worker


class _Worker:
    """The serving process: one listening socket, one forked child per run."""

    def __init__(self, where: dict[str, Path], lock, digest: str, idle_s: float):
        self.where, self.lock, self.digest, self.idle_s = where, lock, digest, idle_s
        self.log = open(where["log"], "w", buffering=1, encoding="utf-8")  # noqa: SIM115
        self.started = time.time()
        self.last_active = time.monotonic()
        self.served = 0
        self.children: dict[int, socket.socket | None] = {}
        self.listener: socket.socket | None = None
        self.selector = selectors.DefaultSelector()
        self.wake_r, self.wake_w = os.pipe()
        self.stopping = ""  # why to stop listening (set by SIGTERM or `sauti worker stop`)

    def say(self, text: str) -> None:
        self.log.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} pid {os.getpid()}: {text}\n")

    def listen(self) -> None:
        sock_path = self.where["sock"]
        sock_path.unlink(missing_ok=True)  # a stale socket: we hold the lock, nobody listens
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(sock_path))
        self.listener.listen(16)
        self.selector.register(self.listener, selectors.EVENT_READ, "accept")
        os.set_blocking(self.wake_w, False)
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)  # wakes the select through the pipe
        signal.signal(signal.SIGTERM, lambda *_: setattr(self, "stopping", "SIGTERM"))
        self.selector.register(self.wake_r, selectors.EVENT_READ, "wake")
        self.last_active = time.monotonic()  # idle from now on, not from before the imports

    def stop_listening(self, why: str) -> None:
        if self.listener is None:
            return
        self.say(f"{why}: no new runs; ending after {len(self.children)} running")
        self.selector.unregister(self.listener)
        self.listener.close()
        self.listener = None
        self.where["sock"].unlink(missing_ok=True)

    def serve(self) -> None:
        next_check = time.monotonic() + CHECK_S
        while self.listener is not None or self.children:
            for key, _ in self.selector.select(timeout=1.0):
                if key.data == "accept" and self.listener is not None:
                    self.accept()
                elif key.data == "wake":
                    os.read(self.wake_r, 512)
                elif isinstance(key.data, int):  # a client went away; its run goes on
                    self.selector.unregister(key.fileobj)
                    key.fileobj.close()
                    self.children[key.data] = None
            self.reap()
            if self.stopping:
                self.stop_listening(self.stopping)
            now = time.monotonic()
            if not self.children and now - self.last_active > self.idle_s:
                self.stop_listening(f"idle for {self.idle_s:.0f} s")
            if now >= next_check:
                next_check = now + CHECK_S
                if self.listener is not None and code_digest() != self.digest:
                    self.stop_listening("its code changed")
        self.say("exiting")

    def accept(self) -> None:
        conn, _ = self.listener.accept()
        lines = _Lines(conn)
        try:
            conn.settimeout(5)
            if _peer_uid(conn) != os.getuid():
                raise OSError("a client of another user")
            _send(conn, {"worker": os.getpid(), "digest": self.digest})
            message = lines.read(with_fds=True) or {}
            op = message.get("op")
            if op == "run" and not _well_formed(message, lines.fds):
                raise ValueError("a malformed run request")
            if op == "run" and message["digest"] == self.digest:
                self.run(conn, message, lines.fds)
                return
            if op == "run":
                self.say(f"refused a run in {message.get('cwd')}: a client of other code")
                _send(conn, {"refused": "other code"})
            elif op == "status":
                _send(conn, self.status())
            elif op == "stop":
                _send(conn, {"stopping": os.getpid(), "running": len(self.children)})
                self.stopping = "asked to stop"
        except (OSError, ValueError) as err:
            self.say(f"dropped a connection: {err}")
        for fd in lines.fds:
            os.close(fd)
        conn.close()

    def status(self) -> dict:
        return {
            "pid": os.getpid(),
            "digest": self.digest,
            "started": self.started,
            "idle_s": 0.0 if self.children else time.monotonic() - self.last_active,
            "idle_limit_s": self.idle_s,
            "running": len(self.children),
            "served": self.served,
            "log": str(self.where["log"]),
        }

    def run(self, conn: socket.socket, message: dict, fds: list[int]) -> None:
        """Fork the run; tell the client its pid once the child is set up (or that it could not
        be, so the client runs Snakemake itself: the worker never fails a run)."""
        ready_r, ready_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(ready_r)
            self._child(conn, message, fds, ready_w)  # never returns
        os.close(ready_w)
        for fd in fds:
            os.close(fd)
        with open(ready_r, "rb") as ready:
            set_up = ready.read(1) == b"1"  # one byte, or end of file if the child failed
        self.last_active = time.monotonic()
        self.children[pid] = None
        if not set_up:
            self.say(f"run {pid} in {message['cwd']} failed to start; the client runs it")
            _send(conn, {"refused": "the child failed to start"})
            return
        self.served += 1
        self.say(f"run {pid} in {message['cwd']}")
        try:
            _send(conn, {"pid": pid})
            conn.settimeout(None)
            self.selector.register(conn, selectors.EVENT_READ, pid)
            self.children[pid] = conn
        except OSError:
            pass  # the client is gone; its watchdog ends the run

    def reap(self) -> None:
        for pid in list(self.children):
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done, status = pid, 1 << 8
            if not done:
                continue
            code = os.waitstatus_to_exitcode(status)
            self.say(f"run {pid} ended with {code}")
            conn = self.children.pop(pid)
            self.last_active = time.monotonic()
            if conn is not None:
                self.selector.unregister(conn)
                try:
                    _send(conn, {"status": code})
                except OSError:
                    pass
                conn.close()

    def _child(self, conn: socket.socket, message: dict, fds: list[int], ready: int):
        """In the forked child: become the run (see the module docstring), then exit."""
        code = 1
        try:
            signal.set_wakeup_fd(-1)  # before the pipe closes: its number will be reused
            _default_signals()
            for other in self.children.values():
                if other is not None:
                    other.close()
            self.selector.close()
            if self.listener is not None:
                self.listener.close()
            os.close(self.wake_r)
            os.close(self.wake_w)
            self.log.close()
            self.lock.close()  # the worker keeps its lock; this copy must not outlive it
            conn.close()
            for target, fd in enumerate(fds):
                os.dup2(fd, target)
            for fd in fds:
                if fd > 2:
                    os.close(fd)
            _enter_run(message["argv"], message["cwd"], message["env"])
            os.write(ready, b"1")
            os.close(ready)
            code = _run_snakemake(message["argv"])
        except BaseException:  # noqa: BLE001  (a child must end here, never return)
            traceback.print_exc()
        finally:
            _finish(code)


def _well_formed(message: dict, fds: list[int]) -> bool:
    """A run request: argv, cwd, env, digest of the right types, and three descriptors."""
    return (
        len(fds) == 3
        and isinstance(message.get("argv"), list)
        and all(isinstance(a, str) for a in message["argv"])
        and isinstance(message.get("cwd"), str)
        and isinstance(message.get("env"), dict)
        and all(isinstance(v, str) for v in message["env"].values())
        and isinstance(message.get("digest"), str)
    )


def _default_signals() -> None:
    """A fork's signal handlers as a new interpreter has them (Snakemake then sets its own)."""
    for sig in (signal.SIGCHLD, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)


def _enter_run(argv: list[str], cwd: str, env: dict[str, str]) -> None:
    """In a fork whose descriptors 0-2 are the run's (the worker's child, `fork_run`'s): what a
    `python -m snakemake` started in `cwd` with `env` has, its own session (the process group
    `sauti run` signals), directory, sys.path and environment, then `_become_snakemake`."""
    os.setsid()
    os.chdir(cwd)
    sys.path.insert(0, cwd)  # `python -m` puts the working directory first
    os.environ.clear()
    os.environ.update(env)
    _become_snakemake(argv)


def _become_snakemake(argv: list[str]) -> None:
    """What else differs from a fresh `python -m snakemake` process: its stdio objects (new,
    on fds 0/1/2, line-buffered on a terminal as a new interpreter would make them), argv,
    process name and numpy's global random state."""
    import snakemake  # imported by the worker already

    old = sys.stdout
    sys.stdin = sys.__stdin__ = open(0, encoding=old.encoding, closefd=False)  # noqa: SIM115
    sys.stdout = sys.__stdout__ = open(  # noqa: SIM115
        1, "w", buffering=1 if os.isatty(1) else -1, encoding=old.encoding,
        errors=old.errors, closefd=False,
    )  # fmt: skip
    sys.stderr = sys.__stderr__ = open(  # noqa: SIM115
        2, "w", buffering=1, encoding=old.encoding, errors="backslashreplace", closefd=False
    )
    # what `python -m snakemake` has as argv[0], which Snakemake's log shows as the command
    sys.argv = [str(Path(snakemake.__file__).with_name("__main__.py")), *argv]
    _name_process("snakemake")
    if "numpy" in sys.modules:  # a fresh process seeds it from the system's entropy
        sys.modules["numpy"].random.seed()


def _run_snakemake(argv: list[str]) -> int:
    """Snakemake's command-line main, as `python -m snakemake` runs it; its exit code."""
    from snakemake.cli import main

    try:
        main(argv)
    except SystemExit as done:
        if done.code is None or isinstance(done.code, int):
            return done.code or 0
        print(done.code, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        traceback.print_exc()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)  # exit as an interrupted interpreter does
    return 0


def _name_process(name: str) -> None:
    """The process name `sauti.workflow.runs.holders` recognises (its command line is the
    worker's)."""
    try:
        Path("/proc/self/comm").write_text(name)
    except OSError:
        pass


def _finish(code: int):
    """End the child as an interpreter ends: wait for its threads, run the atexit functions
    (logging's flush among them), flush stdio, then leave without the worker's cleanup.

    Snakemake's scheduler leaves threading.Timer threads behind (its job-rate limiter's
    re-evaluation, 1 s): a new interpreter waits for them at exit, for nothing, since they only
    wake a scheduler that has finished; here they are cancelled first."""
    import atexit
    import threading

    from sauti.workflow.jobs import cancel_scheduler_timers  # heavy: every stage (warm here)

    cancel_scheduler_timers()
    for step in (threading._shutdown, atexit._run_exitfuncs):  # noqa: SLF001
        try:
            step()
        except BaseException:  # noqa: BLE001,S110  (exiting regardless)
            pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


def _warm() -> None:
    """What every run needs imported: Snakemake's CLI and API with their plugins, sauti's
    workflow and the in-process jobs' libraries (scikit-learn, matplotlib and seaborn,
    openSMILE, pandas, pyarrow; not torch, which only the nets' own processes need)."""
    import pyarrow.parquet  # noqa: F401
    import snakemake.api  # noqa: F401
    import snakemake.cli  # noqa: F401

    import snakemake_logger_plugin_sauti  # noqa: F401

    # heavy: the reason this process exists (scikit-learn, matplotlib, every stage module)
    from sauti.ml import evaluation, explore_plots, plots, training  # noqa: F401  # heavy: see above
    from sauti.ml.features import opensmile_features  # noqa: F401  # heavy: see above
    from sauti.workflow import jobs, registry  # noqa: F401  # heavy: see above

    try:
        import xgboost  # noqa: F401
    except ImportError:
        pass
    # Snakemake's argument parser collects its plugins (executors, loggers, reports: the report
    # plugins import docutils), about 0.2 s that each run would pay again
    snakemake.cli.get_argument_parser()
    # a child's garbage collection would otherwise walk (and so copy) all the imported objects
    gc.collect()
    gc.freeze()


def serve(socket_path: Path | None = None) -> None:
    """The worker's main: detach, take the lock, import, listen, serve until idle."""
    digest = code_digest()
    where = paths(digest)
    if socket_path is not None:
        where = {**where, "sock": socket_path}
        where["lock"] = socket_path.with_suffix(".lock")
        where["log"] = socket_path.with_suffix(".log")
    if not _private(where["lock"].parent, create=True):
        return
    lock = open(where["lock"], "a")  # noqa: SIM115
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return  # another worker for this code lives or is starting
    if os.fork():
        os._exit(0)  # the starter returns; the worker goes on, child of init
    os.setsid()
    _remove_dead(where["lock"].parent)
    try:
        idle_s = float(os.environ.get(IDLE_ENV) or IDLE_S)
    except ValueError:
        idle_s = IDLE_S
    worker = _Worker(where, lock, digest, idle_s)
    started = time.monotonic()
    try:
        _warm()
        if code_digest() != digest:
            worker.say("the code changed while importing; not serving")
            return
        worker.listen()
        worker.say(f"serving {where['sock']} (imports {time.monotonic() - started:.1f} s)")
        worker.serve()
    except Exception as err:  # noqa: BLE001  (a broken worker only means runs as before)
        worker.say(f"failed: {err!r}")
    finally:
        worker.stop_listening("ending")


# --------------------------------------------------------------------------- sauti worker


def _ask(sock_path: Path, op: str) -> dict | None:
    """The worker's answer to `op` (status, stop); None when nothing answers there."""
    connected = _connect(sock_path, 2.0)
    if connected is None:
        return None
    sock, lines, _hello = connected
    try:
        _send(sock, {"op": op})
        return lines.read()
    except (OSError, ValueError):
        return None
    finally:
        sock.close()


def status(env=None) -> dict | None:
    """This code's worker: pid, digest, started, idle_s, running, served, log (None: none)."""
    return _ask(paths(code_digest(env), env)["sock"], "status")


def command(action: str, out=sys.stdout) -> int:
    """`sauti worker status` / `sauti worker stop`: every worker of this user (one per code
    version; an old one ends by itself once it notices its code changed)."""
    folder = runtime_dir()
    sockets = sorted(folder.glob("worker-*.sock")) if _private(folder, create=False) else []
    digest = code_digest()
    shown = 0
    for sock_path in sockets:
        found = _ask(sock_path, "status")
        if found is None:
            if not _lock_held(sock_path.with_suffix(".lock")):
                sock_path.unlink(missing_ok=True)  # stale: its worker is gone
            continue
        shown += 1
        which = "this code" if found["digest"] == digest else "other code"
        if action == "stop":
            _ask(sock_path, "stop")
            ends = time.monotonic() + 10
            while _alive(found["pid"]) and time.monotonic() < ends:
                time.sleep(0.05)
            if _alive(found["pid"]):
                out.write(f"sauti worker: pid {found['pid']} ends when its runs end\n")
            else:
                out.write(f"sauti worker: stopped pid {found['pid']} ({which})\n")
            continue
        out.write(
            f"sauti worker: pid {found['pid']} ({which}), up {time.time() - found['started']:.0f}"
            f" s, {found['served']} runs, {found['running']} running, idle"
            f" {found['idle_s']:.0f} s of {found['idle_limit_s']:.0f}; log {found['log']}\n"
        )
    if not shown:
        off = "" if enabled() else f" (off: {SWITCH_ENV}=0 or CI is set)"
        out.write(f"sauti worker: none running{off}\n")
    return 0


def _remove_dead(folder: Path) -> None:
    """The files of workers that have ended (one set per code version would pile up)."""
    for lock in folder.glob("worker-*.lock"):
        if not _lock_held(lock):
            for kind in ("sock", "log", "lock"):
                lock.with_suffix(f".{kind}").unlink(missing_ok=True)


def _lock_held(path: Path) -> bool:
    try:
        with open(path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except OSError:
        return True


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        given = sys.argv[sys.argv.index("--socket") + 1] if "--socket" in sys.argv else None
        serve(Path(given) if given else None)
