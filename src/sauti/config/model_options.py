"""The MODEL keys of neural models, checked without torch or scikit-learn.

Why apart from sauti.ml.deep.mlp: `sauti.config.sections.model` checks MODEL.loss / measure against
EXP.type when the config is read, which happens while Snakemake builds the DAG, and that path must stay free of
heavy imports (tests/test_scaling.py guards it). The cnn and finetune models read the same keys.
"""

from __future__ import annotations

import re

from sauti.core.errors import SautiError

ACTIVATIONS = ("relu", "leaky_relu", "tanh", "gelu")
#: Hidden layers when MODEL.layers is empty.
DEFAULT_LAYERS = (64, 16)
#: Epochs when EXP.epochs is left empty (null): early stopping usually ends training sooner.
DEFAULT_EPOCHS = 100
LOSS_ALIASES = {"1-ccc": "ccc", "weighted cross": "weighted_cross", "crossentropy": "cross"}
_TASK_LOSSES = {"classification": ("cross", "weighted_cross"), "regression": ("mse", "mae", "ccc")}
_TASK_MEASURES = {"classification": ("uar", "accuracy"), "regression": ("ccc", "mse", "mae")}


# ------------------------------------------------------------------ torch-free checks and helpers


def layer_sizes(layers) -> tuple[int, ...]:
    """MODEL.layers -> hidden sizes. A mapping is ordered by the number in its keys (l1, l2, ...,
    l10), not by text or file order, because stage params are key-sorted JSON; a list is taken
    as it is; empty means DEFAULT_LAYERS."""
    if not layers:
        return DEFAULT_LAYERS
    if isinstance(layers, dict):

        def number(name):
            digits = re.findall(r"\d+", str(name))
            return (int(digits[-1]) if digits else 0, str(name))

        values = [layers[k] for k in sorted(layers, key=number)]
    elif isinstance(layers, list | tuple):
        values = list(layers)
    else:
        raise SautiError(
            f"MODEL.layers = {layers!r} is not a mapping of layer sizes",
            hint="e.g. {l1: 64, l2: 16}",
        )
    try:
        sizes = tuple(int(v) for v in values)
    except (TypeError, ValueError) as exc:
        raise SautiError(f"MODEL.layers = {layers!r}: sizes must be whole numbers") from exc
    if any(s < 1 for s in sizes):
        raise SautiError(f"MODEL.layers = {layers!r}: sizes must be at least 1")
    return sizes


def resolve_loss(loss, task: str, class_weight: bool = False) -> str:
    """MODEL.loss (None = cross / mse) as one of loop.LOSSES; a loss of the other task is an error.

    `class_weight` turns the default cross-entropy into weighted cross-entropy, so MODEL.class_weight
    balances an mlp the way it balances svm or xgb."""
    if loss is None or str(loss).strip() == "":
        name = "cross" if task == "classification" else "mse"
    else:
        name = str(loss).strip().lower()
        name = LOSS_ALIASES.get(name, name)
    allowed = _TASK_LOSSES[task]
    if name not in allowed:
        known = _TASK_LOSSES["classification"] + _TASK_LOSSES["regression"]
        why = f"does not fit a {task} task" if name in known else "is unknown"
        raise SautiError(f"MODEL.loss = {loss!r} {why}", hint=f"use {', '.join(allowed)}")
    if name == "cross" and class_weight:
        name = "weighted_cross"
    return name


def resolve_measure(measure, task: str) -> str:
    """MODEL.measure (None = uar for classification, ccc for regression), checked against the task."""
    if measure is None or str(measure).strip() == "":
        return _TASK_MEASURES[task][0]
    name = str(measure).strip().lower()
    if name not in _TASK_MEASURES[task]:
        raise SautiError(
            f"MODEL.measure = {measure!r} does not fit a {task} task",
            hint=f"use {', '.join(_TASK_MEASURES[task])}",
        )
    return name
