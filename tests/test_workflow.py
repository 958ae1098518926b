"""End-to-end: real snakemake runs on real speech, in a temporary working directory.

These tests prove the point of the design: a changed key re-runs exactly the stages that depend
on it, a reverted key finds the old results, shared stages are computed once, and bad input
stops with one clear line without leaving a result that looks finished.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from workflow_support import planned_jobs, run_ok, small_table, snakemake, write, write_csv

from sauti.config.read import parse_ini
from sauti.config.resolve import resolve
from sauti.workflow import snakemake as snakemake_cli

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.workflow


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, demo_dir) -> Path:
    """A CSV of 16 speakers x 5 clips pointing into the demo corpus."""
    return write_csv(tmp_path_factory.mktemp("corpus"), small_table(demo_dir))


def experiment(corpus: Path, name: str = "exp", **changes) -> dict:
    cfg = {
        "EXP": {"name": name, "shards": 2},
        "DATA": {
            "databases": ["small"],
            "small": {"path": str(corpus), "test_size": 25},
            "target": "gender",
            "labels": ["female", "male"],
        },
        "FEATS": {"type": ["os"], "set": "eGeMAPSv02"},
        "MODEL": {"type": "svm", "C_val": 1.0},
    }
    for dotted, value in changes.items():
        section, *keys = dotted.split("__")
        node = cfg[section]
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value
    return cfg


@pytest.fixture(scope="module")
def done(tmp_path_factory, corpus):
    """One completed run of the base experiment; tests below change keys around it."""
    workdir = tmp_path_factory.mktemp("work")
    configfile = write(workdir, experiment(corpus))
    run_ok(workdir, configfile)
    return workdir, corpus


def test_full_run_writes_the_user_facing_results(done):
    workdir, _ = done
    exp = workdir / "results" / "exp"
    metrics = json.loads((exp / "metrics.json").read_text())
    assert metrics["target"] == "gender" and metrics["type"] == "classification"
    assert metrics["labels"] == ["female", "male"]
    test = metrics["test"]
    assert set(test) >= {"uar", "accuracy", "f1_macro", "per_class", "n"}
    assert set(test["per_class"]["male"]) == {"precision", "recall", "f1", "support"}
    assert test["uar"] > 0.6, "gender from eGeMAPS should be well above chance (0.5)"
    predictions = pd.read_csv(exp / "predictions.csv")
    assert {
        "file",
        "start",
        "end",
        "speaker",
        "truth",
        "prediction",
        "proba_female",
        "proba_male",
    } <= set(predictions.columns)
    assert len(predictions) == test["n"]
    assert (exp / "images" / "confusion_test.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (exp / "report.html").read_text()
    assert "data:image/png;base64," in report and f"{test['uar']:.3f}" in report
    assert (
        "Exploration and bias check" in report and "cramers v" in report
    )  # EXPL.bias is on by default
    resolved = yaml.safe_load((exp / "config.yaml").read_text())
    assert (
        resolved["MODEL"]["batch_size"] == 8
    )  # the copy is the resolved config, defaults included
    assert not list(workdir.glob("*.part")) and not list((workdir / "results").rglob("*.part"))


def test_nothing_reruns_when_nothing_changed(done):
    workdir, corpus = done
    assert planned_jobs(workdir, write(workdir, experiment(corpus))) == {}


def test_model_key_reruns_only_train_evaluate_report(done):
    workdir, corpus = done
    jobs = planned_jobs(workdir, write(workdir, experiment(corpus, MODEL__C_val=10.0), "c10.yaml"))
    assert set(jobs) == {"train", "evaluate", "report", "all"}


def test_feature_key_reruns_features_not_data(done):
    workdir, corpus = done
    jobs = planned_jobs(
        workdir, write(workdir, experiment(corpus, FEATS__set="GeMAPSv01b"), "gemaps.yaml")
    )
    assert set(jobs) == {"features_shard", "features", "train", "evaluate", "report", "all"}
    assert jobs["features_shard"] == 2


def test_split_key_reruns_split_but_not_features(done):
    workdir, corpus = done
    jobs = planned_jobs(
        workdir, write(workdir, experiment(corpus, DATA__small__test_size=40), "t40.yaml")
    )
    assert set(jobs) == {"split", "explore", "train", "evaluate", "report", "all"}


def test_revert_reuses_old_results(done):
    workdir, corpus = done
    changed = write(workdir, experiment(corpus, MODEL__C_val=0.5), "c05.yaml")
    run_ok(workdir, changed)
    c05 = json.loads((workdir / "results/exp/metrics.json").read_text())
    original = write(workdir, experiment(corpus), "exp.yaml")
    assert set(planned_jobs(workdir, original)) == {"report", "all"}
    run_ok(workdir, original)
    # and back again: the C_val=0.5 results are found too
    assert set(planned_jobs(workdir, changed)) == {"report", "all"}
    run_ok(workdir, changed)
    again = json.loads((workdir / "results/exp/metrics.json").read_text())
    # provenance names the sauti commit of the report run, which may differ in a busy checkout
    assert {**again, "provenance": None} == {**c05, "provenance": None}


def test_two_experiments_share_data_and_features(tmp_path, corpus):
    a = write(tmp_path, experiment(corpus, "svm_exp"), "a.yaml")
    b = write(tmp_path, experiment(corpus, "knn_exp", MODEL__type="knn"), "b.yaml")
    both = tmp_path / "both.yaml"
    both.write_text(yaml.safe_dump({"experiments": [str(a), str(b)]}))
    jobs = planned_jobs(tmp_path, both)
    assert jobs["samples"] == 1 and jobs["features"] == 1 and jobs["split"] == 1
    assert jobs["features_shard"] == 2
    assert jobs["train"] == 2 and jobs["evaluate"] == 2 and jobs["report"] == 2


def test_split_follows_test_size_and_seed(tmp_path, corpus, monkeypatch):
    """Nkululeko defect 2: the split must follow test_size and random_seed, and be reproducible."""
    monkeypatch.chdir(tmp_path)  # the registry below resolves EXP.root (and its digest state) here
    splits = {}
    for label, cfg in {
        "base": experiment(corpus),
        "again": experiment(corpus, EXP__root="results_again"),
        "t40": experiment(corpus, DATA__small__test_size=40),
        "seed7": experiment(corpus, EXP__random_seed=7),
    }.items():
        configfile = write(tmp_path, cfg, f"{label}.yaml")
        run_ok(tmp_path, configfile)
        root = tmp_path / cfg["EXP"].get("root", "results")
        table = pd.concat(pd.read_parquet(p) for p in _split_files(root, configfile))
        splits[label] = table.set_index(["file", "start", "end"])["split"].sort_index()
    assert splits["base"].equals(splits["again"]), "same seed and settings must give the same split"
    assert (splits["t40"] == "test").sum() > (splits["base"] == "test").sum()
    assert not splits["seed7"].equals(splits["base"]), "another seed must give another split"


def _split_files(root: Path, configfile: Path) -> list[Path]:
    from sauti.workflow.registry import registry_from_files

    plan = registry_from_files([str(configfile)]).plans[0]
    return [root / "cache" / "split" / plan.split.key / "split.parquet"]


def test_ini_experiment_runs_through_sauti_cli(tmp_path, corpus):
    ini = tmp_path / "exp.ini"
    ini.write_text(
        "[EXP]\nname = ini_exp\n"
        f"[DATA]\ndatabases = ['small']\nsmall = {corpus}\nsmall.test_size = 25\n"
        "target = 'gender'\nlabels = ['female', 'male']\n"
        "[FEATS]\ntype = ['praat', 'mfcc']\n[MODEL]\ntype = 'xgb'\nn_estimators = 50\n"
    )
    result = subprocess.run(
        [str(Path(sys.executable).parent / "sauti"), "run", str(ini), "-j2"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    metrics = json.loads((tmp_path / "results/ini_exp/metrics.json").read_text())
    assert metrics["test"]["uar"] > 0.6
    converted = subprocess.run(
        [str(Path(sys.executable).parent / "sauti"), "convert", str(ini)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert resolve(yaml.safe_load(converted), "x") == resolve(parse_ini(ini.read_text()), "x")


def test_config_typo_stops_before_any_job_with_one_line(tmp_path, corpus):
    cfg = experiment(corpus)
    cfg["MODEL"]["C_vall"] = 2
    result = snakemake(tmp_path, write(tmp_path, cfg))
    assert result.returncode != 0
    output = result.stdout + result.stderr
    lines = [line for line in output.splitlines() if "C_vall" in line]
    assert len(lines) == 1 and "did you mean 'C_val'" in lines[0] and "exp.yaml" in lines[0]
    assert "Traceback" not in output
    assert not (tmp_path / "results").exists()


def test_missing_audio_fails_with_one_clear_line_and_no_output(tmp_path, corpus):
    table = pd.read_csv(corpus)
    table.loc[3, "file"] = str(tmp_path / "gone.wav")
    bad = tmp_path / "bad.csv"
    table.to_csv(bad, index=False)
    cfg = experiment(corpus)
    cfg["DATA"]["small"]["path"] = str(bad)
    result = snakemake(tmp_path, write(tmp_path, cfg))
    assert result.returncode != 0
    output = result.stdout + result.stderr
    line = f"DATA.small: 1 of {len(table)} audio files are missing: {tmp_path / 'gone.wav'}; full list in"
    assert line in output and "skip_bad" in output
    assert "Traceback" not in output
    assert not list((tmp_path / "results" / "cache" / "samples").rglob("samples.parquet"))
    cfg["DATA"]["skip_bad"] = True
    run_ok(tmp_path, write(tmp_path, cfg))
    assert (tmp_path / "results/exp/metrics.json").exists()


def test_working_directory_stays_clean(done):
    """Nkululeko defect 6: no scratch files in the working directory, only results/."""
    workdir, _ = done
    allowed = {"results", ".snakemake"}
    stray = [p.name for p in workdir.iterdir() if p.name not in allowed and p.suffix != ".yaml"]
    assert stray == []


def test_killed_run_leaves_nothing_that_looks_done_and_resumes(tmp_path, corpus):
    import os
    import signal
    import time

    configfile = write(tmp_path, experiment(corpus, FEATS__type=["praat"]))
    command = snakemake_cli.command(configfile, tmp_path, "-j2")
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    cache = tmp_path / "results" / "cache" / "features"
    deadline = time.time() + 120
    while time.time() < deadline and not list(cache.glob("*/shard-*.log")):
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)  # a shard job has started: kill everything now
    process.wait()
    assert list(cache.glob("*/shard-*.log")), "the run was killed before feature extraction began"
    assert not list(cache.glob("*/features.parquet")), "killed before the merge: no merged table"
    for shard in cache.glob("*/shard-*.parquet"):
        pd.read_parquet(shard)  # whatever is there under its final name is complete
    # a hard kill leaves Snakemake's lock behind; a user unlocks once and re-runs
    assert snakemake(tmp_path, configfile, "--unlock").returncode == 0
    run_ok(tmp_path, configfile)
    assert json.loads((tmp_path / "results/exp/metrics.json").read_text())["test"]["n"] > 0
