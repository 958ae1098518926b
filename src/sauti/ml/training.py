"""Training runs and cross-validation for the classic (scikit-learn / xgboost) models.

The order inside one fit is fixed and leak-free: the scaler is fitted on the training rows only,
then balancing resamples the (scaled) training rows only, then the model is fitted. The bundle
saved for inference holds exactly these fitted parts, so a later prediction repeats the
training-time pipeline (Nkululeko defect 3 is a predictor that skipped the scaler).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold, LeaveOneGroupOut, StratifiedGroupKFold

from sauti.core.errors import SautiError
from sauti.ml import metrics as M
from sauti.ml.data import ID
from sauti.ml.deep.mlp import validation_rows
from sauti.ml.models import balance, fit_model, make_model, make_scaler, predict_proba

log = logging.getLogger("sauti.train")


def fit_pipeline(
    X: pd.DataFrame, y: np.ndarray, speakers, params: dict, seed: int, labels, dev=None
):
    """Scaler (train only) -> balancing (train only) -> model. Returns (scaler, model).

    `dev` = (X, y, speakers) of the dev split. Neural models (`uses_dev`) early-stop on it, or,
    without dev rows, on a speaker-grouped share of train held out before balancing (so no
    resampled copy of a held-out row is trained on). Classic models ignore it.
    """
    model = make_model(params["MODEL"], params["type"], seed, len(labels) if labels else None)
    if getattr(model, "uses_spectra", False):  # cnn: the image shape and the noise need them
        model.set_params(spectra=params.get("feature_options", {}).get("spectra"))
    # the cnn normalises its log-mel images itself; a per-column scaler would break them
    scale = "none" if getattr(model, "ignores_scale", False) else params["scale"]
    scaler = make_scaler(scale).fit(X, speakers)
    Xs = np.asarray(scaler.transform(X, speakers), dtype=float)
    stop_on = None
    if getattr(model, "uses_dev", False):
        Xs, y, stop_on = _early_stopping_rows(model, scaler, Xs, y, speakers, dev, params, seed)
    Xb, yb = (
        balance(Xs, y, params["balancing"], seed) if params["type"] == "classification" else (Xs, y)
    )
    if getattr(model, "uses_dev", False):
        model.fit(Xb, yb, dev=stop_on)
    else:
        fit_model(model, Xb, yb, bool(params["MODEL"].get("class_weight")))
    return scaler, model


def _early_stopping_rows(model, scaler, Xs, y, speakers, dev, params, seed):
    """(train X, train y, (X, y) to early-stop on or None) for a neural model; EXP.epochs set."""
    if params.get("epochs"):  # EXP.epochs null: the model's own default (mlp 100, ...)
        model.set_params(epochs=int(params["epochs"]))
    if dev is not None and len(dev[0]):
        return Xs, y, (np.asarray(scaler.transform(dev[0], dev[2]), dtype=float), dev[1])
    held = validation_rows(
        y, speakers, model.validation_share, seed, params["type"] == "classification"
    )
    if held is None:
        log.warning("no dev split and no held-out speakers: the last epoch is kept")
        return Xs, y, None
    n_speakers = len(set(np.asarray(speakers)[held]))
    log.info("early stopping on %d rows of %d held-out train speakers", held.sum(), n_speakers)
    return Xs[~held], y[~held], (Xs[held], y[held])


def predict_rows(
    scaler, model, X, speakers, params: dict, labels
) -> tuple[np.ndarray, np.ndarray | None]:
    Xs = np.asarray(scaler.transform(X, speakers), dtype=float)
    if params["type"] == "classification":
        return np.asarray(model.predict(Xs)).astype(str), predict_proba(model, Xs, labels)
    return np.asarray(model.predict(Xs), dtype=float), None


def train_runs(data: pd.DataFrame, features: pd.DataFrame, params: dict) -> dict:
    """Fit `runs` models with seeds random_seed + r; predict dev and test for each.

    Returns {"predictions": table (run, split, file, start, end, speaker, truth, prediction,
    proba_<label>...), "bundle": what inference needs, "info": labels, sizes and CV results}.
    """
    target, task = params["target"], params["type"]
    classification = task == "classification"
    y_all = (
        data[target].astype(str).to_numpy()
        if classification
        else data[target].astype(float).to_numpy()
    )
    labels = sorted(set(y_all[data["split"] == "train"])) if classification else None
    speakers = (
        data["speaker"].astype(str).to_numpy()
        if "speaker" in data
        else np.full(len(data), "unknown")
    )
    is_train = (data["split"] == "train").to_numpy()
    is_dev = (data["split"] == "dev").to_numpy()
    dev = (features[is_dev], y_all[is_dev], speakers[is_dev]) if is_dev.any() else None
    rows, bundle = [], None
    for run in range(int(params["runs"])):
        seed = int(params["random_seed"]) + run
        scaler, model = fit_pipeline(
            features[is_train], y_all[is_train], speakers[is_train], params, seed, labels, dev
        )
        for split in ("dev", "test"):
            mask = (data["split"] == split).to_numpy()
            if mask.any():
                pred, proba = predict_rows(
                    scaler, model, features[mask], speakers[mask], params, labels
                )
                rows.append(
                    run_predictions(data[mask], y_all[mask], pred, proba, labels, run, split)
                )
        if run == 0:
            bundle = {
                "scaler": scaler,
                "model": model,
                "labels": labels,
                "feature_columns": list(features.columns),
                "feature_types": params["feature_types"],
                "feature_options": params.get("feature_options", {}),
                "target": target,
                "type": task,
                "seed": seed,
            }
        log.info("run %d/%d (seed %d) done", run + 1, params["runs"], seed)
    info = {
        "labels": labels,
        "target": target,
        "type": task,
        "n_features": features.shape[1],
        "n": data["split"].value_counts().to_dict(),
        "cv": cross_validate(data, features, y_all, speakers, params, labels),
    }
    return {"predictions": pd.concat(rows, ignore_index=True), "bundle": bundle, "info": info}


def run_predictions(rows, truth, pred, proba, labels, run, split) -> pd.DataFrame:
    table = rows[ID].copy()
    table.insert(0, "split", split)
    table.insert(0, "run", run)
    table["speaker"] = rows["speaker"].to_numpy() if "speaker" in rows else "unknown"
    table["truth"] = truth
    table["prediction"] = pred
    if proba is not None:
        for i, label in enumerate(labels):
            table[f"proba_{label}"] = proba[:, i]
    return table.reset_index(drop=True)


def cross_validate(data, features, y_all, speakers, params, labels) -> dict | None:
    """MODEL.logo / loso / k_fold_cross: speaker-grouped CV on the train split (reported beside test)."""
    model_cfg = params["MODEL"]
    is_train = (data["split"] == "train").to_numpy()
    X, y, groups = features[is_train], y_all[is_train], speakers[is_train]
    n_speakers = len(set(groups))
    if model_cfg.get("loso"):
        method, splitter = "loso", LeaveOneGroupOut()
    elif model_cfg.get("logo"):
        method, splitter = (
            f"logo {model_cfg['logo']}",
            GroupKFold(n_splits=_folds(model_cfg["logo"], n_speakers, "logo")),
        )
    elif model_cfg.get("k_fold_cross"):
        k = _folds(model_cfg["k_fold_cross"], n_speakers, "k_fold_cross")
        splitter = (
            StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=int(params["random_seed"]))
            if params["type"] == "classification"
            else GroupKFold(n_splits=k)
        )
        method = f"k_fold_cross {k}"
    else:
        return None
    folds, pooled_truth, pooled_pred = [], [], []
    seed = int(params["random_seed"])
    for fold, (tr, te) in enumerate(splitter.split(X, y, groups)):
        scaler, model = fit_pipeline(X.iloc[tr], y[tr], groups[tr], params, seed, labels)
        pred, _ = predict_rows(scaler, model, X.iloc[te], groups[te], params, labels)
        scores = _scores(y[te], pred, params, labels)
        folds.append(
            {"fold": fold, "n": int(len(te)), **{k: v for k, v in scores.items() if _scalar(v)}}
        )
        pooled_truth.extend(y[te])
        pooled_pred.extend(pred)
    pooled = _scores(np.asarray(pooled_truth), np.asarray(pooled_pred), params, labels)
    log.info("cross-validation %s: %d folds", method, len(folds))
    return {
        "method": method,
        "folds": folds,
        "mean": {k: v for k, v in pooled.items() if _scalar(v)},
    }


def _folds(requested, n_speakers: int, key: str) -> int:
    if n_speakers < 2:
        raise SautiError(f"MODEL.{key}: cross-validation needs at least 2 training speakers")
    return int(min(int(requested), n_speakers))


def _scores(truth, pred, params, labels) -> dict:
    if params["type"] == "classification":
        return M.classification_metrics(truth, pred, labels)
    return M.regression_metrics(truth, pred)


def _scalar(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
