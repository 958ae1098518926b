"""Hyper-parameter search (the OPTIM section): speaker-grouped cross-validation on train.

Why this shape:

* the folds group speakers, like the experiment's own split, so a setting is scored on voices
  it has not seen (per-sample folds reward settings that memorise speakers);
* every fold is fitted with `training.fit_pipeline`, the training-time order scaler ->
  balancing -> model, with scaler and balancing fitted on the fold's training rows only;
* every setting sees the same folds, so scores differ by the setting alone;
* the best setting is then refitted on the whole train split and scored once on dev/test,
  which the search itself never looks at (so the reported test result is not tuned on test).

Settings come from scikit-learn's ParameterGrid (search: grid) and ParameterSampler (search:
random, seeded with EXP.random_seed).
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from sauti.config.sections.optim import CLASSIFICATION_METRICS, REGRESSION_METRICS
from sauti.core.errors import SautiError
from sauti.core.fileio import copy_file, read_json, read_table, write_json, write_table, write_text
from sauti.core.keys import Keyed
from sauti.ml import metrics as M
from sauti.stages.base import StageSpec
from sauti.stages.features import feature_matrix
from sauti.stages.summary import bar_plot, markdown_table
from sauti.stages.train import MODEL_SOURCES

log = logging.getLogger("sauti.optim")

#: 2: svm predicts with the decision function (as train 2)
OPTIM = Keyed("optim", 2, None, ("stages/optim.py", *MODEL_SOURCES))


#: Scores where smaller is better; every other metric is maximised.
LOWER_IS_BETTER = ("mae", "mse")
#: Points a range {min, max} contributes to a grid search when `num` is not given.
GRID_POINTS = 5


def default_metric(task: str) -> str:
    return "uar" if task == "classification" else "ccc"


def check_metric(metric: str, task: str) -> None:
    allowed = CLASSIFICATION_METRICS if task == "classification" else REGRESSION_METRICS
    if metric not in allowed:
        raise SautiError(
            f"OPTIM.metric: {metric!r} does not fit a {task} experiment; use one of {', '.join(allowed)}"
        )


# --------------------------------------------------------------------------- settings


def settings(spec: dict, search: str = "grid", n_iter: int = 10, seed: int = 42) -> list[dict]:
    """The settings to try: every combination (grid) or `n_iter` seeded draws (random).

    A list gives the values to choose from; a range {min, max, log, int, num} gives `num`
    points (linear, or geometric with log) in a grid search and a uniform (or log-uniform)
    draw in a random search. Random search over lists only draws without repetition.
    """
    if not spec:
        raise SautiError("OPTIM.params is empty", hint="e.g. params: {C_val: [0.1, 1, 10]}")
    # scikit-learn costs ~1 s to import: only optim jobs pay it, not every Snakemake start
    from sklearn.model_selection import ParameterGrid, ParameterSampler

    if search == "grid":
        grid = {key: _grid_values(key, value) for key, value in spec.items()}
        return [_plain(s) for s in ParameterGrid(grid)]
    if search != "random":
        raise SautiError(f"OPTIM.search: {search!r} is not one of grid, random")
    space = {key: _distribution(key, value) for key, value in spec.items()}
    with warnings.catch_warnings():
        # "n_iter is greater than the number of settings": then every setting is tried once
        warnings.simplefilter("ignore", UserWarning)
        drawn = list(ParameterSampler(space, n_iter=int(n_iter), random_state=int(seed)))
    return [_plain(s) for s in drawn]


def _range(key: str, value: dict) -> tuple[float, float]:
    low, high = float(value["min"]), float(value["max"])
    if not low < high:
        raise SautiError(f"OPTIM.params.{key}: min ({low}) must be below max ({high})")
    if value.get("log") and low <= 0:
        raise SautiError(f"OPTIM.params.{key}: a log range needs min > 0 (got {low})")
    return low, high


def _grid_values(key: str, value) -> list:
    if isinstance(value, list):
        if not value:
            raise SautiError(f"OPTIM.params.{key}: the list of values is empty")
        return value
    low, high = _range(key, value)
    num = int(value.get("num") or GRID_POINTS)
    points = np.geomspace(low, high, num) if value.get("log") else np.linspace(low, high, num)
    if value.get("int"):
        return sorted({int(round(p)) for p in points})
    return [float(f"{p:.6g}") for p in points]


class _RoundedDistribution:
    """Integer draws from a continuous distribution (log-uniform integers, e.g. tree counts)."""

    def __init__(self, dist):
        self.dist = dist

    def rvs(self, random_state=None):
        return int(round(float(self.dist.rvs(random_state=random_state))))


def _distribution(key: str, value):
    from scipy import stats

    if isinstance(value, list):
        if not value:
            raise SautiError(f"OPTIM.params.{key}: the list of values is empty")
        return value
    low, high = _range(key, value)
    if value.get("log"):
        dist = stats.loguniform(low, high)
        return _RoundedDistribution(dist) if value.get("int") else dist
    if value.get("int"):
        return stats.randint(int(round(low)), int(round(high)) + 1)
    return stats.uniform(low, high - low)


def _plain(setting: dict) -> dict:
    """numpy scalars -> Python values (JSON, YAML and the MODEL config take them as they are)."""
    out = {}
    for key, value in setting.items():
        value = value.item() if hasattr(value, "item") else value
        out[key] = float(f"{value:.6g}") if isinstance(value, float) else value
    return out


# --------------------------------------------------------------------------- search


def folds(y, groups, task: str, n_folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Speaker-grouped folds (stratified by label for classification), fixed for all settings."""
    n_speakers = len(set(groups))
    if n_speakers < 2:
        raise SautiError("OPTIM: cross-validation needs at least 2 speakers in the train split")
    k = int(min(n_folds, n_speakers))
    from sklearn.model_selection import GroupKFold, StratifiedGroupKFold  # heavy: job time only

    splitter = (
        StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=int(seed))
        if task == "classification"
        else GroupKFold(n_splits=k)
    )
    return list(splitter.split(np.zeros(len(y)), y, groups))


def score(truth, pred, metric: str, task: str, labels) -> float:
    if task == "classification":
        return float(M.classification_metrics(truth, pred, labels)[metric])
    return float(M.regression_metrics(truth, pred)[metric])


def with_setting(params: dict, setting: dict) -> dict:
    """The train params with MODEL keys replaced by one setting (the rest as configured)."""
    return {**params, "MODEL": {**params["MODEL"], **setting}}


def cv_search(
    X: pd.DataFrame,
    y: np.ndarray,
    groups: np.ndarray,
    params: dict,
    labels,
    candidates: list[dict],
    metric: str,
    n_folds: int,
    seed: int,
) -> pd.DataFrame:
    """One row per setting: its values, cv_mean, cv_std (ddof 0) and each fold's score."""
    from sauti.ml.training import fit_pipeline, predict_rows  # heavy: scikit-learn

    task = params["type"]
    splits = folds(y, groups, task, n_folds, seed)
    rows = []
    for index, setting in enumerate(candidates):
        fit_params = with_setting(params, setting)
        values = []
        for train, held_out in splits:
            try:
                scaler, model = fit_pipeline(
                    X.iloc[train], y[train], groups[train], fit_params, seed, labels
                )
            except SautiError as err:
                raise SautiError(f"OPTIM setting {setting}: {err}") from err
            pred, _ = predict_rows(
                scaler, model, X.iloc[held_out], groups[held_out], fit_params, labels
            )
            values.append(score(y[held_out], pred, metric, task, labels))
        rows.append(
            {
                "setting": index,
                **setting,
                "cv_mean": float(np.mean(values)),
                "cv_std": float(np.std(values)),
                **{f"fold_{i}": v for i, v in enumerate(values)},
            }
        )
        log.info(
            "setting %d/%d %s: %s %.3f",
            index + 1,
            len(candidates),
            setting,
            metric,
            rows[-1]["cv_mean"],
        )
    return pd.DataFrame(rows)


def best_row(table: pd.DataFrame, metric: str) -> int:
    """Index of the best setting by cv_mean (the first one on ties)."""
    values = table["cv_mean"].to_numpy()
    return int(np.argmin(values) if metric in LOWER_IS_BETTER else np.argmax(values))


def optim_stage(split_path: str, feature_paths: list[str], params: dict, out_dir: str) -> dict:
    """Search, refit the best setting on the whole train split, score it on dev/test; write
    results.csv, best.json and optim.png into `out_dir`."""
    from sauti.ml.training import fit_pipeline, predict_rows  # heavy: scikit-learn

    optim, task = params["OPTIM"], params["type"]
    data = read_table(split_path)
    features = feature_matrix(data, feature_paths, params["feature_types"])
    target = params["target"]
    classification = task == "classification"
    y_all = (
        data[target].astype(str).to_numpy()
        if classification
        else data[target].astype(float).to_numpy()
    )
    speakers = (
        data["speaker"].astype(str).to_numpy()
        if "speaker" in data
        else np.full(len(data), "unknown")
    )
    is_train = (data["split"] == "train").to_numpy()
    labels = sorted(set(y_all[is_train])) if classification else None
    metric = optim.get("metric") or default_metric(task)
    check_metric(metric, task)
    model_cfg = dict(params["MODEL"])
    if optim.get("model"):
        model_cfg["type"] = optim["model"]
    base = {**params, "MODEL": model_cfg}
    seed = int(params["random_seed"])
    candidates = settings(optim["params"], optim["search"], optim["n_iter"], seed)
    log.info("OPTIM: %d settings, %d folds, metric %s", len(candidates), optim["cv_folds"], metric)
    X, y, groups = features[is_train], y_all[is_train], speakers[is_train]
    table = cv_search(X, y, groups, base, labels, candidates, metric, optim["cv_folds"], seed)
    best = best_row(table, metric)
    setting = candidates[best]
    fitted = with_setting(base, setting)
    scaler, model = fit_pipeline(X, y, groups, fitted, seed, labels)
    result = {
        "metric": metric,
        "search": optim["search"],
        "n_settings": len(candidates),
        "cv_folds": int(sum(c.startswith("fold_") for c in table.columns)),
        "best": setting,
        "cv_mean": float(table.loc[best, "cv_mean"]),
        "cv_std": float(table.loc[best, "cv_std"]),
        "MODEL": fitted["MODEL"],
        "labels": labels,
        "type": task,
        "target": target,
    }
    for split in ("dev", "test"):
        mask = (data["split"] == split).to_numpy()
        if mask.any():
            pred, _ = predict_rows(scaler, model, features[mask], speakers[mask], fitted, labels)
            result[split] = (
                M.classification_metrics(y_all[mask], pred, labels)
                if classification
                else M.regression_metrics(y_all[mask], pred)
            )
    out = Path(out_dir)
    write_table(out / "results.csv", table)
    write_json(out / "best.json", result)
    names = [setting_label(c) for c in candidates]
    bar_plot(
        names,
        table["cv_mean"].to_numpy(),
        out / "optim.png",
        f"OPTIM: {len(names)} settings, {result['cv_folds']}-fold speaker-grouped CV",
        metric,
        errors=table["cv_std"].to_numpy(),
        highlight=best,
    )
    log.info("best %s: cv %s %.3f ± %.3f", setting, metric, result["cv_mean"], result["cv_std"])
    return result


def setting_label(setting: dict) -> str:
    return ", ".join(f"{k}={_short(v)}" for k, v in setting.items())


def _short(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def optim_report_stage(inputs: dict, name: str, outputs: dict) -> None:
    """Copy the keyed search results to <root>/<name>/optim/ and add a markdown table."""
    table = read_table(inputs["results"])
    best = read_json(inputs["best"])
    best_index = best_row(table, best["metric"])
    values = [
        c
        for c in table.columns
        if c not in ("setting", "cv_mean", "cv_std") and not c.startswith("fold_")
    ]
    view = table[["setting", *values]].copy()
    for column in values:  # settings as written, not rounded like scores
        view[column] = [_short(v) for v in view[column]]
    view[f"cv {best['metric']} (mean ± std)"] = [
        f"{m:.3f} ± {s:.3f}" for m, s in zip(table["cv_mean"], table["cv_std"], strict=True)
    ]
    view["best"] = ["*" if i == best_index else "" for i in range(len(table))]
    lines = [
        f"# {name}: hyper-parameter search",
        "",
        f"{best['search']} search, {best['n_settings']} settings, {best['cv_folds']}-fold "
        f"speaker-grouped cross-validation on the train split, metric {best['metric']}.",
        "",
        f"Best: {setting_label(best['best'])} (CV {best['metric']} "
        f"{best['cv_mean']:.3f} ± {best['cv_std']:.3f}).",
    ]
    if best["metric"] in (best.get("test") or {}):
        lines.append(
            f"Refitted on the whole train split: test {best['metric']} "
            f"{best['test'][best['metric']]:.3f}."
        )
    lines += ["", markdown_table(view)]
    write_table(outputs["results"], table)
    write_text(outputs["markdown"], "\n".join(lines) + "\n")
    copy_file(inputs["best"], outputs["best"])
    copy_file(inputs["plot"], outputs["plot"])


SPEC = StageSpec("optim", (OPTIM,))
