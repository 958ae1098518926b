"""End-to-end on real speech: ensembles, grids, multidb and OPTIM through real Snakemake runs.

One working directory holds three trained members (praat + svm, mfcc + knn, praat + mfcc +
xgb, all with a dev split) and a fourth with another split; ensembles, a grid and an OPTIM
experiment run on top of them, so the tests also show that keyed stages are shared (members
are not retrained, the grid reuses their features, split and one train stage).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from workflow_support import planned_jobs, small_table, snakemake, write

from sauti.config.sections.ensemble import METHODS
from sauti.stages.ensemble import run_ensemble
from sauti.workflow import snakemake as snakemake_cli

pytestmark = pytest.mark.workflow


@pytest.fixture(scope="module")
def corpus(demo_dir) -> pd.DataFrame:
    return small_table(demo_dir)


def experiment(csv: Path, name: str, feats: list[str], model: dict, **exp) -> dict:
    return {
        "EXP": {"name": name, "shards": 1, "traindevtest": True, **exp},
        "DATA": {
            "databases": ["small"],
            "small": {"path": str(csv), "test_size": 25},
            "target": "gender",
            "labels": ["female", "male"],
        },
        "FEATS": {"type": feats},
        "MODEL": model,
    }


MEMBERS = {
    "a": (["praat"], {"type": "svm"}),
    "b": (["mfcc"], {"type": "knn", "K_val": 5}),
    "c": (["praat", "mfcc"], {"type": "xgb", "n_estimators": 30}),
}


@pytest.fixture(scope="module")
def work(tmp_path_factory, corpus):
    """Members a, b, c (one split) and d (another seed, another split); three ensembles run in
    one DAG with --keep-going: max_class and performance_weighted over a, b, c, and a mean
    over a and d whose test sets differ."""
    workdir = tmp_path_factory.mktemp("compose")
    csv = workdir / "small.csv"
    corpus.to_csv(csv, index=False)
    files = {
        name: write(workdir, experiment(csv, name, feats, model), f"{name}.yaml")
        for name, (feats, model) in MEMBERS.items()
    }
    files["d"] = write(
        workdir, experiment(csv, "d", ["praat"], {"type": "svm"}, random_seed=7), "d.yaml"
    )
    abc = [str(files[n]) for n in "abc"]
    ensembles = {
        "ens_max_class": {"experiments": abc, "method": "max_class"},
        "ens_perf": {"experiments": abc, "method": "performance_weighted"},
        "ens_bad": {"experiments": [str(files["a"]), str(files["d"])], "method": "mean"},
    }
    listed = [
        str(write(workdir, {"EXP": {"name": name}, "ENSEMBLE": body}, f"{name}.yaml"))
        for name, body in ensembles.items()
    ]
    everything = write(workdir, {"experiments": listed}, "all.yaml")
    result = snakemake(workdir, everything, "--keep-going")
    return {"dir": workdir, "csv": csv, "files": files, "result": result}


def results(work, name: str) -> Path:
    return work["dir"] / "results" / name


def member_predictions(work) -> dict[str, pd.DataFrame]:
    return {n: pd.read_csv(results(work, n) / "predictions.csv") for n in MEMBERS}


def test_ensemble_writes_the_contract_and_a_report(work):
    out = results(work, "ens_max_class")
    assert (out / "metrics.json").exists(), work["result"].stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["type"] == "classification" and metrics["labels"] == ["female", "male"]
    assert set(metrics["test"]) >= {"uar", "accuracy", "f1_macro", "per_class", "n", "confusion"}
    assert metrics["ensemble"]["members"] == ["a", "b", "c"]
    predictions = pd.read_csv(out / "predictions.csv")
    assert list(predictions.columns[:6]) == [
        "file",
        "start",
        "end",
        "speaker",
        "truth",
        "prediction",
    ]
    members = member_predictions(work)
    test_n = len(members["a"].query("split == 'test'"))
    assert metrics["test"]["n"] == test_n == (predictions["split"] == "test").sum()
    comparison = pd.read_csv(out / "comparison.csv")
    assert list(comparison["experiment"]) == ["a", "b", "c", "ensemble (max_class)"]
    for name in MEMBERS:  # members' rows repeat their own test results
        own = json.loads((results(work, name) / "metrics.json").read_text())["test"]["uar"]
        assert comparison.set_index("experiment").loc[name, "uar"] == pytest.approx(own)
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 2 and "max_class" in html
    assert "| ensemble (max_class) | ensemble |" in (out / "comparison.md").read_text()


def test_max_class_follows_the_most_confident_member_per_sample(work):
    """Checked against the members' own predictions.csv, joined by sample id."""
    ensemble = pd.read_csv(results(work, "ens_max_class") / "predictions.csv")
    ensemble = ensemble.query("split == 'test'").set_index(["file", "start", "end"])
    members = {
        n: t.query("split == 'test'").set_index(["file", "start", "end"]).loc[ensemble.index]
        for n, t in member_predictions(work).items()
    }
    confidence = np.stack([t[["proba_female", "proba_male"]].max(axis=1) for t in members.values()])
    chosen = confidence.argmax(axis=0)
    probas = np.stack([t["proba_female"].to_numpy() for t in members.values()])
    expected = probas[chosen, np.arange(len(chosen))]
    assert ensemble["proba_female"].to_numpy() == pytest.approx(expected)


def test_performance_weighted_uses_each_members_dev_uar(work):
    metrics = json.loads((results(work, "ens_perf") / "metrics.json").read_text())
    dev = {
        n: json.loads((results(work, n) / "metrics.json").read_text())["dev"]["uar"]
        for n in MEMBERS
    }
    total = sum(dev.values())
    assert metrics["ensemble"]["weights"] == pytest.approx({n: v / total for n, v in dev.items()})
    assert "dev" in metrics and 0.5 <= metrics["test"]["uar"] <= 1.0


def test_members_with_other_test_sets_stop_the_ensemble_with_one_line(work):
    result = work["result"]
    assert result.returncode != 0
    # the job's own line (Snakemake also echoes the job's log file, where it is logged)
    lines = [line for line in result.stderr.splitlines() if line.startswith("sauti ensemble:")]
    assert len(lines) == 1, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert lines[0].startswith(
        "sauti ensemble: error: ensemble members' test sets differ (a 20, d 20"
    )
    assert "e.g. " in lines[0] and ".wav [" in lines[0]
    assert not (results(work, "ens_bad") / "metrics.json").exists()


def test_every_method_on_the_real_members(work):
    """All nine methods on the cached train predictions of a, b and c."""
    from sauti.core.fileio import read_json
    from sauti.workflow.registry import registry_from_files

    registry = registry_from_files([str(work["files"][n]) for n in MEMBERS])
    root = work["dir"]
    tables, infos = {}, {}
    for plan in registry.plans:
        tables[plan.name] = pd.read_parquet(root / registry.path("train", plan.train.key))
        infos[plan.name] = read_json(root / registry.path("train", plan.train.key, "info.json"))
    outcome = {m: run_ensemble(tables, infos, m, threshold=0.5) for m in METHODS}
    test = {m: r["predictions"].query("split == 'test'") for m, r in outcome.items()}
    n = outcome["mean"]["metrics"]["test"]["n"]
    for method, result in outcome.items():
        metrics = result["metrics"]
        assert metrics["test"]["n"] == n and 0.0 <= metrics["test"]["uar"] <= 1.0, method
        assert set(test[method]["prediction"]) <= {"female", "male"}
        assert test[method][["proba_female", "proba_male"]].sum(axis=1).to_numpy() == pytest.approx(
            1.0
        )
    assert list(test["sum"]["prediction"]) == list(test["mean"]["prediction"])
    default = run_ensemble(tables, infos, "uncertainty_threshold", threshold=1.0)
    assert default["predictions"]["proba_female"].to_numpy() == pytest.approx(
        outcome["mean"]["predictions"]["proba_female"].to_numpy()
    )
    # where all three members predict the same label, majority voting agrees with them
    votes = np.stack(
        [
            t.query("split == 'test' and run == 0").sort_values(["file", "start", "end"])[
                "prediction"
            ]
            for t in tables.values()
        ]
    )
    unanimous = (votes == votes[0]).all(axis=0)
    majority = (
        test["majority_voting"].sort_values(["file", "start", "end"])["prediction"].to_numpy()
    )
    assert unanimous.any() and (majority[unanimous] == votes[0][unanimous]).all()
    # the Snakemake run of max_class gave the same numbers as this in-process one
    saved = json.loads((results(work, "ens_max_class") / "metrics.json").read_text())
    assert saved["test"] == outcome["max_class"]["metrics"]["test"]


def test_sauti_ensemble_reuses_the_trained_members(work):
    sauti = str(Path(sys.executable).parent / "sauti")
    files = [str(work["files"][n]) for n in MEMBERS]
    result = subprocess.run(
        [sauti, "ensemble", *files, "--method", "mean", "-n", "-j2"],
        cwd=work["dir"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    jobs = snakemake_cli.job_counts(result.stdout + result.stderr)
    assert jobs == {"ensemble": 1, "ensemble_report": 1, "all": 1}


# --------------------------------------------------------------------------- grid and OPTIM

GRID = {"FEATS.type": [["praat"], ["praat", "mfcc"]], "MODEL.type": ["svm", "knn"]}


def test_a_2x2_grid_computes_each_feature_set_once(tmp_path, corpus):
    csv = tmp_path / "small.csv"
    corpus.to_csv(csv, index=False)
    grid = {**experiment(csv, "g", ["praat"], {"type": "svm"}), "GRID": GRID}
    jobs = planned_jobs(tmp_path, write(tmp_path, grid, "grid.yaml"))
    # praat and mfcc, one database: not 3 (praat is shared); praat in a process of its own
    assert jobs["features"] == 1 and jobs["features_process"] == 1
    assert "features_shard" not in jobs  # EXP.shards 1: each features job extracts itself
    assert jobs["samples"] == 1 and jobs["split"] == 1
    assert jobs["train"] == jobs["evaluate"] == jobs["report"] == 4
    assert jobs["grid_summary"] == 1


@pytest.fixture(scope="module")
def grid_and_optim(work):
    """The grid and an OPTIM experiment beside the members: their stages are shared."""
    workdir, csv = work["dir"], work["csv"]
    grid = write(
        workdir, {**experiment(csv, "g", ["praat"], {"type": "svm"}), "GRID": GRID}, "grid.yaml"
    )
    optim = write(
        workdir,
        {
            **experiment(csv, "opt", ["praat"], {"type": "svm"}),
            "OPTIM": {"params": {"C_val": [0.0001, 1.0, 10.0]}, "cv_folds": 3},
        },
        "optim.yaml",
    )
    both = write(workdir, {"experiments": [str(grid), str(optim)]}, "grid_optim.yaml")
    jobs = planned_jobs(workdir, both)
    result = snakemake(workdir, both)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    return jobs


def test_grid_reuses_what_the_members_computed(grid_and_optim):
    jobs = grid_and_optim
    # praat and mfcc features and the split exist already; g-praat-svm is member a's train
    assert "features" not in jobs and "split" not in jobs
    assert jobs["train"] == 3 and jobs["optim"] == 1


def test_grid_summary(work, grid_and_optim):
    folder = results(work, "g") / "grid"
    table = pd.read_csv(folder / "summary.csv")
    assert sorted(table["experiment"]) == [
        "g-praat+mfcc-knn",
        "g-praat+mfcc-svm",
        "g-praat-knn",
        "g-praat-svm",
    ]
    rows = table.set_index("experiment")
    assert rows.loc["g-praat+mfcc-knn", "FEATS.type"] == "praat+mfcc"
    assert rows.loc["g-praat-svm", "FEATS.type"] == "praat"
    # a leaderboard: best first, ranks and scores in order
    assert list(table["rank"]) == sorted(table["rank"]) and table["rank"].iloc[0] == 1
    assert list(table["uar"]) == sorted(table["uar"], reverse=True) and table["uar"].notna().all()
    own = json.loads((results(work, "g-praat-svm") / "metrics.json").read_text())["test"]["uar"]
    assert rows.loc["g-praat-svm", "uar"] == pytest.approx(own)
    markdown = (folder / "summary.md").read_text()
    assert "| g-praat+mfcc-knn | praat+mfcc | knn |" in markdown
    assert (folder / "summary.png").read_bytes()[:4] == b"\x89PNG"


def test_optim_reports_the_best_setting(work, grid_and_optim):
    folder = results(work, "opt") / "optim"
    table = pd.read_csv(folder / "results.csv")
    best = json.loads((folder / "best.json").read_text())
    assert list(table["C_val"]) == [0.0001, 1.0, 10.0]
    assert best["cv_mean"] == pytest.approx(table["cv_mean"].max())
    assert best["best"]["C_val"] != 0.0001
    assert best["cv_mean"] > table.loc[0, "cv_mean"]  # better than the deliberately bad one
    assert best["MODEL"]["C_val"] == best["best"]["C_val"] and best["MODEL"]["type"] == "svm"
    assert 0.0 <= best["test"]["uar"] <= 1.0 and best["test"]["n"] > 0
    assert "cv uar (mean ± std)" in (folder / "results.md").read_text()
    # the experiment itself ran as usual beside its search
    assert (results(work, "opt") / "metrics.json").exists()


# --------------------------------------------------------------------------- multidb


def test_multidb_matrix_on_real_and_synthetic_speech(tmp_path, corpus):
    corpus[corpus["source"] == "real"].to_csv(tmp_path / "real.csv", index=False)
    corpus[corpus["source"] == "espeak"].to_csv(tmp_path / "espeak.csv", index=False)
    cfg = {
        "EXP": {"name": "cross", "shards": 1},
        "DATA": {
            "databases": ["real", "espeak"],
            "real": {"path": str(tmp_path / "real.csv"), "test_size": 25},
            "espeak": {"path": str(tmp_path / "espeak.csv"), "test_size": 25},
            "target": "gender",
            "labels": ["female", "male"],
        },
        "FEATS": {"type": ["praat"]},
        "MODEL": {"type": "svm"},
        "MULTIDB": {"databases": ["real", "espeak"]},
    }
    configfile = write(tmp_path, cfg, "multidb.yaml")
    jobs = planned_jobs(tmp_path, configfile)
    assert jobs["features_process"] == 2 and jobs["samples"] == 2  # each database once (praat)
    assert jobs["train"] == 4 and jobs["multidb_summary"] == 1
    result = snakemake(tmp_path, configfile)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    folder = tmp_path / "results" / "cross" / "multidb"
    matrix = pd.read_csv(folder / "matrix.csv").set_index("train")
    assert list(matrix.index) == ["real", "espeak"] and list(matrix.columns) == ["real", "espeak"]
    assert matrix.notna().all().all() and ((matrix >= 0) & (matrix <= 1)).all().all()
    cells = pd.read_csv(folder / "cells.csv").set_index(["train", "test"])
    n_real = int((corpus["source"] == "real").sum())
    assert cells.loc[("espeak", "real"), "n_test"] == n_real  # the whole other database
    assert cells.loc[("real", "real"), "n_test"] < n_real  # its own speaker-independent split
    assert cells.loc[("real", "espeak"), "experiment"] == "cross-real-espeak"
    assert "| real |" in (folder / "matrix.md").read_text()
    assert (folder / "heatmap.png").read_bytes()[:4] == b"\x89PNG"
