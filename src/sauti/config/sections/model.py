"""MODEL at config time: the device word, and loss / measure against EXP.type.

Why at config time: a typo or a regression loss in a classification run should stop
`sauti check`, not a train job later.
"""

from __future__ import annotations

from sauti.config.device import check_device
from sauti.config.model_options import resolve_loss, resolve_measure
from sauti.config.schema import ConfigError
from sauti.core.errors import SautiError


def check_config(cfg: dict, source: str) -> None:
    """MODEL.device, and MODEL.loss / measure against EXP.type (torch-free)."""
    model, task = cfg["MODEL"], cfg["EXP"]["type"]
    try:
        check_device(model["device"], "MODEL.device")
        resolve_loss(model["loss"], task)
        resolve_measure(model["measure"], task)
    except SautiError as err:
        raise ConfigError(f"{source}: [MODEL] {err}") from err
