"""PREDICT at config time: the targets (built in, or one model's target) and the device.

Why in config: a target sauti cannot estimate, or a typo in the device, must stop
`sauti check`, not the planning of the predict stage (sauti.stages.predict), which reads
BUILTIN from here. That PREDICT.speaker_embedding ssl needs SSL.enabled is checked by
config.sections.ssl.
"""

from __future__ import annotations

from sauti.config.device import check_device
from sauti.config.schema import ConfigError
from sauti.core.errors import SautiError

#: Targets sauti estimates by itself; anything else needs PREDICT.model.
BUILTIN = ("speaker", "snr", "mos")


def check_config(cfg: dict, source: str) -> None:
    """PREDICT.targets against BUILTIN and PREDICT.model; PREDICT.device when it is used."""
    section = cfg["PREDICT"]
    targets = list(section["targets"])
    if not targets:
        return
    others = [t for t in targets if t not in BUILTIN]
    if others and not section["model"]:
        raise ConfigError(
            f"{source}: [PREDICT] targets: {others[0]!r} needs a model: set PREDICT.model to the "
            f"model.joblib of an experiment trained for it (or a `sauti export` folder); "
            f"built in are {', '.join(BUILTIN)}"
        )
    if len(others) > 1:
        raise ConfigError(
            f"{source}: [PREDICT] targets: one PREDICT.model predicts one target, not {others}"
        )
    if len(set(targets)) != len(targets):
        raise ConfigError(f"{source}: [PREDICT] targets lists a target twice: {targets}")
    if "speaker" in targets:
        try:
            check_device(section["device"], "PREDICT.device")
        except SautiError as err:
            raise ConfigError(f"{source}: [PREDICT] {err}") from err
