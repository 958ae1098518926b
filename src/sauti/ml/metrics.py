"""Scores for predictions, in plain JSON-ready Python types.

Why hand-rolled instead of sklearn.metrics: the results files must have a fixed layout (every
label present, even when a test fold lacks it), never contain NaN (a constant prediction is a
valid, bad result, not a missing one), and match Nkululeko's definitions: UAR is the unweighted
mean of per-class recall, CCC is Lin's concordance correlation coefficient.

Labels are compared as strings throughout, so a label column read as integers from one CSV and
as text from another still matches.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from sauti.core.errors import SautiError

PROBA_PREFIX = "proba_"


def classification_metrics(truth, pred, labels: list[str]) -> dict:
    """UAR, accuracy, macro F1, per-class scores and the confusion matrix.

    Labels in `labels` that never occur in `truth` are reported with support 0 and left out of
    the UAR and macro-F1 averages: their recall is undefined, and counting it as 0 would punish
    a model for a test fold that simply has no such sample (wrong predictions *into* such a
    label still lower the recall of the true classes). The confusion matrix has rows = truth
    and columns = prediction, both in `labels` order; predictions outside `labels` count as
    errors for accuracy and recall but have no column.
    """
    truth, pred = _as_str(truth), _as_str(pred)
    labels = [str(label) for label in labels]
    _check_lengths(truth, pred)
    unknown = sorted(set(truth) - set(labels))
    if unknown:
        raise SautiError(f"test labels {unknown} are not among the experiment's labels {labels}")
    per_class = {label: _class_scores(truth, pred, label) for label in labels}
    present = [scores for scores in per_class.values() if scores["support"] > 0]
    return {
        "uar": float(np.mean([s["recall"] for s in present])),
        "accuracy": float(np.mean(truth == pred)),
        "f1_macro": float(np.mean([s["f1"] for s in present])),
        "per_class": per_class,
        "n": int(len(truth)),
        "confusion": confusion_matrix(truth, pred, labels),
    }


def confusion_matrix(truth, pred, labels: Sequence[str]) -> list[list[int]]:
    """Counts with rows = truth label and columns = predicted label, both in `labels` order."""
    truth, pred = _as_str(truth), _as_str(pred)
    return [[int(np.sum((truth == t) & (pred == p))) for p in labels] for t in labels]


def _class_scores(truth: np.ndarray, pred: np.ndarray, label: str) -> dict:
    hits = int(np.sum((truth == label) & (pred == label)))
    support = int(np.sum(truth == label))
    predicted = int(np.sum(pred == label))
    precision = hits / predicted if predicted else 0.0
    recall = hits / support if support else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        "support": support,
    }


def regression_metrics(truth, pred) -> dict:
    """CCC, Pearson correlation, mean absolute and mean squared error."""
    truth, pred = _as_float(truth), _as_float(pred)
    _check_lengths(truth, pred)
    error = pred - truth
    return {
        "ccc": ccc(truth, pred),
        "pcc": pcc(truth, pred),
        "mae": float(np.mean(np.abs(error))),
        "mse": float(np.mean(error**2)),
        "n": int(len(truth)),
    }


def ccc(a, b) -> float:
    """Lin's concordance correlation coefficient; 0.0 when it is undefined (both constant).

    Unlike Pearson it also penalises a shift or scale difference between the two, which is why
    it is the usual score for dimensional emotion and age regression.
    """
    a, b = _as_float(a), _as_float(b)
    _check_lengths(a, b)
    covariance = np.mean((a - a.mean()) * (b - b.mean()))
    denominator = a.var() + b.var() + (a.mean() - b.mean()) ** 2
    return float(2 * covariance / denominator) if denominator > 0 else 0.0


def pcc(a, b) -> float:
    """Pearson correlation; 0.0 instead of NaN when either input is constant."""
    a, b = _as_float(a), _as_float(b)
    _check_lengths(a, b)
    spread = a.std() * b.std()
    if not spread > 0:
        return 0.0
    return float(np.mean((a - a.mean()) * (b - b.mean())) / spread)


def mean_std(list_of_metric_dicts: Sequence[dict]) -> dict:
    """Mean and population std (ddof=0) of every top-level numeric metric over repeated runs.

    Nested entries (per_class, confusion) are skipped: they do not average meaningfully. Keys
    are "<metric>_mean" and "<metric>_std", in the order of the first run's dict.
    """
    if not list_of_metric_dicts:
        return {}
    out = {}
    for key, value in list_of_metric_dicts[0].items():
        if not _is_scalar(value) or not all(
            _is_scalar(run.get(key)) for run in list_of_metric_dicts
        ):
            continue
        values = np.array([float(run[key]) for run in list_of_metric_dicts])
        out[f"{key}_mean"] = float(values.mean())
        out[f"{key}_std"] = float(values.std(ddof=0))
    return out


def combine_per_speaker(table: pd.DataFrame, mode: str, task) -> pd.DataFrame:
    """Collapse per-sample predictions to one row per speaker (columns speaker, truth, prediction).

    mode "mode": the most frequent predicted label, and the most frequent truth, per speaker
    (ties go to the label that sorts first). mode "mean": classification averages the
    proba_<label> columns and takes the most probable label; regression averages predictions
    and truths. "mode" is refused for regression: the most frequent of continuous values is
    meaningless. Rows are sorted by speaker.
    """
    mode = str(mode).strip().lower()
    if mode not in ("mode", "mean"):
        raise SautiError(f"PLOT.combine_per_speaker: unknown mode {mode!r}; use 'mode' or 'mean'")
    grouped = table.groupby("speaker", sort=True)
    if task == "regression":
        if mode == "mode":
            raise SautiError(
                "PLOT.combine_per_speaker: 'mode' needs class labels but EXP.type is regression; "
                "use 'mean'"
            )
        result = grouped[["truth", "prediction"]].mean()
    elif mode == "mode":
        result = grouped[["truth", "prediction"]].agg(_most_frequent)
    else:
        result = _mean_of_probabilities(table, grouped)
    return result.reset_index()[["speaker", "truth", "prediction"]]


def _mean_of_probabilities(table: pd.DataFrame, grouped) -> pd.DataFrame:
    columns = [c for c in table.columns if str(c).startswith(PROBA_PREFIX)]
    if not columns:
        raise SautiError(
            "PLOT.combine_per_speaker: 'mean' needs class probabilities (proba_<label> columns) "
            "in the predictions table"
        )
    labels = np.array([c[len(PROBA_PREFIX) :] for c in columns])
    mean_proba = grouped[columns].mean()
    return pd.DataFrame(
        {
            "truth": grouped["truth"].agg(_most_frequent),
            "prediction": labels[mean_proba.to_numpy().argmax(axis=1)],
        },
        index=mean_proba.index,
    )


def _most_frequent(values: pd.Series):
    return values.mode().iloc[0]


def _is_scalar(value) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)


def _as_str(values) -> np.ndarray:
    return np.asarray(values).astype(str)


def _as_float(values) -> np.ndarray:
    return np.asarray(values, dtype=float)


def _check_lengths(a: np.ndarray, b: np.ndarray) -> None:
    if len(a) != len(b):
        raise ValueError(f"truth has {len(a)} values but prediction has {len(b)}")
    if len(a) == 0:
        raise SautiError("nothing to evaluate: the test set is empty")
