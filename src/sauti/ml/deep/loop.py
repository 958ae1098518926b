"""One training loop for every torch model sauti trains (mlp, cnn, fine-tuned transformers, ...).

Why one loop: early stopping, the choice of the best epoch by MODEL.measure on the dev data,
per-epoch curves, seeding and device handling must behave the same whatever the network is, so
that a user comparing an mlp with a cnn compares models, not training code.

Contract:
* `model(x)` returns logits (classification, shape [n, k]) or values ([n] or [n, 1], regression);
* the data are `(inputs, targets)` pairs of tensors (inputs may be a dict of tensors for
  transformers, or any object with len() whose [index tensor] gives a tensor or such a dict,
  so that audio can be padded batch by batch); targets are class indices (long) or floats;
* `augment(batch_inputs, generator)` (optional) is applied to training batches only, so the
  noise changes every epoch and never touches dev data;
* the model that comes back holds the weights of the best epoch, and `history` has one row per
  epoch: epoch, train_loss, dev_loss, dev_<measure>, best.
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sauti.core.errors import SautiError
from sauti.core.fileio import atomic_path
from sauti.core.progress import bar as progress_bar
from sauti.ml.deep import require_torch
from sauti.ml.deep.device import resolve_device, seed_everything

log = logging.getLogger("sauti.ml.deep")

LOSSES = ("cross", "weighted_cross", "mse", "mae", "ccc")
MEASURES = ("uar", "accuracy", "mse", "mae", "ccc")
OPTIMIZERS = ("adam", "adamw", "sgd")
_HIGHER_IS_BETTER = {"uar": True, "accuracy": True, "ccc": True, "mse": False, "mae": False}


@dataclass
class FitSettings:
    """The MODEL keys that drive a training run (defaults match config.schema.yaml)."""

    epochs: int = 50
    patience: int | None = 5
    batch_size: int = 8
    learning_rate: float = 1e-3
    optimizer: str = "adam"
    weight_decay: float = 0.0
    device: str = "cpu"
    seed: int = 42
    measure: str = "uar"
    task: str = "classification"
    progress: bool = True
    desc: str = "train"


def make_loss(name: str, task: str, class_weights: np.ndarray | None = None):
    """MODEL.loss -> a loss function(outputs, targets). 'cross' with class weights is 'weighted'."""
    torch = require_torch(f"MODEL.loss = {name}")
    name = {"1-ccc": "ccc", "weighted cross": "weighted_cross", "crossentropy": "cross"}.get(
        name, name
    )
    if name not in LOSSES:
        raise SautiError(
            f"MODEL.loss = {name!r} is unknown", hint=f"use one of {', '.join(LOSSES)}"
        )
    classification = task == "classification"
    if classification != (name in ("cross", "weighted_cross")):
        fits = "cross, weighted_cross" if classification else "mse, mae, ccc"
        raise SautiError(f"MODEL.loss = {name!r} does not fit a {task} task", hint=f"use {fits}")
    if classification:
        weight = None
        if name == "weighted_cross" and class_weights is not None:
            weight = torch.as_tensor(class_weights, dtype=torch.float32)
        return _CrossEntropy(weight)
    if name == "mse":
        return lambda out, y: torch.nn.functional.mse_loss(out.reshape(-1), y.reshape(-1))
    if name == "mae":
        return lambda out, y: torch.nn.functional.l1_loss(out.reshape(-1), y.reshape(-1))
    return ccc_loss


class _CrossEntropy:
    """Cross-entropy whose class weights follow the logits to whatever device they are on."""

    def __init__(self, weight):
        self.weight = weight

    def __call__(self, out, y):
        import torch

        weight = None if self.weight is None else self.weight.to(out.device)
        return torch.nn.functional.cross_entropy(out, y, weight=weight)


def ccc_loss(out, y):
    """1 - concordance correlation coefficient (Lin 1989): rewards agreement, not only trend."""
    out, y = out.reshape(-1), y.reshape(-1)
    mo, my = out.mean(), y.mean()
    cov = ((out - mo) * (y - my)).mean()
    ccc = 2 * cov / (out.var(unbiased=False) + y.var(unbiased=False) + (mo - my) ** 2 + 1e-8)
    return 1 - ccc


def balanced_class_weights(y: np.ndarray, n_classes: int) -> np.ndarray:
    """n / (k * count_c): rare classes weigh more; a class absent from train gets weight 1."""
    counts = np.bincount(np.asarray(y, dtype=int), minlength=n_classes).astype(float)
    weights = np.ones(n_classes)
    present = counts > 0
    weights[present] = counts.sum() / (present.sum() * counts[present])
    return weights


def score(measure: str, outputs: np.ndarray, targets: np.ndarray) -> float:
    """MODEL.measure of raw network outputs (logits or values) against targets."""
    if measure in ("uar", "accuracy"):
        pred = outputs.argmax(axis=1)
        if measure == "accuracy":
            return float((pred == targets).mean())
        recalls = [(pred[targets == c] == c).mean() for c in np.unique(targets)]
        return float(np.mean(recalls))
    values = outputs.reshape(-1)
    if measure == "mse":
        return float(np.mean((values - targets) ** 2))
    if measure == "mae":
        return float(np.mean(np.abs(values - targets)))
    if measure == "ccc":
        mo, mt = values.mean(), targets.mean()
        cov = np.mean((values - mo) * (targets - mt))
        return float(2 * cov / (values.var() + targets.var() + (mo - mt) ** 2 + 1e-12))
    raise SautiError(f"MODEL.measure = {measure!r} is unknown", hint=f"use one of {MEASURES}")


def check_measure(measure: str, task: str) -> None:
    ok = ("uar", "accuracy") if task == "classification" else ("mse", "mae", "ccc")
    if measure not in ok:
        raise SautiError(
            f"MODEL.measure = {measure!r} does not fit a {task} task", hint=f"use {', '.join(ok)}"
        )


def make_optimizer(model, settings: FitSettings):
    torch = require_torch("training")
    params = [p for p in model.parameters() if p.requires_grad]
    name = settings.optimizer
    if name == "adam":
        return torch.optim.Adam(
            params, lr=settings.learning_rate, weight_decay=settings.weight_decay
        )
    if name == "adamw":
        return torch.optim.AdamW(
            params, lr=settings.learning_rate, weight_decay=settings.weight_decay
        )
    if name == "sgd":
        return torch.optim.SGD(
            params, lr=settings.learning_rate, momentum=0.9, weight_decay=settings.weight_decay
        )
    raise SautiError(f"MODEL.optimizer = {name!r} is unknown", hint=f"use one of {OPTIMIZERS}")


def fit(
    model,
    loss_fn,
    train: tuple,
    dev: tuple | None,
    settings: FitSettings,
    augment: Callable | None = None,
    on_epoch: Callable[[dict], None] | None = None,
):
    """Train `model` with early stopping on `dev`; return (model with best weights, history).

    `on_epoch(row)` (optional) gets each epoch's history row as it is done, e.g. to write
    TensorBoard scalars while a long fine-tuning run is still going.

    Without dev data every epoch is scored on the training data (no early stopping possible:
    the last epoch is kept). Patience counts epochs without improvement of the measure.
    """
    torch = require_torch("training")
    check_measure(settings.measure, settings.task)
    seed_everything(settings.seed)
    device = resolve_device(settings.device)
    model = model.to(device)
    optimizer = make_optimizer(model, settings)
    generator = torch.Generator().manual_seed(settings.seed)
    n = _length(train[0])
    if n == 0:
        raise SautiError("no training samples", hint="check DATA filters and the split")
    higher = _HIGHER_IS_BETTER[settings.measure]
    best, best_state, best_epoch, waited, rows = None, None, 0, 0, []
    bar = progress_bar(
        range(1, int(settings.epochs) + 1),
        desc=settings.desc,
        unit="epoch",
        disable=not settings.progress,
    )
    for epoch in bar:
        model.train()
        order = torch.randperm(n, generator=generator)
        total, seen = 0.0, 0
        for start in range(0, n, int(settings.batch_size)):
            idx = order[start : start + int(settings.batch_size)]
            if len(idx) < 2 and n >= 2 and settings.task == "classification":
                continue  # a batch of one breaks batch norm; its sample comes back next epoch
            x, y = _take(train[0], idx), train[1][idx]
            if augment is not None:
                x = augment(x, generator)
            x, y = _to(x, device), y.to(device)
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            if not torch.isfinite(loss):
                raise SautiError(
                    f"training diverged at epoch {epoch} (loss {loss.item()})",
                    hint="lower MODEL.learning_rate or check the features for extreme values",
                )
            loss.backward()
            optimizer.step()
            total += float(loss.item()) * len(idx)
            seen += len(idx)
        train_loss = total / max(seen, 1)
        scored = dev if dev is not None and _length(dev[0]) > 0 else train
        outputs = predict(model, scored[0], settings.batch_size, device)
        with torch.no_grad():
            dev_loss = float(loss_fn(torch.as_tensor(outputs), scored[1].cpu()).item())
        value = score(settings.measure, outputs, scored[1].cpu().numpy())
        improved = best is None or (value > best if higher else value < best)
        if improved:
            best, best_epoch, waited = value, epoch, 0
            best_state = copy.deepcopy({k: v.detach().cpu() for k, v in model.state_dict().items()})
        else:
            waited += 1
        rows.append(
            {
                "epoch": epoch,
                "train_loss": train_loss,
                "dev_loss": dev_loss,
                f"dev_{settings.measure}": value,
            }
        )
        bar.set_postfix(loss=f"{train_loss:.3f}", **{settings.measure: f"{value:.3f}"})
        if on_epoch is not None:
            on_epoch(rows[-1])
        if dev is not None and settings.patience and waited >= int(settings.patience):
            log.info(
                "early stop at epoch %d: no better %s for %d epochs",
                epoch,
                settings.measure,
                waited,
            )
            break
    if dev is None:  # nothing held out: keep the last epoch rather than the best-on-train one
        best_state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        best_epoch = rows[-1]["epoch"]
    model.load_state_dict(best_state)
    history = pd.DataFrame(rows)
    history["best"] = history["epoch"] == best_epoch
    log.info(
        "best epoch %d of %d (%s %.4f)", best_epoch, len(rows), settings.measure, best or math.nan
    )
    return model.cpu(), history


def predict(model, inputs, batch_size: int = 64, device=None) -> np.ndarray:
    """Raw outputs (logits or values) for all inputs, in order, as a float numpy array."""
    torch = require_torch("prediction")
    device = device or next(model.parameters()).device
    model = model.to(device)
    model.eval()
    outs = []
    with torch.no_grad():
        for start in range(0, _length(inputs), int(batch_size)):
            idx = torch.arange(start, min(start + int(batch_size), _length(inputs)))
            out = model(_to(_take(inputs, idx), device))
            outs.append(out.detach().float().cpu())
    if not outs:
        return np.zeros((0,))
    return torch.cat(outs).numpy()


def _length(inputs) -> int:
    if isinstance(inputs, dict):
        return len(next(iter(inputs.values())))
    return len(inputs)


def _take(inputs, idx):
    if isinstance(inputs, dict):
        return {k: v[idx] for k, v in inputs.items()}
    return inputs[idx]


def _to(inputs, device):
    if isinstance(inputs, dict):
        return {k: v.to(device) for k, v in inputs.items()}
    return inputs.to(device)


def plot_curves(history: pd.DataFrame, path: str, title: str = "") -> None:
    """Loss (train, dev) and the dev measure per epoch, the best epoch marked; written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    measure = [c for c in history.columns if c.startswith("dev_") and c != "dev_loss"][0]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4))
    left.plot(history["epoch"], history["train_loss"], label="train")
    left.plot(history["epoch"], history["dev_loss"], label="dev")
    left.set_xlabel("epoch")
    left.set_ylabel("loss")
    left.legend()
    right.plot(history["epoch"], history[measure], color="C2")
    right.set_xlabel("epoch")
    right.set_ylabel(measure.replace("dev_", "dev "))
    best = history[history["best"]]
    for ax in (left, right):
        for epoch in best["epoch"]:
            ax.axvline(epoch, color="grey", linestyle=":", label=None)
    fig.suptitle(title or "training curves (dotted: best epoch)")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=str(path).rsplit(".", 1)[-1])
    plt.close(fig)
