"""Benchmark: the demo corpus's documented experiments, run as a user runs them.

    .venv/bin/python benchmarks/bench_examples.py [--jobs 2]

Why: docs/demo-corpus.md shows what the default experiment and five examples give on the demo
corpus (docs/train.md and docs/ensemble.md point to it); those figures must come from a run, not be typed in (they went stale once when the
svm's labels changed). Each experiment runs with `sauti run FILE -jN`, the command its header
names, in a fresh working directory (links `data` and `config` to this repository's folders,
so the files' relative paths hold, and no cache from earlier runs), without the warm worker (SAUTI_WORKER=0:
the first run of a new user). The headline is the test metric of the experiment's
metrics.json (UAR for classification, CCC for regression; mean ± std over EXP.runs), and for an
ensemble its members' on the same samples (comparison.csv).

Writes benchmarks/results/examples.md (section `examples`, which docs/demo-corpus.md includes).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from sauti.config.read import read_file
from sauti.config.resolve import resolve
from sauti.core.fileio import write_text
from sauti.stages.summary import headline as headline_metric

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_nkululeko import section  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SAUTI = Path(sys.executable).with_name("sauti")
EXPERIMENTS = (
    "config/config.yaml",
    "config/examples/demo_gender.ini",
    "config/examples/demo_rate_regression.yaml",
    "config/examples/demo_gender_augmented.yaml",
    "config/examples/demo_gender_mlp.yaml",
    "config/examples/demo_ensemble.yaml",
)


def describe(cfg: dict) -> tuple[str, str]:
    """(features, model) of a resolved config, or of an ensemble file as written."""
    ensemble = cfg.get("ENSEMBLE") or {}
    if ensemble.get("experiments"):
        return "its members'", f"ensemble of {len(ensemble['experiments'])}, {ensemble['method']}"
    feats = cfg["FEATS"]
    kinds = []
    for kind in feats["type"]:
        kinds.append(f"os {feats['set']}" if kind == "os" else kind)
        if kind == "praat":
            kinds[-1] += f" ({feats['praat.definitions']} definitions)"
    model = cfg["MODEL"]["type"]
    runs = cfg["EXP"].get("runs", 1)
    return " + ".join(kinds), model + (f", {runs} runs" if runs > 1 else "")


def headline(metrics: dict, exp_dir: Path) -> str:
    """The test headline of metrics.json: UAR (over EXP.runs: mean ± std) and per speaker, or
    CCC and PCC; with aug_train also the result without augmentation, for an ensemble its
    members' (comparison.csv: on the same samples)."""
    test = metrics["test"]
    name = headline_metric(metrics["type"])  # uar or ccc
    runs = metrics.get("runs")
    if runs:
        text = f"{name.upper()} {runs[f'{name}_mean']:.3f} ± {runs[f'{name}_std']:.3f}"
        text += f" over {runs['n']} runs"
    else:
        text = f"{name.upper()} {test[name]:.3f}"
    if name == "uar" and "test_per_speaker" in metrics:
        text += f" (per speaker {metrics['test_per_speaker']['uar']:.3f})"
    elif name == "ccc":
        text += f", PCC {test['pcc']:.3f}"
    without = metrics.get("augmentation", {}).get("without", {}).get("test")
    if without:  # aug_train: the same experiment trained without the augmented audio
        text += f" (without augmentation {without[name]:.3f})"
    comparison = exp_dir / "comparison.csv"
    if comparison.exists():
        table = pd.read_csv(comparison)
        members = table[table["role"] == "member"]
        pairs = zip(members["experiment"], members[name], strict=True)
        scores = ", ".join(f"{member} {value:.3f}" for member, value in pairs)
        text += f"; members {scores}"
    return text


def run(experiment: str, jobs: int) -> tuple[dict, dict, float, str]:
    """(resolved config, metrics.json, wall seconds, headline) of one fresh `sauti run`; an
    ensemble's config as written (it resolves into its members)."""
    source = REPO / experiment
    with tempfile.TemporaryDirectory(prefix="sauti-example-") as tmp:
        workdir = Path(tmp)
        for folder in ("data", "config"):  # the experiments' relative paths (an ensemble's
            (workdir / folder).symlink_to(REPO / folder)  # members); results stay in workdir
        env = {**os.environ, "SAUTI_WORKER": "0", "XDG_RUNTIME_DIR": tmp}
        started = time.perf_counter()
        result = subprocess.run(
            [str(SAUTI), "run", str(source), f"-j{jobs}"],
            cwd=workdir, env=env, capture_output=True, text=True,
        )  # fmt: skip
        elapsed = time.perf_counter() - started
        if result.returncode != 0:
            sys.exit(f"{experiment} failed:\n{(result.stdout + result.stderr)[-3000:]}")
        cwd = os.getcwd()
        os.chdir(workdir)  # relative paths resolve as they did for the run
        try:
            raw = read_file(source)
            ensemble = (raw.get("ENSEMBLE") or {}).get("experiments")
            cfg = raw if ensemble else resolve(raw, str(source))
        finally:
            os.chdir(cwd)
        exp_dir = workdir / "results" / cfg["EXP"]["name"]
        metrics = json.loads((exp_dir / "metrics.json").read_text())
        result = headline(metrics, exp_dir)
    return cfg, metrics, elapsed, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "examples.md")
    args = parser.parse_args()
    rows = []
    for experiment in EXPERIMENTS:
        cfg, metrics, seconds, result = run(experiment, args.jobs)
        features, model = describe(cfg)
        target = metrics["target"]
        print(f"{experiment}: {result}, {seconds:.1f} s", flush=True)
        rows.append(
            f"| `{experiment}` | {target} | {features} | {model} | {result} | {seconds:.0f} |"
        )
    table = [
        f"`benchmarks/bench_examples.py`: each experiment with `sauti run FILE -j{args.jobs}` in a "
        f"fresh folder (first run, no warm worker). {platform.machine()}, {os.cpu_count()} CPUs, "
        f"{datetime.datetime.now():%Y-%m-%d %H:%M}.",
        "",
        "| experiment | target | features | model | test result | first run s |",
        "|---|---|---|---|---|---:|",
        *rows,
    ]
    lines = ["# The demo corpus's documented experiments", "", *section("examples", table)]
    text = "\n".join(lines) + "\n"
    write_text(args.out, text)  # atomic, parent folders made
    print(text)


if __name__ == "__main__":
    main()
