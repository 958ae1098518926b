"""Benchmark: `sauti run` with and without the warm worker (sauti.app.worker), on this machine.

    .venv/bin/python benchmarks/bench_worker.py [--repeat 3] [--corpus demo|large]
        (or `make benchmark-worker`; --corpus large writes worker_large.md by default)

The experiment of benchmarks/bench_nkululeko.py (its corpora, seeded speaker split, openSMILE
eGeMAPSv02 functionals, standard scaling, svm C_val 1), run the way a user runs it: the `sauti`
command in a fresh working directory, three steps: first run; one MODEL key changed (C_val 1 ->
10); reverted (only the report is made again). Each mode gets its own runtime folder
(XDG_RUNTIME_DIR), so no worker of another session is used:

- no worker: SAUTI_WORKER=0, Snakemake runs as a subprocess each time;
- warm worker: SAUTI_WORKER=1; the first run has no worker yet (Snakemake runs in a fork of
  `sauti run`) and starts one when it is done, the benchmark waits until it answers (its
  imports) and stops it after the fourth step.

The fourth step, "new experiment", is a first run in another fresh folder: everything is
computed again, but with the worker warm from the steps before (a new experiment in a working
session), or without a worker (the same as the first step). Nkululeko's figure beside it is its
first run.

Nkululeko's cached re-runs of the same change run in between (from bench_nkululeko.py, its venv
in benchmarks/.nkululeko-venv; skipped when that is missing), so the ratios the issue asks for
(MODEL change at most 0.6x Nkululeko, revert at most 0.5x) are measured under the same load.
Each cell is the fastest of `--repeat` repeats. Writes benchmarks/results/worker.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from bench_nkululeko import (
    CORPORA,
    MODELS,
    compile_sources,
    job_seconds,
    run_nkululeko,
    sauti_config,
    speaker_split,
)

REPO = Path(__file__).resolve().parents[1]
SAUTI = str(Path(sys.executable).parent / "sauti")
STEPS = ("first run", "MODEL key changed", "reverted")
#: A first run in another fresh folder after the three steps: with a warm worker, the common
#: case of a new experiment in a working session (any earlier run left the worker).
NEW = "new experiment"
MODES = ("no worker", "warm worker")


def step_models() -> list[tuple[str, dict]]:
    """(step, MODEL settings) of the three steps."""
    model, (key, value) = MODELS["svm"]
    return list(zip(STEPS, (model, {**model, key: value}, model), strict=True))


def sauti(args: list[str], workdir: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([SAUTI, *args], cwd=workdir, env=env, capture_output=True, text=True)


def timed_run(workdir: Path, env: dict) -> tuple[float, dict]:
    """(wall seconds, test metrics) of `sauti run exp.yaml -j2` in `workdir`."""
    started = time.perf_counter()
    result = sauti(["run", "exp.yaml", "-j2"], workdir, env)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"sauti run failed in {workdir}:\n{(result.stdout + result.stderr)[-3000:]}")
    metrics = json.loads((workdir / "results" / "bench" / "metrics.json").read_text())
    return elapsed, metrics["test"]


def wait_for_worker(env: dict, timeout: float = 300) -> float:
    """Seconds until the worker the first run started answers `sauti worker status`."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if "(this code)" in sauti(["worker", "status"], REPO, env).stdout:
            return time.perf_counter() - started
        time.sleep(0.2)
    sys.exit("the worker never answered; see its log under " + env["XDG_RUNTIME_DIR"])


def sauti_sequence(workdir: Path, split: dict, mode: str, runtime: Path) -> dict:
    """The three steps in a fresh `workdir`: {step: (seconds, uar, own work)}, plus notes."""
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime)}
    env["SAUTI_WORKER"] = "1" if mode == "warm worker" else "0"
    workdir.mkdir(parents=True)
    out: dict = {}
    try:
        for step, settings in step_models():
            (workdir / "exp.yaml").write_text(yaml.safe_dump(sauti_config(split, settings)))
            since = time.time()
            seconds, test = timed_run(workdir, env)
            work = sum(s for _, s in job_seconds(workdir, since))
            out[step] = (seconds, test["uar"], work)
            print(f"{mode} {step}: {seconds:.2f} s (jobs' own work {work:.2f} s)", flush=True)
            if mode == "warm worker" and step == STEPS[0]:
                out["ready_s"] = wait_for_worker(env)
        fresh = workdir.with_name(f"{workdir.name}-new")
        fresh.mkdir()
        (fresh / "exp.yaml").write_text(yaml.safe_dump(sauti_config(split, step_models()[0][1])))
        since = time.time()
        seconds, test = timed_run(fresh, env)
        out[NEW] = (seconds, test["uar"], sum(s for _, s in job_seconds(fresh, since)))
        print(f"{mode} {NEW}: {seconds:.2f} s", flush=True)
        if mode == "warm worker":
            logs = list(runtime.glob("sauti-*/worker-*.log"))
            text = logs[0].read_text() if logs else ""
            for folder, runs in ((workdir, 2), (fresh, 1)):
                served = len(re.findall(rf"run \d+ in {re.escape(str(folder))}\n", text))
                if served != runs:
                    sys.exit(f"the worker served {served} of {runs} runs in {folder}:\n{text}")
            out["imports_s"] = float(re.search(r"imports ([\d.]+) s", text).group(1))
    finally:
        if mode == "warm worker":
            sauti(["worker", "stop"], REPO, env)
    return out


def startup_s(repeat: int) -> float:
    """The `sauti` command's own start: the interpreter and `import sauti.app.cli`."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import sauti.app.cli"], check=True)
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--corpus", default="demo", choices=list(CORPORA))
    parser.add_argument("--venv", type=Path, default=REPO / "benchmarks" / ".nkululeko-venv")
    parser.add_argument("--out", type=Path, default=None, help="default results/worker[_large].md")
    args = parser.parse_args()
    if args.out is None:
        name = "worker.md" if args.corpus == "demo" else f"worker_{args.corpus}.md"
        args.out = REPO / "benchmarks" / "results" / name
    compile_sources()
    nk_python = args.venv / "bin" / "python"
    best: dict = {mode: {} for mode in (*MODES, "Nkululeko")}
    extra: dict = {"ready_s": [], "imports_s": []}
    with tempfile.TemporaryDirectory(prefix="sauti-worker-bench-") as tmp:
        tmp = Path(tmp)
        split = speaker_split(CORPORA[args.corpus], tmp / "split")
        for repeat in range(args.repeat):  # modes alternate, so all see the same load
            for mode in MODES:
                runtime = tmp / f"rt-{repeat}-{mode[:2]}"
                runtime.mkdir(mode=0o700)
                done = sauti_sequence(tmp / f"{mode[:2]}-{repeat}", split, mode, runtime)
                for name in extra:
                    if name in done:
                        extra[name].append(done.pop(name))
                for step, result in done.items():
                    if step not in best[mode] or result[0] < best[mode][step][0]:
                        best[mode][step] = result
            if nk_python.exists():
                workdir = tmp / f"nk-{repeat}"
                workdir.mkdir()
                for step, settings in step_models():
                    seconds, uar, _ = run_nkululeko(nk_python, workdir, split, settings)
                    print(f"Nkululeko {step}: {seconds:.2f} s", flush=True)
                    if step not in best["Nkululeko"] or seconds < best["Nkululeko"][step][0]:
                        best["Nkululeko"][step] = (seconds, uar, 0.0)
    write_table(args, best, extra, startup_s(args.repeat))


def write_table(args, best: dict, extra: dict, startup: float) -> None:
    load = os.getloadavg()[0]
    when = time.strftime("%Y-%m-%d %H:%M")
    nk = best["Nkululeko"]
    goals = {"first run": 1.0, "MODEL key changed": 0.6, "reverted": 0.5, NEW: 1.0}
    lines = [
        f"# `sauti run` with and without the warm worker ({args.corpus} corpus, os + svm, gender)",
        "",
        # docs/benchmarks.md includes what is between the markers (pymdownx.snippets), not the title
        "<!-- --8<-- [start:worker] -->",
        f"{platform.node()} · {os.cpu_count()} cores · Python {platform.python_version()} · "
        f"load average {load:.1f} at the end · {when} · sauti run -j2 · "
        f"fastest of {args.repeat} (benchmarks/bench_worker.py)",
        "",
        "Wall seconds of `sauti run exp.yaml -j2` as a user runs it, each repeat in a fresh "
        "working directory: the first run, one MODEL key changed (svm C_val 1 -> 10: train, "
        "evaluate, report), reverted (only the report), and a new experiment: a first run in "
        "another fresh folder. *warm worker*: the first run had no worker (Snakemake ran in a "
        "fork of `sauti run`, sauti.app.worker.fork_run) and started one; the re-runs and the "
        "new experiment went through it (its log names them). Nkululeko 1.14.1: "
        "the same experiment and change, its own cached re-runs, in between; beside the new "
        "experiment its first run.",
        "",
        "| step | no worker | warm worker | worker / no worker | Nkululeko "
        "| worker / Nkululeko | goal | test UAR (no worker / worker) |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for step in (*STEPS, NEW):
        plain, warm = best["no worker"][step], best["warm worker"][step]
        nk_step = STEPS[0] if step == NEW else step
        nk_s = f"{nk[nk_step][0]:.2f}" if nk_step in nk else "-"
        ratio = f"{warm[0] / nk[nk_step][0]:.2f}" if nk_step in nk else "-"
        goal = f"<= {goals[step]}" if step in goals else ""
        lines.append(
            f"| {step} | {plain[0]:.2f} | {warm[0]:.2f} | {warm[0] / plain[0]:.2f} | {nk_s} "
            f"| {ratio} | {goal} | {plain[1]:.3f} / {warm[1]:.3f} |"
        )
    ready = min(extra["ready_s"]) if extra["ready_s"] else float("nan")
    imports = min(extra["imports_s"]) if extra["imports_s"] else float("nan")
    lines += [
        "",
        "Where the time of a re-run goes (seconds, fastest repeat): the `sauti` command's own "
        f"start (interpreter + `import sauti.app.cli`, measured alone) {startup:.2f}; the jobs' "
        "own work (their logs' `finished in` lines; without the worker it includes the "
        "scikit-learn and matplotlib imports); the rest: sauti's config and run record, and "
        "Snakemake's start (a new process importing it, or the worker's fork), DAG, scheduling "
        "and exit.",
        "",
        "| step | mode | wall | sauti start | jobs' own work | the rest |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for step in STEPS[1:]:
        for mode in MODES:
            wall, _, work = best[mode][step]
            rest = wall - startup - work
            lines.append(
                f"| {step} | {mode} | {wall:.2f} | {startup:.2f} | {work:.2f} | {rest:.2f} |"
            )
    lines += [
        "",
        f"The worker's imports took {imports:.1f} s (its log); it answered {ready:.1f} s after "
        "the first run returned. Without the worker a re-run starts a Python that imports "
        "Snakemake, and the in-process jobs import scikit-learn and matplotlib; in the worker's "
        "fork all of it is imported already. benchmarks/results/nkululeko.md times sauti as "
        "`python -m snakemake` directly (no `sauti` command, no client start), hence its lower "
        "figures for the runs without a worker.",
        "",
        "<!-- --8<-- [end:worker] -->",
        "",
    ]
    args.out.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
