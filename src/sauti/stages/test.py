"""DATA.tests: evaluate an experiment's saved model on other labelled databases.

Why a keyed stage of its own (rule `test`, key = train key + the test database's samples and
feature keys + its selection): the extra databases reuse the ordinary samples and features
rules, so their features are extracted once and shared with any experiment that trains on
them, and a new test set never retrains anything. The stage uses only the saved bundle, through
sauti.ml.bundle, so it runs exactly the training-time pipeline (same features and column order,
same fitted scaler, same label set); Nkululeko's test module skipped the scaler (defect 3).

Results: `<root>/cache/test/<key>/` (metrics.json with the evaluate stage's contract,
predictions.parquet, a confusion-matrix or scatter plot), published by rule `test_results` to
`<root>/<name>/tests/<db>/` and shown in the report.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from sauti.config.sections.tests import test_databases
from sauti.core.errors import SautiError
from sauti.core.fileio import publish_images, read_json, read_table, write_json, write_table
from sauti.core.keys import Keyed, make_stage
from sauti.ml.bundle import load_bundle, predict_features, prediction_table
from sauti.ml.data import ID, filter_length, filter_rows, prepare_target
from sauti.ml.drops import DropLog
from sauti.stages.base import StageSpec
from sauti.stages.features import feature_matrix, feature_stage
from sauti.stages.samples import database_stages
from sauti.stages.train import MODEL_SOURCES

log = logging.getLogger("sauti.test")

TEST = Keyed("test", 1, None, ("stages/test.py", "ml/metrics.py", *MODEL_SOURCES))


#: The per-database options that select a test database's samples (split options do not apply).
SELECT_OPTIONS = ("mapping", "filter")


# --------------------------------------------------------------------------- planning


def plan_tests(cfg: dict, train) -> dict:
    """One keyed `test` stage per DATA.tests database (upstream: train, labels, features); the
    databases and their names come from sauti.config.sections.tests.test_databases, which
    checked that the names are unique."""
    exp, data, feats = cfg["EXP"], cfg["DATA"], cfg["FEATS"]
    tests = {}
    for name, spec in test_databases(cfg).items():
        samples, labels = database_stages(name, spec, cfg)
        features = [feature_stage(kind, cfg, samples) for kind in feats["type"]]
        params = {
            "name": name,
            "experiment": exp["name"],
            "target": data["target"],
            "labels": data["labels"],
            "type": exp["type"],
            "min_length": data["min_length"],
            "max_length": data["max_length"],
            **{k: spec.get(k) for k in SELECT_OPTIONS},
            "PLOT": {"format": cfg["PLOT"]["format"], "title": cfg["PLOT"]["title"]},
        }
        tests[name] = make_stage(TEST, params, (train, labels, *features))
    return tests


class Rules:
    """Input functions of the rules `test` and `test_results` (the Snakefile stays declarative)."""

    def __init__(self, registry):
        self.registry = registry

    def test(self, w) -> dict:
        reg = self.registry
        train, labels, *features = reg.stage("test", w.key).upstream
        return {
            "model": reg.path("train", train.key, "model.joblib"),
            "samples": reg.path("labels", labels.key),
            "features": [reg.path("features", f.key) for f in features],
        }

    def results(self, w) -> dict:
        reg = self.registry
        key = reg.plan(w.name).tests[w.db].key
        return {
            "metrics": reg.path("test", key, "metrics.json"),
            "predictions": reg.path("test", key, "predictions.parquet"),
            "images": reg.path("test", key, "images.json"),
        }


# --------------------------------------------------------------------------- the stage


def select_test_data(
    table: pd.DataFrame, params: dict, labels, drops: DropLog | None = None
) -> pd.DataFrame:
    """The test database's rows with the experiment's selection: its own filter and mapping,
    then DATA.labels and min/max_length; labels the model never saw are an error. What is
    left out goes to `drops` (sauti.ml.drops), as in the split."""
    name = params["name"]
    table = filter_rows(name, table, params.get("filter") or [], drops)
    table = prepare_target(name, table, params, params.get("mapping") or {}, drops)
    target = params["target"]
    if params["type"] == "classification" and params["labels"] != "all":
        wanted = {str(label) for label in params["labels"]}
        keep = table[target].isin(wanted)
        if drops is not None:
            drops.record_rows(table.assign(db=name), ~keep, "label not in DATA.labels")
        table = table[keep]
    table = filter_length(table, params, drops)
    if table.empty:
        raise SautiError(
            f"DATA.tests: database '{name}' has no samples left after the label, filter and length selection",
            hint="check DATA.labels, min/max_length and its filter",
        )
    if params["type"] == "classification":
        unseen = sorted(set(table[target]) - set(labels))
        if unseen:
            raise SautiError(
                f"DATA.tests: database '{name}' has labels the model never saw: {unseen} "
                f"(it knows {', '.join(labels)})",
                hint=f"map them with DATA.{name}.mapping or drop them with DATA.{name}.filter",
            )
    return table.sort_values(ID, kind="stable").reset_index(drop=True)


def evaluate_bundle(bundle: dict, data: pd.DataFrame, features: pd.DataFrame) -> pd.DataFrame:
    """Predictions of the saved pipeline for labelled `data` rows (features in the same order):
    file, start, end, speaker, truth, prediction, proba_<label>..."""
    speakers = data["speaker"] if "speaker" in data.columns else None
    pred, proba = predict_features(bundle, features.reset_index(drop=True), speakers)
    table = prediction_table(data, pred, proba, bundle["labels"])
    table.insert(
        3, "speaker", data["speaker"].astype(str).to_numpy() if speakers is not None else "unknown"
    )
    table.insert(4, "truth", data[bundle["target"]].to_numpy())
    return table


def test_stage(
    model_path: str, samples_path: str, feature_paths: list[str], params: dict, out_dir: str
) -> dict:
    """Evaluate the bundle at `model_path` on one test database; write metrics, predictions, plot."""
    from sauti.ml import plots  # matplotlib: imported by the job, not when the DAG is built
    from sauti.ml.evaluation import scores  # heavy: matplotlib

    bundle = load_bundle(model_path)
    task, labels = bundle["type"], bundle["labels"]
    drops = DropLog("test", out_dir)
    data = select_test_data(read_table(samples_path), params, labels, drops)
    drops.write()
    features = feature_matrix(data, feature_paths, bundle["feature_types"])
    predictions = evaluate_bundle(bundle, data, features)
    metrics = {
        "target": bundle["target"],
        "type": task,
        "labels": labels,
        "database": params["name"],
        "test": scores(predictions, task, labels),
    }
    out = Path(out_dir)
    title = f"{params['PLOT'].get('title') or params['experiment']}: test on {params['name']}"
    fmt = params["PLOT"]["format"]
    if task == "classification":
        path = plots.confusion_matrix_plot(
            metrics["test"]["confusion"],
            labels,
            out / f"confusion.{fmt}",
            f"{title}\nUAR {metrics['test']['uar']:.3f}",
            fmt,
        )
        caption = f"Confusion matrix on test database {params['name']}: counts and row percentages."
    else:
        path = plots.regression_scatter_plot(
            predictions["truth"].astype(float),
            predictions["prediction"].astype(float),
            out / f"scatter.{fmt}",
            f"{title}\nPCC {metrics['test']['pcc']:.3f}",
            fmt,
        )
        caption = f"Prediction against truth on test database {params['name']}; dashed: identity."
    write_table(out / "predictions.parquet", predictions)
    write_json(out / "images.json", [{"file": path.name, "caption": caption}])
    write_json(out / "metrics.json", metrics)
    log.info("test on %s: %s", params["name"], summary_line(metrics))
    return metrics


def publish_test(inputs: dict, outputs: dict) -> None:
    """Copy one test database's cached results to <root>/<name>/tests/<db>/ (CSV predictions)."""
    source = Path(inputs["metrics"]).parent
    folder = Path(outputs["metrics"]).parent
    images = [
        {"file": i["file"], "caption": i["caption"]}
        for i in publish_images(read_json(inputs["images"]), source, folder)
    ]
    write_table(outputs["predictions"], read_table(inputs["predictions"]))
    write_json(outputs["images"], images)
    write_json(outputs["metrics"], read_json(inputs["metrics"]))


def published_results(metrics_paths) -> list[dict]:
    """The report's view of the published test results: name, metrics, image paths + captions."""
    if isinstance(metrics_paths, str):
        metrics_paths = [metrics_paths]
    results = []
    for path in metrics_paths or []:
        folder = Path(path).parent
        metrics = read_json(path)
        images = [
            {"path": str(folder / image["file"]), "caption": image["caption"]}
            for image in read_json(folder / "images.json")
        ]
        results.append(
            {"name": metrics.get("database", folder.name), "metrics": metrics, "images": images}
        )
    return results


def summary_line(metrics: dict) -> str:
    """One line of headline numbers, e.g. "UAR 0.912, accuracy 0.920, macro-F1 0.915 (n=40)"."""
    test = metrics["test"]
    names = (
        {"uar": "UAR", "accuracy": "accuracy", "f1_macro": "macro-F1"}
        if metrics["type"] == "classification"
        else {"ccc": "CCC", "pcc": "PCC", "mae": "MAE"}
    )
    return ", ".join(f"{name} {test[k]:.3f}" for k, name in names.items()) + f" (n={test['n']})"


SPEC = StageSpec("test", (TEST,), rules=Rules)
