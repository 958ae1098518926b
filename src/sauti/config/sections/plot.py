"""PLOT at config time: keys that only make sense for one kind of experiment.

Why in config: PLOT.uncertainty_threshold asks for the uncertainty stage, which needs class
probabilities; in a regression experiment it would silently do nothing, so it stops
`sauti check` instead.
"""

from __future__ import annotations

from sauti.config.schema import ConfigError


def check_config(cfg: dict, source: str) -> None:
    """PLOT.uncertainty_threshold needs a classification experiment."""
    threshold = cfg["PLOT"].get("uncertainty_threshold")
    if threshold is not None and cfg["EXP"]["type"] != "classification":
        raise ConfigError(
            f"{source}: [PLOT] uncertainty_threshold needs EXP.type classification "
            f"(a regression model's predictions have no class probabilities)",
            hint="remove PLOT.uncertainty_threshold",
        )
