"""The stage functions the Snakemake rules call: read inputs, do one step, write outputs.

Each function takes paths and its own config slice (`params`) only — never the whole config —
so what it computes is exactly what its cache key describes. All writes are atomic.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from sauti import __version__
from sauti.core.digests import check_unchanged
from sauti.core.errors import SautiError
from sauti.core.fileio import (
    publish_images,
    read_json,
    read_table,
    write_json,
    write_table,
    write_text,
)
from sauti.ml.data import ID, audio_samples, read_database, select_and_split, summary, with_labels
from sauti.ml.drops import FILE as DROPS_FILE
from sauti.ml.drops import DropLog
from sauti.ml.drops import collect as collect_drops
from sauti.ml.scaling import balanced_rows

log = logging.getLogger("sauti")


# --------------------------------------------------------------------------- data


def samples_stage(params: dict, content: dict, out_path: str) -> None:
    """One database's samples table: the audio checked (file, start, end, duration, db, row),
    no labels (sauti.ml.data.audio_samples). `content`: the digests in its key, checked again
    after the audio was read (sauti.core.digests.check_unchanged)."""
    name = params["name"]
    root = _root(out_path)
    drops = DropLog("samples", Path(out_path).parent)  # drops.json and bad_audio.csv go there
    table = audio_samples(
        name, read_database(name, params), params["check_size"], params["skip_bad"], drops
    )
    log.info("database %s: %d samples, %d files", name, len(table), table["file"].nunique())
    check_unchanged(name, params, root, content)
    drops.write()
    write_table(out_path, table)


def labels_stage(samples_path: str, params: dict, content: dict, out_path: str) -> None:
    """The samples table with the database table's other columns (labels, speaker ...) joined
    back: what the split and the test stages select from."""
    name = params["name"]
    table = read_database(name, params)
    check_unchanged(name, params, _root(out_path), content)
    write_table(out_path, with_labels(table, read_table(samples_path)))


def _root(out_path: str) -> Path:
    """The experiment root of a keyed output, <root>/cache/<stage>/<key>/<file>: where the
    digest state lives (sauti.core.digests)."""
    return Path(out_path).parents[3]


def split_stage(samples_paths: list[str], names: list[str], params: dict, out_path: str) -> None:
    """Select, label and split the experiment's samples (seeded, persisted)."""
    tables = {name: read_table(path) for name, path in zip(names, samples_paths, strict=True)}
    drops = DropLog("split", Path(out_path).parent)
    data = select_and_split(tables, params, drops)
    counts = data.groupby("split").size().to_dict()
    log.info("split: %s", counts)
    drops.write()
    write_table(out_path, data)


# --------------------------------------------------------------------------- features


def shard_rows(n_rows: int, shard: int, n_shards: int) -> slice:
    """Contiguous, near-equal chunks: shard i of n covers rows [i*n_rows//n, (i+1)*n_rows//n)."""
    return slice(shard * n_rows // n_shards, (shard + 1) * n_rows // n_shards)


def features_shard_stage(
    samples_path: str,
    params: dict,
    shard: int,
    n_shards: int,
    out_path: str,
    device: str | None = None,
    batch_size: int | None = None,
    workers: int = 1,
    encoders: str | None = None,
) -> None:
    """Extract one feature type for one shard of a database's samples. `device` and
    `batch_size` are the options outside the key of embedding types (sauti.workflow.plan
    FEATURE_RUN_OPTIONS); None or 0 leaves the type's default. `workers`: the job's threads
    (used by sauti.workflow.plan.THREADED_KINDS). `encoders`: the SSL encoder file of spkrec_ssl."""
    from sauti.ml.features import extract
    from sauti.workflow.plan import FEATURE_RUN_OPTIONS

    samples = read_table(samples_path)
    rows = (  # equal seconds of audio per shard where the table knows them (sauti.ml.scaling)
        balanced_rows(samples["duration"], shard, n_shards)
        if "duration" in samples.columns
        else shard_rows(len(samples), shard, n_shards)
    )
    part = samples.iloc[rows].reset_index(drop=True)
    options = {k: v for k, v in params.items() if k != "type"}
    kind = params["type"]
    if kind in FEATURE_RUN_OPTIONS:
        options.update({f"{kind}.device": device or None, f"{kind}.batch_size": batch_size or None})
    if encoders:
        options["encoders"] = encoders
    log.info("features %s, shard %d/%d: %d samples", params["type"], shard + 1, n_shards, len(part))
    if len(part):
        values = extract(params["type"], part[ID], options, workers=workers)
    else:
        values = pd.DataFrame()
    write_table(out_path, pd.concat([part[ID], values], axis=1))


def features_stage(
    samples_path: str,
    shard_paths: list[str],
    params: dict,
    out_path: str,
    device: str | None = None,
    batch_size: int | None = None,
    workers: int = 1,
    encoders: str | None = None,
) -> None:
    """A database's feature table: the merge of its shards, or with no shards (one-shard
    databases) the extraction itself, which saves a job start and a copy on the common path."""
    if shard_paths:
        features_merge_stage(shard_paths, samples_path, out_path)
    else:
        features_shard_stage(
            samples_path, params, 0, 1, out_path, device, batch_size, workers, encoders
        )


def features_merge_stage(shard_paths: list[str], samples_path: str, out_path: str) -> None:
    """Concatenate shards in sample order; the result equals a single-shard extraction."""
    merged = pd.concat([read_table(p) for p in shard_paths], ignore_index=True)
    samples = read_table(samples_path)[ID]
    if len(merged) != len(samples):
        raise SautiError(
            f"feature shards hold {len(merged)} rows but the database has {len(samples)}"
        )
    write_table(out_path, samples.merge(merged, on=ID, how="left", validate="one_to_one"))


def feature_matrix(data: pd.DataFrame, feature_paths: list[str], types: list[str]) -> pd.DataFrame:
    """Columns of all feature types joined to `data` rows by sample id; error if any is missing."""
    per_type: dict[str, list[pd.DataFrame]] = {}
    for path in feature_paths:
        table = read_table(path)
        kind = next((t for t in types if any(c.startswith(f"{t}_") for c in table.columns)), None)
        per_type.setdefault(kind, []).append(table)
    matrix = data[ID]
    for kind in types:
        if kind not in per_type:
            raise SautiError(f"no features of type {kind!r} were produced")
        block = pd.concat(per_type[kind], ignore_index=True).drop_duplicates(ID)
        matrix = matrix.merge(block, on=ID, how="left")
    values = matrix.drop(columns=ID)
    if values.isna().any(axis=1).any():
        bad = matrix.loc[values.isna().any(axis=1), "file"].iloc[0]
        raise SautiError(f"features are missing for some samples, e.g. {bad}")
    return values


# --------------------------------------------------------------------------- train


def train_stage(
    split_path: str,
    feature_paths: list[str],
    params: dict,
    out_dir: str,
    augmented_path: str | None = None,
) -> None:
    """Fit scaler (train only), balancing (train only) and model for each run; predict dev/test.

    With `augmented_path` (aug_train) the augmented training rows join the train split.
    """
    import joblib

    from sauti.ml import training

    data = read_table(split_path)
    if augmented_path:
        from sauti.stages.augment import training_data

        data = training_data(data, read_table(augmented_path))
    features = feature_matrix(data, feature_paths, params["feature_types"])
    result = training.train_runs(data, features, params)
    out = Path(out_dir)
    write_table(out / "predictions.parquet", result["predictions"])
    from sauti.core.fileio import atomic_path

    with atomic_path(out / "model.joblib") as tmp:
        joblib.dump(result["bundle"], tmp)
    history = getattr(result["bundle"]["model"], "history_", None)
    if history is not None:  # neural models: run 0's per-epoch curves (evaluate publishes them)
        from sauti.ml.deep.loop import plot_curves

        write_table(out / "curves.csv", history)
        plot_curves(history, str(out / "curves.png"), f"{params['MODEL']['type']}: training curves")
        best = history.loc[history["best"], "epoch"]
        result["info"]["curves"] = {
            "file": "curves.png",
            "epochs": int(len(history)),
            "best_epoch": int(best.iloc[0]) if len(best) else None,
        }
    write_json(out / "info.json", result["info"])


# --------------------------------------------------------------------------- evaluate


def evaluate_stage(predictions_path: str, info_path: str, params: dict, out_dir: str) -> None:
    """Metrics for test (and dev), per-run spread, CV folds, per-speaker results; the plots."""
    from sauti.ml import evaluation

    evaluation.evaluate(
        read_table(predictions_path),
        read_json(info_path),
        params,
        Path(out_dir),
        train_dir=Path(info_path).parent,  # neural models' training curves live there
    )


# --------------------------------------------------------------------------- report


def report_stage(inputs: dict, params: dict, outputs: dict) -> None:
    """Collect the user-facing results of one experiment and write its HTML report."""
    from sauti.stages.report import render_report
    from sauti.stages.test import published_results

    eval_dir = Path(inputs["metrics"]).parent
    metrics = read_json(inputs["metrics"])
    images = read_json(inputs["images"])
    exp_dir = Path(outputs["report"]).parent
    image_dir = exp_dir / "images"
    if image_dir.exists():
        shutil.rmtree(image_dir)
    copied = publish_images(images, eval_dir, image_dir)
    predictions = read_table(inputs["predictions"])
    first_run = predictions[predictions["run"] == 0].drop(columns=["run"])
    # the contract's column order: file, start, end, speaker, truth, prediction, proba_*, split
    first_run = first_run[[c for c in first_run.columns if c != "split"] + ["split"]]
    write_table(outputs["predictions"], first_run)
    if "metrics_without" in inputs:  # aug_train: add the result without augmentation
        from sauti.stages.augment import publish_comparison

        metrics = publish_comparison(inputs, params["config"], metrics, exp_dir)
    if "selftrain" in inputs:  # SELFTRAIN: the rounds beside the ordinary model's result
        metrics["selftrain"] = read_json(inputs["selftrain"])
    from sauti.core.provenance import record

    metrics["provenance"] = record(params.get("inputs") or {})  # environment, code and data
    write_json(outputs["metrics"], metrics)
    from sauti.config.resolve import to_yaml

    write_text(outputs["config"], to_yaml(params["config"]))
    data = read_table(inputs["split"])
    classification = metrics["type"] == "classification"
    # what the experiment's stages left out (sauti.ml.drops); `sauti run` prints this file's lines
    drops = collect_drops(exp_dir.parent, params["keys"])
    write_json(exp_dir / DROPS_FILE, [asdict(d) for d in drops])
    context = {
        "name": params["name"],
        "version": __version__,
        "config": params["config"],
        "metrics": metrics,
        "data_summary": summary(data, metrics["target"], classification),
        "drops": drops,
        "images": copied,
        "keys": params["keys"],
        "provenance": metrics["provenance"],
        "model_type": params["config"]["MODEL"]["type"],
        "feature_types": params["config"]["FEATS"]["type"],
        "title": params["config"]["REPORT"].get("title"),
        "author": params["config"]["REPORT"].get("author"),
        "tests": published_results(inputs.get("tests")),
        "explore": _publish_explore(inputs.get("explore"), image_dir / "explore"),
        "sections": _publish_sections(inputs, params["config"], exp_dir),
    }
    render_report(context, outputs["report"])
    latex = params["config"]["REPORT"].get("latex")
    if latex:  # REPORT.latex: the same content as a PDF (sauti.ml.latex)
        from sauti.ml.latex import render_latex

        render_latex(context, exp_dir / f"{latex}.pdf")


def explore_stage(split_path: str, feature_paths: list[str], params: dict, out_dir) -> None:
    """EXPL: statistics, bias check and plots on the split table (and features when asked)."""
    from sauti.stages import explore

    data = read_table(split_path)
    features = (
        feature_matrix(data, feature_paths, params["feature_types"]) if feature_paths else None
    )
    manifest = explore.run(data, features, params, out_dir)
    if params.get("print_stats"):
        log.info("dataset: %s", manifest["stats"])
    flagged = [row["column"] for row in manifest["bias"] if row["flagged"]]
    log.info("bias check: %d columns tested, flagged: %s", len(manifest["bias"]), flagged or "none")


def _publish_explore(manifest_path: str | None, image_dir: Path) -> dict | None:
    """Copy the explore figures next to the report; return the manifest with their new paths."""
    if not manifest_path:
        return None
    manifest = read_json(manifest_path)
    manifest["images"] = publish_images(manifest["images"], Path(manifest_path).parent, image_dir)
    return manifest


def _publish_sections(inputs: dict, config: dict, exp_dir: Path) -> list[dict]:
    """Report sections of the optional data stages (SEGMENT, PREDICT), their tables published."""
    sections = []
    if "segment" in inputs:
        from sauti.stages.segment import publish

        sections.append(publish(inputs["segment_manifest"], inputs["segment"], exp_dir,
                                config["SEGMENT"]["segment_target"]))  # fmt: skip
    if "predict" in inputs:
        from sauti.stages.predict import publish as publish_predictions

        sections.append(publish_predictions(inputs["predict_manifest"], inputs["predict"], exp_dir))
    if "selftrain" in inputs:  # SELFTRAIN: the rounds table and plot (rule selftrain_results)
        from sauti.stages.selftrain import report_section

        sections.append(report_section(inputs["selftrain"]))
    if any(
        k in inputs for k in ("separation", "separate_manifest")
    ):  # SEPARATE (sauti.stages.separate)
        from sauti.stages.separate import headline_comparison
        from sauti.stages.separate import report_section as separation_section

        compare = (
            headline_comparison(inputs["metrics"], inputs["separate_without"])
            if "separate_without" in inputs
            else None
        )
        sections.append(separation_section(inputs.get("separation"), inputs.get("separate_manifest"), compare))  # fmt: skip
    if "ssl" in inputs:  # SSL: EER per round and the references (rule ssl_results)
        from sauti.stages.ssl import report_section as ssl_section

        sections.append(ssl_section(inputs["ssl"]))
    return sections


def label_order(values) -> list[str]:
    return sorted({str(v) for v in values})


def nan_to_none(value):
    return None if isinstance(value, float) and np.isnan(value) else value
