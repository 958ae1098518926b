"""FEATS at config time: the device word of each listed embedding type (`<type>.device`).

Why in config: the device decides only where a features job runs (it is kept out of the
features key, sauti.stages.features.FEATURE_RUN_OPTIONS), but a typo in it must stop
`sauti check`, not the registry while it plans; the spectra options are in
config.sections.spectra.
"""

from __future__ import annotations

from sauti.config.device import check_device
from sauti.config.schema import ConfigError
from sauti.core.errors import SautiError


def check_config(cfg: dict, source: str) -> None:
    """`<type>.device` of every FEATS.type that has one (torch-free)."""
    feats = cfg["FEATS"]
    for kind in feats["type"]:
        key = f"{kind}.device"
        if feats.get(key) is None:
            continue
        try:
            check_device(feats[key], f"FEATS.{key}")
        except SautiError as err:
            raise ConfigError(str(err)) from err
