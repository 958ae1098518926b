"""What every torch model behind scikit-learn's interface shares (mlp, mlp_reg, cnn).

Why one base: the models differ only in their network and input shape. Turning MODEL keys into
`loop.FitSettings`, keeping the best epoch's weights as numpy arrays (a GPU-trained bundle must
predict on a CPU-only machine), rebuilding the network once for prediction and leaving that
cache out of the pickle must behave the same for all of them, so it is written once here.

torch is imported only inside methods, so importing this module needs no torch.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator

from sauti.core.errors import SautiError
from sauti.ml.deep.loop import FitSettings, balanced_class_weights, fit, make_loss, predict


def encode_labels(classes: np.ndarray, y) -> np.ndarray:
    """Class indices of `y` in `classes`; a label never seen in training is one clear error."""
    index = {label: i for i, label in enumerate(classes)}
    unknown = [v for v in np.unique(y) if v not in index]
    if unknown:
        raise SautiError(f"dev label {unknown[0]!r} does not occur in the training data")
    return np.array([index[v] for v in y], dtype=np.int64)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64, shifted by the row maximum so large logits cannot overflow."""
    logits = np.asarray(logits, dtype=np.float64)
    logits = logits - logits.max(axis=1, keepdims=True)
    expo = np.exp(logits)
    return expo / expo.sum(axis=1, keepdims=True)


class TorchEstimator(BaseEstimator):
    """Fit through the shared loop and predict from saved weights; subclasses build the net.

    Subclasses keep scikit-learn's explicit `__init__` parameters (get_params needs them) and
    must have `epochs`, `patience`, `batch_size`, `learning_rate`, `optimizer`, `device`,
    `progress`, and `classes_` for classification.
    """

    #: sauti.ml.training passes dev rows (or a held-out share of train speakers) to such models
    uses_dev = True

    def _train(self, net, train, dev, loss_name, measure, task, epochs, seed, desc, augment=None):
        """Run loop.fit with this model's settings; keep the best epoch's weights and history."""
        weights = (
            balanced_class_weights(train[1].numpy(), len(self.classes_))
            if loss_name == "weighted_cross"
            else None
        )
        settings = FitSettings(
            epochs=int(epochs),
            patience=int(self.patience) if self.patience else None,
            batch_size=int(self.batch_size),
            learning_rate=float(self.learning_rate),
            optimizer=str(self.optimizer),
            device=str(self.device),
            seed=seed,
            measure=measure,
            task=task,
            progress=bool(self.progress),
            desc=desc,
        )
        net, history = fit(
            net,
            make_loss(loss_name, task, weights),
            train=train,
            dev=dev,
            settings=settings,
            augment=augment,
        )
        self.state_ = {k: v.detach().cpu().numpy().copy() for k, v in net.state_dict().items()}
        self.history_ = history
        self.best_epoch_ = int(history.loc[history["best"], "epoch"].iloc[0])
        self._net_cache = None

    def _predict_outputs(self, torch, build, inputs, batch_size: int) -> np.ndarray:
        """Raw outputs on the CPU from the saved weights; `build()` makes an untrained network
        of the right shape, built once and cached (not pickled) for later calls."""
        net = getattr(self, "_net_cache", None)
        if net is None:
            net = build()
            net.load_state_dict({k: torch.as_tensor(v) for k, v in self.state_.items()})
            net.eval()
            self._net_cache = net
        return predict(net, inputs, batch_size=batch_size, device=torch.device("cpu"))

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_net_cache", None)  # rebuilt from state_ on first use
        return state
