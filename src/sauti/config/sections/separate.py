"""SEPARATE at config time: its databases against DATA.databases, one separator, the activity
bounds and the device.

Why in config: a separation run that cannot work must stop `sauti check`, not a job; the
planner (sauti.stages.separate) reads `selected_databases` from here too.
"""

from __future__ import annotations

from sauti.config.device import check_device
from sauti.config.schema import ConfigError
from sauti.core.errors import SautiError


def selected_databases(cfg: dict) -> list[str]:
    """SEPARATE.databases resolved against DATA.databases (`all` = every database)."""
    wanted, names = cfg["SEPARATE"]["databases"], list(cfg["DATA"]["databases"])
    return names if wanted == "all" else list(wanted)


def check_config(cfg: dict, source: str) -> None:
    """SEPARATE against DATA and itself: one-line ConfigError for what the schema cannot see."""
    section = cfg["SEPARATE"]
    wanted, names = section["databases"], list(cfg["DATA"]["databases"])
    unknown = [] if wanted == "all" else [n for n in wanted if n not in names]
    if unknown:
        raise ConfigError(
            f"{source}: [SEPARATE] databases: {unknown[0]!r} is not one of DATA.databases "
            f"({', '.join(names)})"
        )
    corpus, pretrained = section["corpus"], section["pretrained"]
    if corpus and pretrained:
        raise ConfigError(
            f"{source}: [SEPARATE] corpus and pretrained are both set",
            hint="train on a corpus, or use a pretrained separator, not both",
        )
    if selected_databases(cfg) and not (corpus or pretrained):
        raise ConfigError(
            f"{source}: [SEPARATE] databases are listed but there is no separator",
            hint="set SEPARATE.corpus (a separation CSV, e.g. from "
            "resources/demo/build_separation_corpus.sh) or SEPARATE.pretrained",
        )
    if section["min_activity"] > section["max_activity"]:
        raise ConfigError(
            f"{source}: [SEPARATE] min_activity {section['min_activity']} is above "
            f"max_activity {section['max_activity']}"
        )
    try:
        check_device(section["device"], "SEPARATE.device")
    except SautiError as err:
        raise ConfigError(f"{source}: {err}") from err
