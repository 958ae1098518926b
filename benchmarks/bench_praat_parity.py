"""Benchmark: UAR of sauti's praat features against Nkululeko's, same models, many splits.

    .venv/bin/python benchmarks/bench_praat_parity.py [--seeds N] [--csv data/demo/demo.csv]
        [--nkululeko benchmarks/.nkululeko-venv/lib/python3.11/site-packages]

What it measures: whether sauti's praat features (`sauti.ml.features.extract("praat")`), with
each of its FEATS.praat.definitions (nkululeko, the default: Nkululeko's 45 columns; sauti: 47),
separate the target as well as Nkululeko's own (45 columns, its feats_praat_core), with only the
features differing; with the nkululeko definitions the predictions should be Nkululeko's, on
every split. All three are extracted once for every recording of the corpus; Nkululeko's
per file with its own AudioFeatureExtractor (read as bench_praat.py reads it, from `--nkululeko`,
a folder holding Nkululeko's `nkululeko` package), then, as Nkululeko does for each table it
extracts, its set-level columns (pF, JitterPCA, ShimmerPCA and the vocal-tract columns,
add_derived_features) computed over the train files and over the test files separately, and
NaN -> 0 (Nkululeko's default nan_strategy). For the seeds 0..N-1 of bench_nkululeko.py's
`speaker_split` (gender-stratified speaker split, a quarter of the speakers in test) and its
own seed 42 (the split of benchmarks/results/nkululeko.md), svm, xgb and tree are fitted on the
training speakers with sauti's own code path (`sauti.ml.training.fit_pipeline`: standard
scaling fitted on train, the model as sauti.ml.models builds it with sauti's defaults, seed 42,
no balancing, no class weights), once on each feature set, and scored by UAR on the test
speakers (bench_nkululeko.py's `uar`).

Writes benchmarks/results/praat_parity.md: per definitions and model, the UAR on the benchmark
split for sauti and Nkululeko, the mean over the N splits for both, the mean difference (sauti -
Nkululeko) with its standard error, on how many splits sauti's UAR is below, equal to or above
Nkululeko's, and on how many splits every test prediction is Nkululeko's.
The table sits between the snippet markers of section `parity`, which docs/benchmarks.md
includes.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib.metadata
import io
import os
import platform
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from sauti.core import audio
from sauti.core.fileio import write_text
from sauti.ml.features import extract, praat_features
from sauti.ml.training import fit_pipeline

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_nkululeko import CORPORA, REPO, section, speaker_split, uar  # noqa: E402
from bench_praat import nkululeko_extractor  # noqa: E402

MODELS = ("svm", "xgb", "tree")
BENCHMARK_SEED = 42  # the split of bench_nkululeko.py
MODEL_SEED = 42  # sauti's EXP.random_seed default
TARGET = "gender"
NKULULEKO_SITE = REPO / "benchmarks" / ".nkululeko-venv" / "lib" / "python3.11" / "site-packages"


def sauti_table(files: list[str], definitions: str) -> pd.DataFrame:
    """sauti's praat features of `files` (absolute paths) by `definitions`, indexed by file."""
    samples = pd.DataFrame({"file": files, "start": np.nan, "end": np.nan})
    params = {"praat.definitions": definitions}
    table = extract("praat", samples, params, progress=False)
    table.index = files
    return table


def nkululeko_per_file(folder: Path, files: list[str]) -> tuple[str, pd.DataFrame]:
    """Nkululeko's version and its per-file praat measures of `files` (NaN kept), by file."""
    version, extract_one = nkululeko_extractor(folder)
    rows = [extract_one(audio.read(path, None, None)) for path in files]
    return version, pd.DataFrame(rows, index=files)


def nkululeko_table(per_file: pd.DataFrame) -> pd.DataFrame:
    """Nkululeko's 45 columns for one extracted set: its set-level columns fitted over these
    files (add_derived_features), then NaN -> 0 as its default nan_strategy."""
    from nkululeko.feat_extract.feats_praat_core import add_derived_features

    # its PCA warns about NaN input and prints when it falls back to 0
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        table = add_derived_features(per_file.reset_index(drop=True))
    table.index = per_file.index
    return table.astype(float).replace([np.inf, -np.inf], np.nan).fillna(0.0)


def test_uars(train: pd.DataFrame, test: pd.DataFrame, X_train, X_test) -> dict[str, tuple]:
    """(test UAR, test predictions) of each model, fitted as sauti fits it on (X_train, train's
    target)."""
    labels = sorted(train[TARGET].unique())
    out = {}
    for model in MODELS:
        params = {
            "MODEL": {"type": model},
            "type": "classification",
            "scale": "standard",
            "balancing": None,
        }
        y, speakers = train[TARGET].to_numpy(), train["speaker"].to_numpy()
        scaler, fitted = fit_pipeline(X_train, y, speakers, params, MODEL_SEED, labels)
        X = np.asarray(scaler.transform(X_test, test["speaker"].to_numpy()), dtype=float)
        prediction = fitted.predict(X)  # as sauti predicts: the scaled array
        score = uar(test[TARGET].astype(str).reset_index(drop=True), pd.Series(prediction))
        out[model] = (score, np.asarray(prediction).astype(str))
    return out


def versions(nkululeko: str) -> str:
    names = ("scikit-learn", "xgboost", "numpy")
    found = ", ".join(f"{name} {importlib.metadata.version(name)}" for name in names)
    return (
        f"sauti {importlib.metadata.version('sauti')}, Nkululeko {nkululeko}, parselmouth "
        f"{praat_features.parselmouth.__version__} (Praat {praat_features.parselmouth.PRAAT_VERSION}), "
        f"{found}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--csv", type=Path, default=CORPORA["demo"])
    parser.add_argument("--seeds", type=int, default=100, help="splits with seeds 0..N-1")
    parser.add_argument("--nkululeko", type=Path, default=NKULULEKO_SITE)
    parser.add_argument(
        "--out", type=Path, default=REPO / "benchmarks" / "results" / "praat_parity.md"
    )
    args = parser.parse_args()
    if not (args.nkululeko / "nkululeko").is_dir():
        sys.exit(
            f"no nkululeko package in {args.nkululeko}; run benchmarks/bench_nkululeko.py once "
            "(it installs benchmarks/.nkululeko-venv) or pass --nkululeko DIR"
        )
    corpus = pd.read_csv(args.csv)
    files = [str((args.csv.parent / f).resolve()) for f in corpus["file"]]
    print(f"extracting {len(files)} recordings (sauti twice, then Nkululeko) ...", flush=True)
    ours = {d: sauti_table(files, d) for d in praat_features.DEFINITIONS}
    version, theirs_per_file = nkululeko_per_file(args.nkululeko, files)

    seeds = [BENCHMARK_SEED, *range(args.seeds)]
    scores: dict[int, dict[str, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in dict.fromkeys(seeds):
            split = speaker_split(args.csv, Path(tmp) / str(seed), seed=seed)
            train, test = (pd.read_csv(split[part]) for part in ("train", "test"))
            scores[seed] = {
                d: test_uars(train, test, table.loc[train["file"]], table.loc[test["file"]])
                for d, table in ours.items()
            }
            scores[seed]["Nkululeko"] = test_uars(
                train,
                test,
                nkululeko_table(theirs_per_file.loc[train["file"]]),
                nkululeko_table(theirs_per_file.loc[test["file"]]),
            )
            print(f"seed {seed}: " + ", ".join(
                f"{k} " + "/".join(f"{v[m][0]:.3f}" for m in MODELS) for k, v in scores[seed].items()
            ), flush=True)  # fmt: skip

    n = args.seeds
    lines = [
        f"{len(files)} recordings of {args.csv.name}, target {TARGET}; {n} speaker splits "
        f"(seeds 0-{n - 1} of bench_nkululeko.py's speaker_split) and the benchmark split "
        f"(seed {BENCHMARK_SEED}); sauti "
        + ", ".join(f"{d} definitions {t.shape[1]} columns" for d, t in ours.items())
        + f", Nkululeko {nkululeko_table(theirs_per_file).shape[1]}. "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"{datetime.date.today().isoformat()}; {versions(version)}.",
        "",
        f"| definitions | model | UAR seed {BENCHMARK_SEED}: sauti | Nkululeko "
        f"| mean UAR over {n}: sauti | Nkululeko | mean difference ± s.e. "
        "| sauti below / equal / above | splits with Nkululeko's predictions |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    bench = scores[BENCHMARK_SEED]
    for definitions in ours:
        for model in MODELS:
            ours_uar = np.array([scores[s][definitions][model][0] for s in range(n)])
            theirs_uar = np.array([scores[s]["Nkululeko"][model][0] for s in range(n)])
            same = sum(
                np.array_equal(scores[s][definitions][model][1], scores[s]["Nkululeko"][model][1])
                for s in range(n)
            )
            diff = ours_uar - theirs_uar
            error = diff.std(ddof=1) / np.sqrt(n) if n > 1 else float("nan")
            equal = np.isclose(diff, 0.0, rtol=0.0, atol=1e-9)  # UAR steps are ~1/(2 * clips)
            lines.append(
                f"| {definitions} | {model} | {bench[definitions][model][0]:.3f} | "
                f"{bench['Nkululeko'][model][0]:.3f} | "
                f"{ours_uar.mean():.4f} | {theirs_uar.mean():.4f} | "
                f"{diff.mean():+.4f} ± {error:.4f} | "
                f"{int((~equal & (diff < 0)).sum())} / {int(equal.sum())} / "
                f"{int((~equal & (diff > 0)).sum())} | {same} of {n} |"
            )
    text = "\n".join(["# praat features: sauti against Nkululeko", "", *section("parity", lines)])
    write_text(args.out, text + "\n")  # atomic, parent folders made
    print(text)


if __name__ == "__main__":
    main()
