"""The train stage: scaler, balancing and a classic or torch model per run; dev/test predictions.

Keyed by MODEL, the EXP/FEATS keys it depends on (TRAIN_EXP, TRAIN_FEATS), the target and the
feature types with their options. Classic models train inside Snakemake's process (rule train),
torch nets in a process of their own (rule train_net).
"""

from __future__ import annotations

from pathlib import Path

from sauti.core.fileio import atomic_path, read_table, write_json, write_table
from sauti.core.keys import Keyed, Stage, make_stage
from sauti.ml.deep.loop import plot_curves
from sauti.stages.augment import training_data
from sauti.stages.base import StageSpec
from sauti.stages.features import feature_matrix, feature_options

#: The modules whose code makes a model's predictions (train, and the stages that train models).
MODEL_SOURCES = (
    "ml/training.py",
    "ml/models.py",
    "ml/deep/estimator.py",
    "ml/deep/mlp.py",
    "ml/deep/cnn.py",
    "ml/deep/cnn_net.py",
    "ml/deep/loop.py",
    "config/model_options.py",
    "ml/features/spectra.py",
    "config/sections/spectra.py",
)
#: 2: svm predicts with the decision function (was argmax of Platt probabilities)
TRAIN = Keyed("train", 2, "predictions.parquet", MODEL_SOURCES)


#: EXP/FEATS keys that the train stage depends on besides MODEL.
TRAIN_EXP = ("type", "runs", "epochs", "random_seed")
TRAIN_FEATS = ("scale", "balancing")


def plan_train(cfg: dict, table: Stage, features: list[Stage]) -> Stage:
    """The train stage on `table` (the split, segments or separated tracks) and its features."""
    exp, feats = cfg["EXP"], cfg["FEATS"]
    params = {
        "MODEL": cfg["MODEL"],
        **{k: exp[k] for k in TRAIN_EXP},
        **{k: feats[k] for k in TRAIN_FEATS},
        "target": cfg["DATA"]["target"],
        "feature_types": feats["type"],
        # what inference needs to extract the same features from new audio
        "feature_options": {k: feature_options(k, feats) for k in feats["type"]},
    }
    return make_stage(TRAIN, params, (table, *features))


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

    from sauti.ml import training  # heavy: scikit-learn

    data = read_table(split_path)
    if augmented_path:
        data = training_data(data, read_table(augmented_path))
    features = feature_matrix(data, feature_paths, params["feature_types"])
    result = training.train_runs(data, features, params)
    out = Path(out_dir)
    write_table(out / "predictions.parquet", result["predictions"])

    with atomic_path(out / "model.joblib") as tmp:
        joblib.dump(result["bundle"], tmp)
    history = getattr(result["bundle"]["model"], "history_", None)
    if history is not None:  # neural models: run 0's per-epoch curves (evaluate publishes them)
        write_table(out / "curves.csv", history)
        plot_curves(history, str(out / "curves.png"), f"{params['MODEL']['type']}: training curves")
        best = history.loc[history["best"], "epoch"]
        result["info"]["curves"] = {
            "file": "curves.png",
            "epochs": int(len(history)),
            "best_epoch": int(best.iloc[0]) if len(best) else None,
        }
    write_json(out / "info.json", result["info"])


class Rules:
    """What workflow/rules/train.smk asks the registry (REG.spec("train"))."""

    def __init__(self, registry):
        self.registry = registry

    def inputs(self, w) -> dict:
        reg = self.registry
        augment = reg.upstream("train", w.key, "augment")  # aug_train (sauti.stages.augment)
        return {
            "split": reg.path_of(reg.data_upstream("train", w.key)),
            "features": [reg.path_of(u) for u in reg.upstream("train", w.key, "features")],
            **({"augment": reg.path_of(augment[0])} if augment else {}),
        }


SPEC = StageSpec("train", (TRAIN,), rules=Rules)
