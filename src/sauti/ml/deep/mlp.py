"""MODEL.type = mlp / mlp_reg: a feed-forward network on any feature table, as an sklearn estimator.

Why an estimator: the train stage, cross-validation, OPTIM, the test stage and `sauti demo` all
speak scikit-learn (fit / predict / predict_proba / classes_) and save the fitted model inside
`model.joblib`. Wrapping the torch network in that interface lets every one of them use an mlp
without a special case. Training itself is `sauti.ml.deep.loop.fit`, the one loop shared with the
other torch models, so early stopping and the best-epoch choice behave the same everywhere.

What is kept after `fit`: the best epoch's weights as numpy arrays (`state_`), so a bundle
trained on a GPU loads and predicts on a machine without one or without CUDA; the per-epoch
history (`history_`) for the curves. Prediction always runs on the CPU: a feature table is small.

torch is imported only inside functions, so `sauti.ml.training` can import this module on a base
install; the key checks that `sauti.config.resolve` needs are in `sauti.config.model_options` (no sklearn either).
"""

from __future__ import annotations

import logging

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin

from sauti.config.device import check_device
from sauti.config.model_options import (
    ACTIVATIONS,
    DEFAULT_EPOCHS,
    layer_sizes,
    resolve_loss,
    resolve_measure,
)
from sauti.core.errors import SautiError
from sauti.ml.deep import require_torch
from sauti.ml.deep.device import seed_everything
from sauti.ml.deep.estimator import TorchEstimator, encode_labels, softmax

log = logging.getLogger("sauti.ml.deep")


def validation_rows(y, speakers, share: float, seed: int, classification: bool):
    """Boolean mask of train rows held out for early stopping: whole speakers, about `share` of
    them, stratified by label for classification. None when fewer than 2 speakers (or share 0):
    then nothing can be held out without putting a speaker on both sides."""
    from sklearn.model_selection import GroupKFold, StratifiedGroupKFold

    speakers = np.asarray(speakers)
    n_groups = len(np.unique(speakers))
    if not share or share <= 0 or n_groups < 2:
        return None
    folds = int(min(max(2, round(1 / share)), n_groups))
    if classification:
        splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed % 2**32)
    else:
        splitter = GroupKFold(n_splits=folds, shuffle=True, random_state=seed % 2**32)
    try:
        _, held = next(splitter.split(np.zeros(len(speakers)), np.asarray(y), speakers))
    except ValueError:  # e.g. a class with fewer speakers than folds
        _, held = next(GroupKFold(n_splits=folds).split(np.zeros(len(speakers)), groups=speakers))
    mask = np.zeros(len(speakers), dtype=bool)
    mask[held] = True
    return mask


# ------------------------------------------------------------------------------ the estimators


class _MLPBase(TorchEstimator):
    """Shared parameters, fit and prediction of the classifier and the regressor."""

    _task = "classification"

    def __init__(
        self,
        layers=None,
        drop=0.1,
        activation="relu",
        batch_size=8,
        learning_rate=1e-4,
        epochs=DEFAULT_EPOCHS,
        patience=5,
        loss=None,
        measure=None,
        optimizer="adam",
        device="cpu",
        validation_share=0.2,
        class_weight=None,
        random_state=42,
        progress=True,
    ):
        self.layers = layers
        self.drop = drop
        self.activation = activation
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.patience = patience
        self.loss = loss
        self.measure = measure
        self.optimizer = optimizer
        self.device = device
        self.validation_share = validation_share
        self.class_weight = class_weight
        self.random_state = random_state
        self.progress = progress

    # -- training ---------------------------------------------------------------------------
    def fit(self, X, y, dev=None):
        """Train on (X, y); `dev` = (X_dev, y_dev) drives early stopping and the best epoch.

        Without dev the last epoch is kept (the loop has nothing to choose by)."""
        torch = require_torch(f"MODEL.type = {self._type_name()}")

        X = np.asarray(X, dtype=np.float32)
        targets = self._encode_fit(np.asarray(y))
        loss_name = resolve_loss(self.loss, self._task, self.class_weight == "balanced")
        measure = resolve_measure(self.measure, self._task)
        if self.activation not in ACTIVATIONS:
            raise SautiError(
                f"MODEL.activation = {self.activation!r} is unknown",
                hint=f"use one of {', '.join(ACTIVATIONS)}",
            )
        seed = int(self.random_state)
        seed_everything(seed)  # the initial weights depend on the seed, not only the batches
        self.n_features_in_ = X.shape[1]
        net = self._network(torch)
        dev_pair = None
        if dev is not None and len(dev[0]):
            dev_pair = (
                torch.as_tensor(np.asarray(dev[0], dtype=np.float32)),
                self._tensor(torch, self._encode(np.asarray(dev[1]))),
            )
        self._train(
            net,
            (torch.as_tensor(X), self._tensor(torch, targets)),
            dev_pair,
            loss_name,
            measure,
            self._task,
            self.epochs,
            seed,
            self._type_name(),
        )
        return self

    def _network(self, torch):
        act = {
            "relu": torch.nn.ReLU,
            "leaky_relu": torch.nn.LeakyReLU,
            "tanh": torch.nn.Tanh,
            "gelu": torch.nn.GELU,
        }[self.activation]
        parts, width = [], self.n_features_in_
        for size in layer_sizes(self.layers):
            parts += [torch.nn.Linear(width, size), act(), torch.nn.Dropout(float(self.drop))]
            width = size
        parts.append(torch.nn.Linear(width, self._n_outputs()))
        return torch.nn.Sequential(*parts)

    # -- prediction ---------------------------------------------------------------------------
    def _outputs(self, X) -> np.ndarray:
        """Raw network outputs on the CPU, from the saved best-epoch weights."""
        torch = require_torch(f"MODEL.type = {self._type_name()}")
        X = np.asarray(X, dtype=np.float32)
        if X.shape[1] != self.n_features_in_:
            raise SautiError(
                f"the mlp was trained on {self.n_features_in_} features, got {X.shape[1]}"
            )
        return self._predict_outputs(
            torch, lambda: self._network(torch), torch.as_tensor(X), batch_size=1024
        )

    def _type_name(self) -> str:
        return "mlp" if self._task == "classification" else "mlp_reg"


class TorchMLPClassifier(ClassifierMixin, _MLPBase):
    """mlp: string labels in and out, `classes_` sorted, softmax probabilities in that order."""

    _task = "classification"

    def _encode_fit(self, y):
        self.classes_ = np.unique(y)
        return self._encode(y)

    def _encode(self, y):
        return encode_labels(self.classes_, y)

    @staticmethod
    def _tensor(torch, values):
        return torch.as_tensor(values, dtype=torch.long)

    def _n_outputs(self) -> int:
        return len(self.classes_)

    def predict_proba(self, X) -> np.ndarray:
        return softmax(self._outputs(X))

    def predict(self, X) -> np.ndarray:
        return self.classes_[self._outputs(X).argmax(axis=1)]


class TorchMLPRegressor(RegressorMixin, _MLPBase):
    """mlp_reg: one output. Targets are standardised with the training mean and standard
    deviation inside the model (and mapped back by predict), so one learning rate suits any
    unit (words per minute, years, arousal 0..1)."""

    _task = "regression"

    def _encode_fit(self, y):
        y = y.astype(np.float64)
        self.target_mean_ = float(y.mean())
        std = float(y.std())
        self.target_std_ = std if std > 0 else 1.0
        return self._encode(y)

    def _encode(self, y):
        return ((np.asarray(y, dtype=np.float64) - self.target_mean_) / self.target_std_).astype(
            np.float32
        )

    @staticmethod
    def _tensor(torch, values):
        return torch.as_tensor(values, dtype=torch.float32)

    def _n_outputs(self) -> int:
        return 1

    def predict(self, X) -> np.ndarray:
        return (
            self._outputs(X).reshape(-1).astype(np.float64) * self.target_std_ + self.target_mean_
        )


def build(cfg, task: str, seed: int):
    """The estimator for MODEL.type mlp / mlp_reg from a models._ModelConfig (typed MODEL access).

    torch is required here, at build time, so a base install stops before any work with one line."""
    name = "mlp" if task == "classification" else "mlp_reg"
    require_torch(f"MODEL.type = {name}")

    raw = cfg._cfg
    patience = raw.get("patience")
    share = raw.get("validation_share")
    params = {
        "layers": raw.get("layers") or None,
        "drop": cfg.get("drop", 0.1, float, "a number from 0 to 1"),
        "activation": cfg.choice("activation", "relu", ACTIVATIONS),
        "batch_size": cfg.positive_int("batch_size", 8),
        "learning_rate": cfg.positive_float("learning_rate", 1e-4),
        "patience": int(patience) if patience else None,
        "loss": resolve_loss(raw.get("loss"), task),
        "measure": resolve_measure(raw.get("measure"), task),
        "optimizer": cfg.choice("optimizer", "adam", ("adam", "adamw", "sgd")),
        "device": check_device(raw.get("device") or "cpu", "MODEL.device"),
        "validation_share": float(share) if share is not None else 0.2,
        "class_weight": cfg.class_weight() if task == "classification" else None,
        "random_state": seed,
    }
    layer_sizes(params["layers"])  # a bad layer spec stops here, not after feature loading
    cls = TorchMLPClassifier if task == "classification" else TorchMLPRegressor
    return cls(**params)
