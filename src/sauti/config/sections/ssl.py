"""SSL at config time: the device word (the schema checks the other keys)."""

from __future__ import annotations

from sauti.config.device import check_device
from sauti.config.schema import ConfigError
from sauti.core.errors import SautiError


def check_config(cfg: dict, source: str) -> None:
    """SSL.device at config time (torch-free), so a typo stops `sauti check`, not a job."""
    section = cfg.get("SSL") or {}
    try:
        check_device(section.get("device", "cpu"), "SSL.device")
    except SautiError as err:
        raise ConfigError(f"{source}: [SSL] {err}") from err
