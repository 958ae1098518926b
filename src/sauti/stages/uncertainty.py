"""The uncertainty stage: how sure the model was of each test prediction, and how good it is
where it was sure (PLOT.uncertainty_threshold, Nkululeko's key of that name).

Why: a classifier that is right 80 % of the time may be right 95 % of the time on the half of the
samples it is most sure of, and a user deciding whether to trust it on new speech wants to know
that, not only the average. The uncertainty of a prediction is the entropy of its class
probabilities divided by its largest value, log(number of classes): 0 when one class has all the
probability, 1 when every class has the same. The stage scores the test predictions of run 0
twice, all of them and those at or below the threshold, and for coverages of 10 % to 100 % (the
most certain share of the test samples), and draws both.

An extension (StageSpec.plan): it reads the experiment's train (or finetune) predictions and adds a
section to its report; nothing else in the pipeline reads it. Classification only: regression
predictions have no class probabilities.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from sauti.core.errors import SautiError
from sauti.core.fileio import read_json, read_table, write_json, write_table
from sauti.core.keys import Keyed, Stage, make_stage
from sauti.ml.data import ID
from sauti.ml.metrics import classification_metrics
from sauti.stages.base import StageSpec

log = logging.getLogger("sauti")

UNCERTAINTY = Keyed(
    "uncertainty", 1, "uncertainty.parquet", ("stages/uncertainty.py", "ml/metrics.py")
)
SUMMARY = "uncertainty.json"
PLOT = "uncertainty.png"
COVERAGES = tuple(round(0.1 * i, 1) for i in range(1, 11))


def plan_uncertainty(cfg: dict, plan) -> Stage | None:
    """The keyed stage when PLOT.uncertainty_threshold is set for a classification experiment;
    it reads the predictions of the experiment's model (plan.train: train or finetune)."""
    threshold = cfg["PLOT"].get("uncertainty_threshold")
    if threshold is None or cfg["EXP"]["type"] != "classification":
        return None
    return make_stage(UNCERTAINTY, {"threshold": float(threshold)}, (plan.train,))


def uncertainty(proba: np.ndarray) -> np.ndarray:
    """Normalised entropy of each row of class probabilities: 0 (sure) to 1 (uniform)."""
    proba = np.clip(np.asarray(proba, dtype=float), 0.0, 1.0)
    proba = proba / proba.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(proba > 0, proba * np.log(proba), 0.0)
    return -terms.sum(axis=1) / np.log(proba.shape[1])


def _scores(rows: pd.DataFrame, labels: list[str]) -> dict:
    if rows.empty:
        return {"n": 0, "uar": None, "accuracy": None}
    found = classification_metrics(rows["truth"], rows["prediction"], labels)
    return {"n": found["n"], "uar": found["uar"], "accuracy": found["accuracy"]}


def uncertainty_stage(predictions_path: str, params: dict, out_dir: str) -> None:
    """Per-sample uncertainty of run 0's test predictions, the scores below the threshold and
    per coverage, and their plot."""
    table = read_table(predictions_path)
    test = table[(table["run"] == 0) & (table["split"] == "test")].reset_index(drop=True)
    columns = [c for c in test.columns if c.startswith("proba_")]
    if len(columns) < 2 or test.empty:
        raise SautiError(
            f"{predictions_path}: no test predictions with class probabilities",
            hint="PLOT.uncertainty_threshold needs a classification model's test predictions",
        )
    labels = [c.removeprefix("proba_") for c in columns]
    rows = test[[*ID, "truth", "prediction"]].assign(
        uncertainty=uncertainty(test[columns].to_numpy()),
        correct=test["truth"].astype(str) == test["prediction"].astype(str),
    )
    threshold = float(params["threshold"])
    kept = rows[rows["uncertainty"] <= threshold]
    ordered = rows.sort_values("uncertainty", kind="stable")
    curve = []
    for coverage in COVERAGES:
        n = max(1, int(round(coverage * len(rows))))
        curve.append({"coverage": coverage, **_scores(ordered.head(n), labels)})
    summary = {
        "threshold": threshold,
        "all": _scores(rows, labels),
        "below_threshold": _scores(kept, labels),
        "share_kept": len(kept) / len(rows),
        "mean_uncertainty": {
            "correct": _mean(rows.loc[rows["correct"], "uncertainty"]),
            "wrong": _mean(rows.loc[~rows["correct"], "uncertainty"]),
        },
        "coverage": curve,
    }
    out = Path(out_dir)
    _plot(rows, curve, threshold, out / PLOT)
    write_json(out / SUMMARY, summary)
    write_table(out / "uncertainty.parquet", rows)
    log.info("uncertainty: %d of %d test samples at or below %.2f", len(kept), len(rows), threshold)


def _mean(values: pd.Series) -> float | None:
    return float(values.mean()) if len(values) else None


def _plot(rows: pd.DataFrame, curve: list[dict], threshold: float, path: Path) -> None:
    from matplotlib.figure import Figure  # heavy: matplotlib (object API: safe in threads)

    from sauti.ml.plots import save_figure  # heavy: matplotlib

    fig = Figure(figsize=(9, 3.6))
    left, right = fig.subplots(1, 2)
    bins = np.linspace(0, 1, 21)
    left.hist(
        [rows.loc[rows["correct"], "uncertainty"], rows.loc[~rows["correct"], "uncertainty"]],
        bins=bins,
        label=["correct", "wrong"],
        color=["#4c9a6a", "#c0504d"],
        stacked=True,
    )
    left.axvline(threshold, color="black", linestyle="--", label=f"threshold {threshold:.2f}")
    left.set(xlabel="uncertainty (normalised entropy)", ylabel="test samples")
    left.legend(frameon=False)
    shown = [c for c in curve if c["uar"] is not None]
    right.plot([c["coverage"] for c in shown], [c["uar"] for c in shown], marker="o")
    right.set(xlabel="coverage (most certain share kept)", ylabel="UAR", ylim=(0, 1.02))
    right.grid(alpha=0.3)
    fig.suptitle("Uncertainty of the test predictions (run 0)")
    fig.tight_layout()
    save_figure(fig, path, "png")


def report_section(output_path: str) -> dict:
    """The report's Uncertainty section, from the stage's folder."""
    folder = Path(output_path).parent
    summary = read_json(folder / SUMMARY)
    every, kept = summary["all"], summary["below_threshold"]

    def score(value) -> str:
        return "n/a" if value is None else f"{value:.3f}"

    note = (
        f"Uncertainty is the normalised entropy of a prediction's class probabilities (0: sure, "
        f"1: every class equally likely). {kept['n']} of {every['n']} test samples "
        f"({summary['share_kept']:.0%}) are at or below the threshold "
        f"{summary['threshold']:.2f}; their UAR is {score(kept['uar'])}, against "
        f"{score(every['uar'])} on all."
    )
    header = ["test samples", "n", "UAR", "accuracy"]
    rows = [
        ["all", every["n"], score(every["uar"]), score(every["accuracy"])],
        [
            f"uncertainty <= {summary['threshold']:.2f}",
            kept["n"],
            score(kept["uar"]),
            score(kept["accuracy"]),
        ],
        *[
            [f"most certain {c['coverage']:.0%}", c["n"], score(c["uar"]), score(c["accuracy"])]
            for c in summary["coverage"]
        ],
    ]
    return {
        "id": "uncertainty",
        "title": "Uncertainty",
        "note": note,
        "table": {"caption": "Test scores by uncertainty (run 0)", "header": header, "rows": rows},
        "images": [
            {
                "path": str(folder / PLOT),
                "caption": "Left: uncertainty of correct and wrong predictions; "
                "right: UAR of the most certain share of the test samples",
            }
        ],
    }


class Rules:
    """What workflow/rules/uncertainty.smk asks the registry (REG.spec("uncertainty"))."""

    def __init__(self, registry):
        self.registry = registry

    def predictions(self, w) -> str:
        model = self.registry.stage("uncertainty", w.key).upstream[0]  # train or finetune
        return self.registry.path_of(model)


SPEC = StageSpec(
    "uncertainty",
    (UNCERTAINTY,),
    rules=Rules,
    plan=plan_uncertainty,
    report_section=report_section,
)
