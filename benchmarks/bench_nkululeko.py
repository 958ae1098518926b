"""Benchmark: sauti against Nkululeko 1.14.1 on the same experiments, on this machine.

    .venv/bin/python benchmarks/bench_nkululeko.py [--corpora demo large] [--models svm xgb]
    (or `make benchmark-nkululeko`, which also builds the large corpus)

Installs Nkululeko 1.14.1 into its own venv (benchmarks/.nkululeko-venv, git-ignored): first
the CPU torch wheel from /opt/wheels (NKULULEKO_TORCH_WHEEL overrides), because Nkululeko's
dependency `accelerate` needs torch and pip would otherwise pull the CUDA build, then
`nkululeko==1.14.1` with its declared dependencies. torchaudio is only in Nkululeko's `torch`
extra and the os + svm/xgb path never imports it (the script checks and reports this).

The same experiment for both tools: the same train and test CSVs (a seeded speaker split,
stratified by gender, 25 % of the speakers in test), openSMILE eGeMAPSv02 functionals,
standard scaling, then svm (C_val 1, rbf) or xgb (100 trees, depth 6). Per corpus and model,
each tool gets a fresh working directory and runs three times: first run; a MODEL key changed
(svm C_val 1 -> 10, xgb n_estimators 100 -> 200); reverted. Test UAR is computed the same way
for both, from their prediction files. Writes benchmarks/results/nkululeko.md.

Also measured, on the first corpus given (`--study-corpus`, default demo):
- where sauti's time goes: Snakemake start + DAG (a run with nothing to do) and each job's own
  work, read from the "<stage> finished in N s" line every job writes into its log;
- the floor of the feature phase: raw openSMILE extraction of the same files (soundfile read +
  `Smile.process_signal`, eGeMAPSv02 functionals) with the same threads, in one process;
- a 6-configuration study {os, praat} x {svm, xgb, tree}: sauti as one GRID file (one DAG),
  Nkululeko as six INI files run one after the other at its best (one experiment name per
  feature set, so its feature cache is reused across the three models);
- `sauti watch`: seconds from saving a MODEL change (and its revert) to the new headline
  printed, by a script that edits the watched file.
"""

from __future__ import annotations

import argparse
import compileall
import os
import platform
import queue
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from sauti.core.fileio import write_text
from sauti.workflow import snakemake as snakemake_cli

REPO = Path(__file__).resolve().parents[1]
VERSION = "1.14.1"
TORCH_WHEEL = os.environ.get(
    "NKULULEKO_TORCH_WHEEL", "/opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl"
)
CORPORA = {
    "demo": REPO / "data" / "demo" / "demo.csv",
    "large": REPO / "data" / "large" / "large.csv",
}
#: model -> (its settings, the MODEL key changed in the second run and its new value)
MODELS = {
    "svm": ({"type": "svm", "C_val": 1.0, "kernel": "rbf"}, ("C_val", 10.0)),
    "xgb": ({"type": "xgb", "n_estimators": 100, "max_depth": 6}, ("n_estimators", 200)),
}
STEPS = ("first run", "MODEL key changed", "reverted")


def section(name: str, lines: list[str]) -> list[str]:
    """`lines` between pymdownx.snippets section markers: the docs include them by name
    (`--8<-- "benchmarks/results/nkululeko.md:<name>"`), so no figure there is retyped."""
    return [f"<!-- --8<-- [start:{name}] -->", *lines, "", f"<!-- --8<-- [end:{name}] -->"]


# --------------------------------------------------------------------------- Nkululeko venv


def compile_sources() -> None:
    """Byte-compile sauti's sources (src/ is an editable install) as pip compiles an installed
    package such as Nkululeko, so neither tool compiles its code on every run, also where
    PYTHONDONTWRITEBYTECODE keeps Python from caching it (`make setup` does the same)."""
    compileall.compile_dir(REPO / "src", quiet=1)


def nkululeko_venv(venv: Path) -> tuple[Path, float]:
    """The venv's python, installing Nkululeko first if needed; returns (python, install s)."""
    python = venv / "bin" / "python"
    check = [str(python), "-c", "import importlib.metadata as m; print(m.version('nkululeko'))"]
    if python.exists():
        found = subprocess.run(check, capture_output=True, text=True)
        if found.returncode == 0 and found.stdout.strip() == VERSION:
            return python, 0.0
    if not Path(TORCH_WHEEL).exists():
        sys.exit(
            f"the CPU torch wheel {TORCH_WHEEL} is missing; set NKULULEKO_TORCH_WHEEL to a "
            "CPU torch wheel for this Python (without it pip pulls CUDA torch for accelerate)"
        )
    started = time.perf_counter()
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", "--clear", str(venv)], check=True)
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    print(f"installing Nkululeko {VERSION} into {venv} (torch from {TORCH_WHEEL}) ...", flush=True)
    with open(venv / "install.log", "w") as log:  # pip is chatty about unused indexes
        for target in (TORCH_WHEEL, f"nkululeko=={VERSION}"):
            if subprocess.run([*pip, target], stdout=log, stderr=log).returncode:
                sys.exit(f"pip install {target} failed; see {venv / 'install.log'}")
    return python, time.perf_counter() - started


def nkululeko_imports(python: Path) -> str:
    """What the os + svm/xgb code path of Nkululeko imports (torch? torchaudio?), and its cost."""
    code = (
        "import sys, time; t = time.perf_counter(); import nkululeko.experiment, "
        "nkululeko.models.model_svm, nkululeko.models.model_xgb, "
        "nkululeko.feat_extract.feats_opensmile; "
        "print(f'{time.perf_counter() - t:.2f}', *[m for m in ('torch', 'torchaudio', "
        "'transformers') if m in sys.modules])"
    )
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True)
    seconds, *modules = out.stdout.split()
    return f"import {seconds} s; loads {', '.join(modules) or 'no torch'}; torchaudio not needed"


# --------------------------------------------------------------------------- data


def speaker_split(csv: Path, out: Path, test_share: float = 0.25, seed: int = 42) -> dict:
    """Seeded speaker split, stratified by gender; absolute paths. -> {'train': csv, 'test': csv}"""
    table = pd.read_csv(csv)
    table["file"] = [str((csv.parent / f).resolve()) for f in table["file"]]
    rng = np.random.default_rng(seed)
    test = []
    for _, group in table.groupby("gender"):
        speakers = sorted(group["speaker"].unique())
        test += list(rng.choice(speakers, max(1, round(len(speakers) * test_share)), replace=False))
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for part, rows in (
        ("train", ~table["speaker"].isin(test)),
        ("test", table["speaker"].isin(test)),
    ):
        paths[part] = out / f"{part}.csv"
        table[rows].to_csv(paths[part], index=False)
    return paths


def uar(truth: pd.Series, prediction: pd.Series) -> float:
    """Unweighted average recall over the labels in the truth (the same code for both tools)."""
    return float(
        np.mean([(prediction[truth == label] == label).mean() for label in truth.unique()])
    )


# --------------------------------------------------------------------------- the two tools


def sauti_config(split: dict, model: dict, feats=("os",)) -> dict:
    return {
        "EXP": {"name": "bench"},
        "DATA": {
            "databases": ["train", "test"],
            "train": {"path": str(split["train"]), "split_strategy": "train"},
            "test": {"path": str(split["test"]), "split_strategy": "test"},
            "target": "gender",
            "labels": ["female", "male"],
        },
        "FEATS": {"type": list(feats), "set": "eGeMAPSv02", "scale": "standard"},
        "MODEL": model,
    }


def job_seconds(workdir: Path, since: float) -> list[tuple[str, float]]:
    """(stage, seconds of its own work) of every job that finished after `since`, from the
    "<stage> finished in N s" line sauti.core.stage_log writes into each job's log."""
    found = []
    for log in (workdir / "results").rglob("*.log"):
        if log.stat().st_mtime < since:
            continue
        match = re.search(
            r"INFO sauti: (.+?) finished in ([\d.]+) s", log.read_text(errors="replace")
        )
        if match:
            found.append((match.group(1), float(match.group(2))))
    return sorted(found)


def snakemake_run(workdir: Path, configfile: Path, jobs: int) -> tuple[float, str, str]:
    """(wall seconds, jobs done, breakdown) of one sauti run of `configfile` in `workdir`."""
    command = snakemake_cli.command(configfile, workdir, f"-j{jobs}")
    since = time.time()
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"sauti failed in {workdir}:\n{(result.stdout + result.stderr)[-3000:]}")
    ran = snakemake_cli.job_counts(result.stdout + result.stderr)
    done = ", ".join(f"{k} {v}" for k, v in ran.items() if k != "all") or "nothing"
    work = job_seconds(workdir, since)
    breakdown = ", ".join(f"{stage} {sec:.1f}" for stage, sec in work) or "no job"
    return elapsed, done, breakdown


def run_sauti(workdir: Path, split: dict, model: dict, jobs: int) -> tuple[float, float, str]:
    cfg = sauti_config(split, model)
    configfile = workdir / "exp.yaml"
    configfile.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    elapsed, done, breakdown = snakemake_run(workdir, configfile, jobs)
    done = f"{done} (own work s: {breakdown})"
    predictions = pd.read_csv(workdir / "results" / "bench" / "predictions.csv")
    test = predictions[predictions["split"] == "test"]
    return elapsed, uar(test["truth"].astype(str), test["prediction"].astype(str)), done


def run_nkululeko(
    python: Path, workdir: Path, split: dict, model: dict, feats: str = "os"
) -> tuple[float, float, str]:
    model_lines = "\n".join(f"{k} = {v}" for k, v in model.items())
    databases = "\n".join(
        f"{part} = {path}\n{part}.type = csv\n{part}.absolute_path = True\n"
        f"{part}.split_strategy = {part}"
        for part, path in split.items()
    )
    (workdir / "exp.ini").write_text(
        f"[EXP]\nroot = {workdir}/\nname = bench\n"
        f"[DATA]\ndatabases = ['train', 'test']\n{databases}\n"
        "target = gender\nlabels = ['female', 'male']\n"
        f"[FEATS]\ntype = ['{feats}']\nset = eGeMAPSv02\nscale = standard\n"
        f"[MODEL]\n{model_lines}\n",
        encoding="utf-8",
    )
    started = time.perf_counter()
    result = subprocess.run(
        [str(python), "-m", "nkululeko.nkululeko", "--config", "exp.ini"],
        cwd=workdir,  # it writes scratch files into the working directory
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - started
    output = result.stdout + result.stderr
    if result.returncode != 0 or "DONE" not in output:
        sys.exit(f"Nkululeko failed in {workdir}:\n{output[-3000:]}")
    extracted = "Extracting OpenSMILE" in output
    done = ("features + " if extracted else "cached features, ") + "train + report"
    # this run's predictions: the newest file (its name encodes the MODEL keys)
    pred = max(
        (workdir / "bench" / "results" / "run_0").glob("pred_gender_*.csv"),
        key=lambda p: p.stat().st_mtime_ns,
    )
    table = pd.read_csv(pred)
    return elapsed, uar(table["truth"].astype(str), table["predicted"].astype(str)), done


# --------------------------------------------------------------------------- floor, study, watch

FLOOR_CODE = """
import sys, threading, time
from concurrent.futures import ThreadPoolExecutor
import opensmile, soundfile
threads, files = int(sys.argv[1]), open(sys.argv[2]).read().split(chr(10))
local = threading.local()
def one(path):
    if not hasattr(local, 'smile'):
        local.smile = opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02,
                                      feature_level=opensmile.FeatureLevel.Functionals)
    signal, rate = soundfile.read(path, dtype='float32', always_2d=False)
    return local.smile.process_signal(signal, rate)
started = time.perf_counter()
with ThreadPoolExecutor(threads) as pool:
    rows = list(pool.map(one, files))
print(f'{time.perf_counter() - started:.3f} {len(rows)}')
"""


def raw_opensmile(split: dict, threads: int, workdir: Path) -> float:
    """Seconds of bare openSMILE extraction (read + eGeMAPSv02 functionals) of the split's
    files in `threads` threads of one process: the floor of sauti's feature phase."""
    files = [f for p in split.values() for f in pd.read_csv(p)["file"]]
    listing = workdir / "files.txt"
    listing.write_text("\n".join(files), encoding="utf-8")
    out = subprocess.run(
        [sys.executable, "-c", FLOOR_CODE, str(threads), str(listing)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return float(out.stdout.split()[0])


STUDY_FEATS = ("os", "praat")
STUDY_MODELS = ("svm", "xgb", "tree")


def study_sauti(workdir: Path, split: dict, jobs: int) -> tuple[float, dict, str]:
    """The 6-configuration study as one GRID file: (seconds, {config: UAR}, breakdown)."""
    cfg = sauti_config(split, {"type": "svm"})
    cfg["EXP"]["name"] = "study"
    cfg["GRID"] = {"FEATS.type": [[f] for f in STUDY_FEATS], "MODEL.type": list(STUDY_MODELS)}
    configfile = workdir / "study.yaml"
    configfile.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    elapsed, done, breakdown = snakemake_run(workdir, configfile, jobs)
    uars = {}
    for feat in STUDY_FEATS:
        for model in STUDY_MODELS:
            table = pd.read_csv(workdir / "results" / f"study-{feat}-{model}" / "predictions.csv")
            test = table[table["split"] == "test"]
            uars[f"{feat} + {model}"] = uar(
                test["truth"].astype(str), test["prediction"].astype(str)
            )
    return elapsed, uars, f"{done} (own work s: {breakdown})"


def study_nkululeko(python: Path, workdir: Path, split: dict) -> tuple[float, dict]:
    """The same six configurations as six INI files, one experiment name per feature set."""
    total, uars = 0.0, {}
    for feat in STUDY_FEATS:
        for model in STUDY_MODELS:
            folder = workdir / f"study_{feat}"  # one name per feature set: features reused
            folder.mkdir(parents=True, exist_ok=True)
            elapsed, score, _ = run_nkululeko(python, folder, split, {"type": model}, feats=feat)
            total += elapsed
            uars[f"{feat} + {model}"] = score
            print(f"study Nkululeko {feat} + {model}: {elapsed:.1f} s, UAR {score:.3f}", flush=True)
    return total, uars


def watch_seconds(workdir: Path, split: dict, model: dict, changed: dict, jobs: int) -> dict:
    """Seconds from saving the file to `sauti watch` printing the new headline, for a MODEL
    change and its revert (after a first run that computed everything)."""
    configfile = workdir / "exp.yaml"
    configfile.write_text(yaml.safe_dump(sauti_config(split, model)), encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, "-m", "sauti.app.cli", "watch", str(configfile), "-j", str(jobs)],
        cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in process.stdout], daemon=True).start()

    def headline(timeout: float = 900) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=0.01)
            except queue.Empty:
                if process.poll() is not None:
                    sys.exit("sauti watch ended early")
                continue
            if line.startswith("bench: UAR"):
                return line.strip()
        sys.exit("sauti watch printed no headline")

    headline()
    seconds = {}
    try:
        for step, settings in (("MODEL key changed", changed), ("reverted", model)):
            time.sleep(1.0)  # the watch is idle, polling
            configfile.write_text(yaml.safe_dump(sauti_config(split, settings)), encoding="utf-8")
            started = time.perf_counter()
            line = headline()
            seconds[step] = time.perf_counter() - started
            print(f"watch {step}: {seconds[step]:.2f} s ({line})", flush=True)
    finally:
        process.terminate()  # SIGTERM ends it like Ctrl-C (SIGINT is ignored in a background job)
        process.wait(timeout=60)
    return seconds


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpora", nargs="+", default=list(CORPORA), choices=list(CORPORA))
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument(
        "--repeat", type=int, default=1, help="run each sequence N times, report the fastest"
    )
    parser.add_argument(
        "--study-corpus",
        default="demo",
        help="corpus of the floor, study and watch rows ('' skips)",
    )
    parser.add_argument("--venv", type=Path, default=REPO / "benchmarks" / ".nkululeko-venv")
    parser.add_argument(
        "--out", type=Path, default=REPO / "benchmarks" / "results" / "nkululeko.md"
    )
    args = parser.parse_args()
    compile_sources()
    python, install_s = nkululeko_venv(args.venv)
    imports = nkululeko_imports(python)
    rows, notes = [], []
    with tempfile.TemporaryDirectory(prefix="sauti-vs-nkululeko-") as tmp:
        tmp = Path(tmp)
        noop = None
        floors, watched, study = {}, {}, None
        for corpus in args.corpora:
            csv = CORPORA[corpus]
            if not csv.exists():
                sys.exit(f"{csv} is missing: run `make benchmark-nkululeko` (it builds it)")
            split = speaker_split(csv, tmp / corpus / "split")
            n_files = sum(len(pd.read_csv(p)) for p in split.values())
            for name in args.models:
                model, (key, value) = MODELS[name]
                runs = {"sauti": [], "Nkululeko": []}
                for repeat in range(args.repeat):  # tools alternate, so both see the same load
                    for tool in runs:
                        workdir = tmp / corpus / name / f"{tool}-{repeat}"
                        workdir.mkdir(parents=True)
                        for i, settings in enumerate((model, {**model, key: value}, model)):
                            if tool == "sauti":
                                result = run_sauti(workdir, split, settings, args.jobs)
                            else:
                                result = run_nkululeko(python, workdir, split, settings)
                            print(
                                f"{corpus} {name} {tool} {STEPS[i]}: {result[0]:.1f} s, UAR {result[1]:.3f}"
                            )
                            if repeat == 0:
                                runs[tool].append(result)
                            elif result[0] < runs[tool][i][0]:  # keep the fastest repeat
                                runs[tool][i] = result
                        if tool == "sauti" and noop is None:  # snakemake start-up + DAG, no job
                            noop = run_sauti(workdir, split, model, args.jobs)[0]
                for tool, results in runs.items():
                    times = " | ".join(f"{r[0]:.1f}" for r in results)
                    uars = "/".join(f"{r[1]:.3f}" for r in results[:2])
                    rows.append(f"| {corpus} ({n_files}) | {name} | {tool} | {times} | {uars} |")
                    notes.append(
                        f"- {corpus} {name} {tool}: "
                        + "; ".join(f"{s}: {r[2]}" for s, r in zip(STEPS, results, strict=True))
                    )
                s, n = runs["sauti"], runs["Nkululeko"]
                rows.append(
                    f"| | | *sauti / Nkululeko* | *{s[0][0] / n[0][0]:.2f}* | "
                    f"*{s[1][0] / n[1][0]:.2f}* | *{s[2][0] / n[2][0]:.2f}* | |"
                )
                # the feature phase (every features job's own work) against its floor
                work = s[0][2].split("own work s:")[-1]
                phase = sum(float(x) for x in re.findall(r"features ([\d.]+)", work))
                if phase and corpus not in floors:
                    floor = raw_opensmile(split, args.jobs, tmp / corpus)
                    floors[corpus] = (phase, floor, n_files)
                if corpus == args.study_corpus and name == args.models[0]:
                    watch_dir = tmp / corpus / "watch"
                    watch_dir.mkdir()
                    watched[corpus] = (
                        watch_seconds(watch_dir, split, model, {**model, key: value}, args.jobs),
                        n[1][0],
                        n[2][0],
                    )
            if corpus == args.study_corpus:
                (tmp / "study" / "sauti").mkdir(parents=True)
                study = (
                    study_sauti(tmp / "study" / "sauti", split, args.jobs),
                    study_nkululeko(python, tmp / "study" / "nk", split),
                    n_files,
                )
    load = os.getloadavg()[0]
    header = [
        "# sauti vs Nkululeko (os eGeMAPSv02 + standard scaling + svm / xgb, gender)",
        "",
        f"{platform.node()} · {os.cpu_count()} cores · Python {platform.python_version()} · "
        f"load average {load:.1f} at the end · {time.strftime('%Y-%m-%d %H:%M')} · "
        f"sauti -j{args.jobs} · Nkululeko {VERSION} ({imports}"
        + (f"; installed in {install_s:.0f} s" if install_s else "")
        + ")",
        "",
        f"Wall times in seconds (fastest of {args.repeat}), each tool in a fresh working "
        "directory per repeat; the second run changes "
        "one MODEL key (svm C_val 1 -> 10, xgb n_estimators 100 -> 200), the third reverts it. "
        "UAR on the same test speakers (first run / changed run).",
        "",
        "| corpus (files) | model | tool | first run | MODEL key changed | reverted | test UAR |",
        "|---|---|---|---:|---:|---:|---|",
    ]
    footer = [
        "",
        f"sauti with nothing to do (Snakemake start-up + DAG): {noop:.1f} s. The rest of a "
        "sauti run is its jobs: all of them run as threads inside Snakemake's process (no "
        "interpreter start-up; os extraction releases the GIL), only praat features (the "
        "study) in processes of their own; each job's own work is listed below (from its log). "
        "This "
        "table times `python -m snakemake`; `sauti run` with its warm worker is in worker.md.",
    ]
    # the sections the docs include (docs/benchmarks.md): runs, features, watch, study
    lines = [*header[:2], *section("runs", header[2:] + rows + footer)]
    if floors:
        lines += [
            "",
            *section(
                "features",
                [
                    "Feature phase (the own work of sauti's features jobs, summed) against its "
                    "floor, bare openSMILE (soundfile read + eGeMAPSv02 functionals with "
                    "`Smile.process_signal`, as Nkululeko extracts) of the same files in "
                    f"{args.jobs} threads of one process. Below 1: process_signal initializes "
                    "and frees an openSMILE instance per clip, sauti resets one per thread "
                    "(sauti.ml.features.opensmile_features):",
                    "",
                    "| corpus (files) | sauti features jobs | raw openSMILE | sauti / raw |",
                    "|---|---:|---:|---:|",
                    *[
                        f"| {c} ({n}) | {job:.1f} | {raw:.1f} | {job / raw:.2f} |"
                        for c, (job, raw, n) in floors.items()
                    ],
                ],
            ),
        ]
    if watched:
        table = [
            "`sauti watch`: seconds from saving the experiment file to the new headline printed "
            "(a script edits the file; Nkululeko's cached re-run of the same change beside it):",
            "",
            "| corpus | step | sauti watch | Nkululeko re-run | ratio |",
            "|---|---|---:|---:|---:|",
        ]
        for c, (seconds, nk_changed, nk_reverted) in watched.items():
            for step, nk in (("MODEL key changed", nk_changed), ("reverted", nk_reverted)):
                table.append(
                    f"| {c} | {step} | {seconds[step]:.2f} | {nk:.1f} | {seconds[step] / nk:.2f} |"
                )
        lines += ["", *section("watch", table)]
    if study:
        (sauti_s, sauti_uar, sauti_done), (nk_s, nk_uar), n = study
        lines += [
            "",
            *section(
                "study",
                [
                    f"6-configuration study {{os, praat}} x {{svm, xgb, tree}} on "
                    f"{args.study_corpus} ({n} files): sauti one GRID file (one DAG, "
                    f"-j{args.jobs}) {sauti_s:.1f} s; Nkululeko six INI files one after the "
                    f"other, one experiment name per feature set {nk_s:.1f} s; ratio "
                    f"{sauti_s / nk_s:.2f}.",
                    "",
                    "| configuration | sauti test UAR | Nkululeko test UAR |",
                    "|---|---:|---:|",
                    *[f"| {k} | {sauti_uar[k]:.3f} | {nk_uar[k]:.3f} |" for k in sauti_uar],
                ],
            ),
            "",
            f"sauti study jobs: {sauti_done}",
        ]
    lines += ["", "What each run did:", "", *notes]
    text = "\n".join(lines) + "\n"
    write_text(args.out, text)  # atomic, parent folders made
    print(text)


if __name__ == "__main__":
    main()
