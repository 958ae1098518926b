"""The evaluate stage: metrics.json (the contract other tools read) and the result plots.

metrics.json: {"target", "type", "labels", "test": {...}, "dev": {...} when a dev split exists,
"runs": {...} when EXP.runs > 1, "cv": {...} with cross-validation, "test_per_speaker": {...}
with PLOT.combine_per_speaker}. "test" always describes run 0 (seed EXP.random_seed), the run
whose predictions are in predictions.csv, so the numbers and the table agree; the spread over
runs is under "runs".
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from sauti.core.fileio import copy_file, write_json
from sauti.ml import metrics as M
from sauti.ml import plots

log = logging.getLogger("sauti.evaluate")


def scores(table: pd.DataFrame, task: str, labels) -> dict:
    if task == "classification":
        return M.classification_metrics(
            table["truth"].astype(str), table["prediction"].astype(str), labels
        )
    return M.regression_metrics(table["truth"].astype(float), table["prediction"].astype(float))


def evaluate(
    predictions: pd.DataFrame,
    info: dict,
    params: dict,
    out_dir: Path,
    train_dir: Path | None = None,
) -> dict:
    task, labels = info["type"], info["labels"]
    plot_cfg, fmt = params["PLOT"], params["PLOT"]["format"]
    title = plot_cfg.get("title") or params["name"]
    result = {"target": info["target"], "type": task, "labels": labels}
    images: list[dict] = []
    first = predictions[predictions["run"] == 0]
    for split in ("test", "dev"):
        rows = first[first["split"] == split]
        if rows.empty:
            continue
        result[split] = scores(rows, task, labels)
        images.append(
            _result_plot(
                rows,
                result[split],
                task,
                labels,
                out_dir,
                f"{split}",
                f"{title}: {split}",
                fmt,
                plot_cfg,
            )
        )
    n_runs = int(predictions["run"].max()) + 1
    if n_runs > 1:
        test = predictions[predictions["split"] == "test"]
        per_run = [scores(test[test["run"] == r], task, labels) for r in range(n_runs)]
        headline = "uar" if task == "classification" else "ccc"
        result["runs"] = {
            "n": n_runs,
            "test": [
                {k: v for k, v in r.items() if k not in ("per_class", "confusion")} for r in per_run
            ],
            **M.mean_std(per_run),
        }
        path = plots.runs_plot(
            [r[headline] for r in per_run],
            out_dir / f"runs.{fmt}",
            f"{title}: test {headline} over runs",
            headline,
            fmt,
        )
        images.append(
            {
                "file": path.name,
                "caption": f"Test {headline.upper()} of each of the {n_runs} runs (seeds differ).",
            }
        )
    if info.get("cv"):
        result["cv"] = info["cv"]
        headline = "uar" if task == "classification" else "ccc"
        values = [f[headline] for f in info["cv"]["folds"]]
        path = plots.cv_folds_plot(
            values,
            out_dir / f"cv_folds.{fmt}",
            f"{title}: {info['cv']['method']} ({headline})",
            fmt,
        )
        images.append(
            {
                "file": path.name,
                "caption": f"Cross-validation on the train split ({info['cv']['method']}): {headline.upper()} per fold.",
            }
        )
    mode = plot_cfg.get("combine_per_speaker")
    test_rows = first[first["split"] == "test"]
    if mode and "speaker" in test_rows:
        per_speaker = M.combine_per_speaker(test_rows, mode, task)
        result["test_per_speaker"] = scores(per_speaker, task, labels)
        images.append(
            _result_plot(
                per_speaker,
                result["test_per_speaker"],
                task,
                labels,
                out_dir,
                "test_per_speaker",
                f"{title}: test per speaker ({mode})",
                fmt,
                plot_cfg,
            )
        )
    curves = info.get("curves")
    if curves and train_dir is not None:  # neural models (sauti.ml.deep): train/dev curves of run 0
        copy_file(Path(train_dir) / curves["file"], out_dir / curves["file"])
        images.append(
            {
                "file": curves["file"],
                "caption": f"Training curves of run 0: loss per epoch on train and dev, and the "
                f"dev measure. The best epoch ({curves['best_epoch']} of {curves['epochs']}, "
                f"dotted) is the model that was evaluated and saved.",
            }
        )
    write_json(out_dir / "images.json", images)
    write_json(out_dir / "metrics.json", result)
    log.info("test: %s", {k: v for k, v in result["test"].items() if isinstance(v, float)})
    return result


def _result_plot(rows, score, task, labels, out_dir, stem, title, fmt, plot_cfg) -> dict:
    if task == "classification":
        path = plots.confusion_matrix_plot(
            score["confusion"],
            labels,
            out_dir / f"confusion_{stem}.{fmt}",
            f"{title}\nUAR {score['uar']:.3f}",
            fmt,
        )
        return {
            "file": path.name,
            "caption": f"Confusion matrix, {stem.replace('_', ' ')}: counts and row percentages (the diagonal is per-class recall).",
        }
    path = plots.regression_scatter_plot(
        rows["truth"].astype(float),
        rows["prediction"].astype(float),
        out_dir / f"scatter_{stem}.{fmt}",
        f"{title}\nPCC {score['pcc']:.3f}",
        fmt,
    )
    return {
        "file": path.name,
        "caption": f"Prediction against truth, {stem.replace('_', ' ')}; dashed: identity.",
    }
