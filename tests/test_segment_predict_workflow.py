"""End-to-end SEGMENT and PREDICT: real snakemake on real speech in a temporary folder.

The segments replace the recordings for features and training; a SEGMENT change re-runs
segmentation and what follows but not the databases' samples or the split; a PREDICT change
re-runs only predict, explore and the report; a model from the run predicts its target back.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from workflow_support import planned_jobs, run_ok, small_table, write, write_csv

from sauti.workflow.registry import registry_from_files

pytestmark = pytest.mark.workflow


def experiment(corpus: Path, **changes) -> dict:
    cfg = {
        "EXP": {"name": "seg", "shards": 1},
        "DATA": {
            "databases": ["small"],
            "small": {"path": str(corpus), "test_size": 25},
            "target": "gender",
            "labels": ["female", "male"],
        },
        "FEATS": {"type": ["os"]},
        "MODEL": {"type": "svm"},
        "SEGMENT": {"databases": ["small"], "min_length": 0.3, "max_length": 1.0},
        "PREDICT": {"targets": ["snr"]},
    }
    for section, values in changes.items():
        cfg[section] = {**cfg[section], **values}
    return cfg


@pytest.fixture(scope="module")
def done(tmp_path_factory, demo_dir):
    workdir = tmp_path_factory.mktemp("segwork")
    corpus = write_csv(workdir, small_table(demo_dir))
    cfg = experiment(corpus)
    if shutil.which("pdflatex"):  # REPORT.latex through the report rule as well
        cfg["REPORT"] = {"latex": "seg_report"}
    run_ok(workdir, write(workdir, cfg))
    return workdir, corpus


def test_segments_feed_training_and_the_report(done):
    workdir, corpus = done
    exp = workdir / "results" / "seg"
    segments = pd.read_csv(exp / "small_seg.csv")  # SEGMENT.segment_target names the table
    original = pd.read_csv(corpus)
    assert len(segments) >= 0.8 * len(original)
    assert (segments["end"] - segments["start"]).between(0.3, 1.0 + 1e-6).all()
    predictions = pd.read_csv(exp / "predictions.csv")
    assert set(zip(predictions["file"], predictions["start"], strict=True)) <= set(
        zip(segments["file"], segments["start"], strict=True)
    )  # the model was trained and tested on segments
    metrics = json.loads((exp / "metrics.json").read_text())
    assert metrics["test"]["uar"] > 0.55  # above chance on ~20 test segments
    predicted = pd.read_csv(exp / "predicted.csv")
    assert predicted["est_snr"].notna().all() and len(predicted) == len(segments)
    report = (exp / "report.html").read_text()
    assert "Segmentation" in report and "Estimated labels" in report and "est_snr" in report
    if shutil.which("pdflatex"):
        assert (exp / "seg_report.pdf").read_bytes()[:5] == b"%PDF-"
    registry = registry_from_files([str(workdir / "exp.yaml")])
    explore = workdir / registry.path("explore", registry.plans[0].explore.key)
    bias = pd.read_csv(explore.parent / "bias.csv")
    assert "est_snr" in set(bias["column"])  # the bias check tests the estimated column


def test_segment_change_reruns_segmentation_and_what_follows(done):
    workdir, corpus = done
    cfg = experiment(corpus, SEGMENT={"databases": ["small"], "min_length": 0.4, "max_length": 1.0})
    jobs = planned_jobs(workdir, write(workdir, cfg, "minlen.yaml"))
    assert set(jobs) == {"segment", "features", "train", "evaluate", "predict", "explore",
                         "report", "all"}  # fmt: skip


def test_predict_change_reruns_only_predict_explore_report(done):
    workdir, corpus = done
    registry = registry_from_files([str(workdir / "exp.yaml")])
    model = str(workdir / registry.path("train", registry.plans[0].train.key, "model.joblib"))
    cfg = experiment(corpus, PREDICT={"targets": ["snr", "gender"], "model": model})
    configfile = write(workdir, cfg, "model.yaml")
    assert set(planned_jobs(workdir, configfile)) == {"predict", "explore", "report", "all"}
    run_ok(workdir, configfile)
    predicted = pd.read_csv(workdir / "results" / "seg" / "predicted.csv")
    assert set(predicted["est_gender"]) <= {"female", "male"}
    assert (predicted["est_gender"] == predicted["gender"]).mean() > 0.7
