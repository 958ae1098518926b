"""Stage keys, feature sharding, and training + evaluation on real features of the demo corpus.

Why these checks: caching is only correct if a config change alters exactly the keys of the
stages that depend on it (too few: stale results; too many: needless recomputation), if a
sharded feature extraction merges to exactly the one-shard table, and if the trained pipeline
is leak-free (scaler fitted on train rows only) and writes the metrics.json contract.
"""

from __future__ import annotations

import copy
import json

import numpy as np
import pandas as pd
import pytest

from sauti.config.resolve import resolve
from sauti.core.errors import SautiError
from sauti.core.fileio import read_table, write_table
from sauti.ml import evaluation, training
from sauti.ml.data import ID, load_database, select_and_split
from sauti.ml.features import extract
from sauti.stages.features import (
    feature_matrix,
    features_merge_stage,
    features_shard_stage,
    shard_rows,
)
from sauti.workflow.plan import plan_experiment

OS = {"set": "eGeMAPSv02", "level": "functionals"}


def base_config() -> dict:
    return {
        "EXP": {"name": "keys", "random_seed": 42},
        "DATA": {
            "databases": ["demo", "extra"],
            "demo": {"path": "data/demo/demo.csv", "test_size": 25},
            "extra": "data/demo/demo.csv",
            "target": "gender",
            "labels": ["female", "male"],
        },
        "FEATS": {"type": ["os", "mfcc"], "set": "eGeMAPSv02"},
        "MODEL": {"type": "svm", "C_val": 1.0},
        "PLOT": {"format": "png"},
    }


def keys(cfg: dict) -> dict:
    plan = plan_experiment(resolve(cfg))
    return {
        "samples": [s.key for s in plan.samples.values()],
        "features": [s.key for s in plan.features],
        "split": plan.split.key,
        "train": plan.train.key,
        "evaluate": plan.evaluate.key,
    }


def changed(edit) -> set:
    cfg = base_config()
    edit(cfg)
    before, after = keys(base_config()), keys(cfg)
    return {stage for stage in before if before[stage] != after[stage]}


# --------------------------------------------------------------------------- stage keys


def test_same_config_gives_same_keys():
    first, second = keys(base_config()), keys(base_config())
    assert first == second
    assert len(first["features"]) == 4  # (os, mfcc) x (demo, extra)
    assert len(set(first["features"])) == 4
    assert all(len(k) == 12 for k in [*first["samples"], *first["features"]])


def test_key_order_in_the_config_does_not_matter():
    cfg = base_config()
    reordered = {section: dict(reversed(list(cfg[section].items()))) for section in reversed(cfg)}
    reordered["DATA"]["demo"] = dict(reversed(list(cfg["DATA"]["demo"].items())))
    assert list(reordered) != list(cfg)
    assert keys(reordered) == keys(cfg)


def test_model_change_touches_only_train_and_evaluate():
    assert changed(lambda c: c["MODEL"].update(C_val=10)) == {"train", "evaluate"}


def test_feature_set_change_touches_features_train_evaluate():
    cfg = base_config()
    cfg["FEATS"]["set"] = "ComParE_2016"
    before, after = keys(base_config()), keys(cfg)
    assert changed(lambda c: c["FEATS"].update(set="ComParE_2016")) == {
        "features",
        "train",
        "evaluate",
    }
    # only the os features change; mfcc does not depend on the openSMILE set
    assert before["features"][:2] != after["features"][:2]
    assert before["features"][2:] == after["features"][2:]


def test_test_size_change_touches_split_train_evaluate():
    assert changed(lambda c: c["DATA"]["demo"].update(test_size=30)) == {
        "split",
        "train",
        "evaluate",
    }


def test_plot_format_change_touches_only_evaluate():
    assert changed(lambda c: c["PLOT"].update(format="svg")) == {"evaluate"}


def test_labels_change_touches_split_but_not_features():
    assert changed(lambda c: c["DATA"].update(labels=["female", "male", "x"])) == {
        "split",
        "train",
        "evaluate",
    }
    # also the target: features are computed per database, whatever is predicted
    assert "features" not in changed(lambda c: c["DATA"].update(target="language"))


def test_database_path_change_touches_its_samples_and_everything_downstream():
    # the same file spelled differently is the same database
    assert changed(lambda c: c["DATA"].update(extra="data/demo/../demo/demo.csv")) == set()
    cfg = base_config()
    cfg["DATA"]["extra"] = "data/other.csv"
    before, after = keys(base_config()), keys(cfg)
    assert before["samples"][0] == after["samples"][0]
    assert before["samples"][1] != after["samples"][1]
    assert before["features"][0] == after["features"][0]  # os on demo
    assert before["features"][1] != after["features"][1]  # os on extra
    assert before["split"] != after["split"]


def test_seed_change_touches_split_train_evaluate():
    assert changed(lambda c: c["EXP"].update(random_seed=1)) == {"split", "train", "evaluate"}


def test_identical_slices_share_keys_across_experiments():
    other = base_config()
    other["EXP"]["name"] = "other_name"
    a, b = keys(base_config()), keys(other)
    assert a["samples"] == b["samples"] and a["features"] == b["features"]
    assert a["split"] == b["split"] and a["train"] == b["train"]
    assert a["evaluate"] != b["evaluate"]  # plot titles carry the name


# --------------------------------------------------------------------------- shards


@pytest.mark.parametrize("n_rows", [0, 1, 2, 7, 24, 517])
def test_shard_rows_cover_every_row_exactly_once(n_rows):
    for n_shards in range(1, 6):
        covered = []
        for shard in range(n_shards):
            part = range(n_rows)[shard_rows(n_rows, shard, n_shards)]
            assert len(part) in (n_rows // n_shards, n_rows // n_shards + 1)
            covered.extend(part)
        assert covered == list(range(n_rows)), (n_rows, n_shards)


@pytest.fixture(scope="module")
def shard_samples(small_samples, tmp_path_factory) -> str:
    """A samples parquet of 12 real recordings, written as the samples stage writes it."""
    path = tmp_path_factory.mktemp("shards") / "samples.parquet"
    table = small_samples.iloc[::2].reset_index(drop=True).assign(db="demo")
    table["duration"] = table["end"] - table["start"]
    write_table(path, table)
    return str(path)


def run_shards(samples_path: str, folder, n_shards: int, order=None) -> pd.DataFrame:
    params = {"type": "mfcc", "n_mfcc": 13}
    paths = [str(folder / f"shard-{i}-of-{n_shards}.parquet") for i in range(n_shards)]
    for i, path in enumerate(paths):
        features_shard_stage(samples_path, params, i, n_shards, path)
    out = folder / f"features-{n_shards}.parquet"
    features_merge_stage([paths[i] for i in (order or range(n_shards))], samples_path, str(out))
    return read_table(out)


def test_merged_shards_equal_one_shard(shard_samples, tmp_path):
    one = run_shards(shard_samples, tmp_path, 1)
    two = run_shards(shard_samples, tmp_path, 2, order=[1, 0])
    three = run_shards(shard_samples, tmp_path, 3, order=[2, 0, 1])
    samples = read_table(shard_samples)
    assert len(one) == len(samples) == 12
    pd.testing.assert_frame_equal(one[ID], samples[ID])
    assert one.shape[1] == 3 + 4 * 13
    pd.testing.assert_frame_equal(one, two)
    pd.testing.assert_frame_equal(one, three)
    assert np.isfinite(one.drop(columns=ID).to_numpy()).all()


def test_merge_rejects_a_missing_shard(shard_samples, tmp_path):
    params = {"type": "mfcc", "n_mfcc": 13}
    paths = [str(tmp_path / f"shard-{i}-of-4.parquet") for i in range(4)]
    features_shard_stage(shard_samples, params, 0, 4, paths[0])
    features_shard_stage(shard_samples, params, 1, 4, paths[1])
    with pytest.raises(SautiError, match=r"feature shards hold \d+ rows but the database has 12"):
        features_merge_stage(paths[:2], shard_samples, str(tmp_path / "f.parquet"))


# --------------------------------------------------------------------------- train + evaluate


@pytest.fixture(scope="module")
def corpus(demo_table, tmp_path_factory):
    """160 synthetic recordings (4 per espeak voice) and their eGeMAPS features, extracted once."""
    folder = tmp_path_factory.mktemp("train")
    rows = demo_table[demo_table["source"] == "espeak"].groupby("speaker").head(4)
    csv = folder / "espeak.csv"
    rows.drop(columns=["start", "end"]).to_csv(csv, index=False)
    samples = load_database("demo", {"path": str(csv)})
    features = extract("os", samples[ID], OS, progress=False)
    features_path = folder / "features.parquet"
    write_table(features_path, pd.concat([samples[ID], features], axis=1))
    return {"csv": str(csv), "samples": samples, "features": str(features_path), "dir": folder}


def experiment(corpus, out_name: str, **edits):
    """Resolve a config, then run split -> feature matrix -> train -> evaluate like the rules."""
    cfg = {
        "EXP": {"name": out_name},
        "DATA": {"databases": ["demo"], "demo": corpus["csv"], "target": "gender"},
        "FEATS": {"type": ["os"]},
    }
    for section, values in edits.items():
        cfg.setdefault(section, {}).update(copy.deepcopy(values))
    plan = plan_experiment(resolve(cfg))
    data = select_and_split({"demo": corpus["samples"]}, plan.split.params)
    X = feature_matrix(data, [corpus["features"]], plan.train.params["feature_types"])
    result = training.train_runs(data, X, plan.train.params)
    out = corpus["dir"] / out_name
    out.mkdir()
    metrics = evaluation.evaluate(result["predictions"], result["info"], plan.evaluate.params, out)
    return {"data": data, "X": X, "result": result, "metrics": metrics, "out": out}


@pytest.fixture(scope="module")
def gender(corpus):
    return experiment(corpus, "gender")


def test_metrics_json_contract(gender):
    written = json.loads((gender["out"] / "metrics.json").read_text())
    assert written == json.loads(json.dumps(gender["metrics"]))
    assert {"target", "type", "labels", "test"} <= set(written)
    assert written["target"] == "gender"
    assert written["type"] == "classification"
    assert written["labels"] == ["female", "male"]
    test = written["test"]
    assert {"uar", "accuracy", "f1_macro", "per_class", "n"} <= set(test)
    assert set(test["per_class"]) == {"female", "male"}
    for scores in test["per_class"].values():
        assert set(scores) == {"precision", "recall", "f1", "support"}
    n_test = int((gender["data"]["split"] == "test").sum())
    assert test["n"] == n_test == sum(s["support"] for s in test["per_class"].values())
    assert "runs" not in written and "cv" not in written


def test_gender_is_learned_well_above_chance(gender):
    test = gender["metrics"]["test"]
    assert test["uar"] > 0.7
    assert test["accuracy"] > 0.7


def test_predictions_cover_the_test_split(gender):
    predictions = gender["result"]["predictions"]
    data = gender["data"]
    assert set(predictions["split"]) == {"test"}
    test_rows = data[data["split"] == "test"]
    assert len(predictions) == len(test_rows)
    assert set(predictions["file"]) == set(test_rows["file"])
    assert not set(predictions["speaker"]) & set(data.loc[data["split"] == "train", "speaker"])


def test_scaler_was_fitted_on_train_rows_only(gender):
    data, X = gender["data"], gender["X"]
    bundle = gender["result"]["bundle"]
    is_train = (data["split"] == "train").to_numpy()
    mean = bundle["scaler"]._scaler.mean_
    np.testing.assert_allclose(mean, X[is_train].mean().to_numpy(), rtol=1e-9, atol=1e-9)
    assert not np.allclose(mean, X.mean().to_numpy(), rtol=1e-6, atol=1e-9)
    assert bundle["feature_columns"] == list(X.columns)


def test_images_listed_in_images_json_exist(gender):
    images = json.loads((gender["out"] / "images.json").read_text())
    assert images
    for image in images:
        path = gender["out"] / image["file"]
        assert path.suffix == ".png" and path.stat().st_size > 1000
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert image["caption"]


def test_several_runs_report_mean_and_std(corpus):
    run = experiment(corpus, "runs", EXP={"runs": 3}, MODEL={"type": "xgb", "n_estimators": 20})
    metrics = run["metrics"]
    runs = metrics["runs"]
    assert runs["n"] == 3 and len(runs["test"]) == 3
    uars = [r["uar"] for r in runs["test"]]
    assert runs["uar_mean"] == pytest.approx(np.mean(uars))
    assert runs["uar_std"] == pytest.approx(np.std(uars), abs=1e-12)  # population std
    assert metrics["test"]["uar"] == pytest.approx(uars[0])  # "test" is run 0
    assert set(run["result"]["predictions"]["run"]) == {0, 1, 2}
    images = json.loads((run["out"] / "images.json").read_text())
    assert any(i["file"].startswith("runs.") for i in images)
    for image in images:
        assert (run["out"] / image["file"]).is_file()


@pytest.mark.parametrize(
    "model, method, n_folds",
    [({"loso": True}, "loso", None), ({"k_fold_cross": 3}, "k_fold_cross 3", 3)],
)
def test_cross_validation_reports_folds(corpus, model, method, n_folds):
    run = experiment(corpus, f"cv_{method.replace(' ', '_')}", MODEL=model)
    cv = run["metrics"]["cv"]
    data = run["data"]
    train_speakers = data.loc[data["split"] == "train", "speaker"].nunique()
    assert cv["method"] == method
    assert len(cv["folds"]) == (n_folds or train_speakers)
    assert sum(f["n"] for f in cv["folds"]) == int((data["split"] == "train").sum())
    assert all("uar" in f for f in cv["folds"])
    assert cv["mean"]["uar"] > 0.7
    images = json.loads((run["out"] / "images.json").read_text())
    assert any(i["file"].startswith("cv_folds.") for i in images)


def test_regression_of_speaking_rate(corpus):
    run = experiment(
        corpus,
        "rate",
        EXP={"type": "regression"},
        DATA={"target": "rate"},
        MODEL={"type": "svr", "C_val": 10},
    )
    metrics = run["metrics"]
    assert metrics["type"] == "regression" and metrics["labels"] is None
    assert {"ccc", "pcc", "mae", "mse", "n"} <= set(metrics["test"])
    assert metrics["test"]["pcc"] > 0.5
    images = json.loads((run["out"] / "images.json").read_text())
    assert [i["file"] for i in images] == ["scatter_test.png"]
    assert (run["out"] / "scatter_test.png").is_file()


def test_more_shards_than_rows(shard_samples, tmp_path):
    """An empty shard (more jobs than samples) must merge cleanly, not add NaN rows."""
    two = read_table(shard_samples).iloc[:2]
    path = str(tmp_path / "two.parquet")
    write_table(path, two)
    four = run_shards(path, tmp_path, 4)
    one = run_shards(path, tmp_path, 1)
    pd.testing.assert_frame_equal(one, four)
    assert len(four) == 2 and not four.isna().any().any()
