"""SEGMENT at config time: its databases against DATA.databases.

Why in config: a database name that is not one of the experiment's must stop `sauti check`,
not the planning of the segment stage; the planner (sauti.stages.segment) reads
`selected_databases` from here.
"""

from __future__ import annotations

from sauti.config.schema import ConfigError


def selected_databases(cfg: dict) -> list[str]:
    """SEGMENT.databases resolved against DATA.databases (`all` = every database)."""
    wanted, names = cfg["SEGMENT"]["databases"], list(cfg["DATA"]["databases"])
    return names if wanted == "all" else list(wanted)


def check_config(cfg: dict, source: str) -> None:
    """Every name in SEGMENT.databases must be one of DATA.databases."""
    wanted, names = cfg["SEGMENT"]["databases"], list(cfg["DATA"]["databases"])
    unknown = [] if wanted == "all" else [n for n in wanted if n not in names]
    if unknown:
        raise ConfigError(
            f"{source}: [SEGMENT] databases: {unknown[0]!r} is not one of "
            f"DATA.databases ({', '.join(names)})"
        )
