"""The uncertainty stage (PLOT.uncertainty_threshold) on real speech: the measure itself, its
scores against a direct computation from the report's predictions, and its cache key."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from workflow_support import (
    gender_experiment,
    planned_jobs,
    run_ok,
    small_table,
    write,
    write_csv,
)

from sauti.config.resolve import resolve
from sauti.config.schema import ConfigError
from sauti.ml.metrics import classification_metrics
from sauti.stages.uncertainty import uncertainty
from sauti.workflow.plan import plan_experiment


def test_uncertainty_is_the_normalised_entropy_of_the_probabilities():
    values = uncertainty(np.array([[1.0, 0.0], [0.5, 0.5], [0.75, 0.25]]))
    expected = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25)) / math.log(2)
    assert values.tolist() == pytest.approx([0.0, 1.0, expected])
    three = uncertainty(np.array([[1 / 3, 1 / 3, 1 / 3], [0.98, 0.01, 0.01]]))
    assert three[0] == pytest.approx(1.0) and 0 < three[1] < 0.15


def test_only_a_classification_experiment_with_a_threshold_plans_the_stage(tmp_path, demo_dir):
    corpus = write_csv(tmp_path, small_table(demo_dir, per_speaker=2))
    cfg = gender_experiment(corpus)
    assert "uncertainty" not in plan_experiment(resolve(dict(cfg))).extensions
    plan = plan_experiment(resolve({**cfg, "PLOT": {"uncertainty_threshold": 0.4}}))
    stage = plan.extensions["uncertainty"]
    assert stage.upstream == (plan.train,) and stage.params == {"threshold": 0.4}
    assert stage in plan.stages()


def test_the_report_scores_the_sure_predictions_and_a_new_threshold_reruns_only_it(
    tmp_path, demo_dir
):
    corpus = write_csv(tmp_path, small_table(demo_dir, per_speaker=5))
    cfg = {**gender_experiment(corpus), "PLOT": {"uncertainty_threshold": 0.5}}
    configfile = write(tmp_path, cfg)
    run_ok(tmp_path, configfile)

    report = (tmp_path / "results/exp/report.html").read_text(encoding="utf-8")
    assert '<section id="uncertainty">' in report
    predictions = pd.read_csv(tmp_path / "results/exp/predictions.csv")
    test = predictions[predictions["split"] == "test"]
    proba = test[[c for c in test.columns if c.startswith("proba_")]].to_numpy()
    sure = test[uncertainty(proba) <= 0.5]
    (summary_file,) = (tmp_path / "results/cache/uncertainty").glob("*/uncertainty.json")
    summary = json.loads(summary_file.read_text())
    assert summary["all"]["n"] == len(test)
    assert summary["below_threshold"]["n"] == len(sure)
    if len(sure):
        labels = ["female", "male"]
        direct = classification_metrics(sure["truth"], sure["prediction"], labels)
        assert summary["below_threshold"]["uar"] == direct["uar"]
    assert [c["coverage"] for c in summary["coverage"]][-1] == 1.0
    assert summary["coverage"][-1]["n"] == len(test)

    write(tmp_path, {**cfg, "PLOT": {"uncertainty_threshold": 0.2}})
    assert planned_jobs(tmp_path, configfile) == {"uncertainty": 1, "report": 1, "all": 1}


def test_a_threshold_in_a_regression_experiment_stops_with_one_line(tmp_path, demo_dir):
    corpus = write_csv(tmp_path, small_table(demo_dir, per_speaker=2))
    cfg = gender_experiment(corpus)
    cfg["EXP"]["type"] = "regression"
    cfg["MODEL"] = {"type": "svr"}
    cfg["DATA"] = {**cfg["DATA"], "target": "age"}
    del cfg["DATA"]["labels"]
    with pytest.raises(ConfigError, match=r"\[PLOT\] uncertainty_threshold needs EXP.type"):
        resolve({**cfg, "PLOT": {"uncertainty_threshold": 0.5}}, "exp.yaml")
