"""aug_train end to end: real snakemake on real speech with AUGMENT set.

Checks the promises of the augment stage: the experiment trains on original + augmented train
data and reports both results, augmented audio never reaches evaluation, an AUGMENT change
re-runs only augment, its features and train/evaluate/report, and the result without
augmentation is the very same stage as the experiment without AUGMENT (so it is free).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from workflow_support import planned_jobs, run_ok, small_table, write, write_csv

from sauti.workflow.registry import registry_from_files

pytestmark = pytest.mark.workflow


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, demo_dir) -> Path:
    return write_csv(tmp_path_factory.mktemp("corpus"), small_table(demo_dir))


def experiment(corpus: Path, **augment) -> dict:
    cfg = {
        "EXP": {"name": "aug", "shards": 2},
        "DATA": {
            "databases": ["small"],
            "small": {"path": str(corpus), "test_size": 25},
            "target": "gender",
            "labels": ["female", "male"],
        },
        "FEATS": {"type": ["mfcc"]},
        "MODEL": {"type": "svm"},
    }
    if augment:
        cfg["AUGMENT"] = augment
    return cfg


AUGMENTATIONS = [{"type": "noise", "min_snr_db": 10, "max_snr_db": 20}, "pitch_shift"]


@pytest.fixture(scope="module")
def done(tmp_path_factory, corpus):
    workdir = tmp_path_factory.mktemp("aug")
    configfile = write(workdir, experiment(corpus, augmentations=AUGMENTATIONS), "aug.yaml")
    first = planned_jobs(workdir, configfile)
    run_ok(workdir, configfile)
    return workdir, corpus, configfile, first


def test_first_run_plans_augment_its_features_and_both_trainings(done):
    *_, first = done
    assert first == {
        "samples": 1,
        "labels": 1,
        "split": 1,
        "augment": 1,
        "features_shard": 4,  # 2 shards for the database, 2 for the augmented table
        "features": 2,
        "train": 2,  # with and without augmentation
        "evaluate": 2,
        "explore": 1,  # the bias check (EXPL.bias, on by default)
        "report": 1,
        "all": 1,
    }


def test_metrics_and_report_show_both_results(done):
    workdir, _, configfile, _ = done
    exp = workdir / "results" / "aug"
    metrics = json.loads((exp / "metrics.json").read_text())
    entry = metrics["augmentation"]
    assert entry["with"]["test"] == metrics["test"], "the experiment's own result is 'with'"
    assert set(entry["without"]["test"]) >= {"uar", "accuracy", "f1_macro", "n"}
    assert entry["without"]["test"]["n"] == entry["with"]["test"]["n"] == metrics["test"]["n"]
    assert entry["n_train"]["augmented"] == entry["n_train"]["original"] > 0
    assert entry["augmentations"][1]["type"] == "pitch_shift"
    for result in (entry["with"], entry["without"]):
        assert result["test"]["uar"] > 0.6, "gender from MFCCs should be well above chance"
    report = (exp / "report.html").read_text()
    assert 'id="augmentation"' in report and "Without augmentation" in report
    assert f"{entry['without']['test']['uar']:.3f}" in report
    # the augmented model trained on twice the train rows; evaluation saw originals only
    plan = registry_from_files([str(configfile)]).plans[0]
    cache = workdir / "results" / "cache"
    info = json.loads((cache / "train" / plan.train.key / "info.json").read_text())
    base = json.loads(
        (cache / "train" / plan.augmentation.baseline_train.key / "info.json").read_text()
    )
    assert info["n"]["train"] == 2 * base["n"]["train"] and info["n"]["test"] == base["n"]["test"]
    predictions = pd.read_csv(exp / "predictions.csv")
    augmented = pd.read_parquet(
        cache / "augment" / plan.augmentation.augment.key / "samples.parquet"
    )
    assert not set(predictions["file"]) & set(augmented["file"])
    split = pd.read_parquet(cache / "split" / plan.split.key / "split.parquet")
    test_files = set(split.loc[split["split"] != "train", "file"])
    assert not set(augmented["augmented_from"]) & test_files, "test/dev audio was augmented"
    assert all(Path(f).is_file() for f in augmented["file"])


def test_augment_key_change_reruns_only_augmented_stages(done):
    workdir, corpus, _, _ = done
    changed = write(
        workdir, experiment(corpus, augmentations=AUGMENTATIONS, copies=2), "copies.yaml"
    )
    assert planned_jobs(workdir, changed) == {
        "augment": 1,
        "features_shard": 2,
        "features": 1,
        "train": 1,
        "evaluate": 1,
        "report": 1,
        "all": 1,
    }


def test_the_experiment_without_augment_is_the_shared_baseline(done):
    workdir, corpus, _, _ = done
    aug = json.loads((workdir / "results" / "aug" / "metrics.json").read_text())
    plain = write(workdir, experiment(corpus), "plain.yaml")
    assert planned_jobs(workdir, plain) == {"report": 1, "all": 1}
    run_ok(workdir, plain)
    metrics = json.loads((workdir / "results" / "aug" / "metrics.json").read_text())
    assert "augmentation" not in metrics
    assert metrics["test"] == aug["augmentation"]["without"]["test"]
