"""ENSEMBLE at config time: the methods, and what can be known of the members before running.

Why in config: an ensemble whose members cannot be combined (two tasks or targets, a method
that needs probabilities over regression members, performance weights without dev splits)
must stop `sauti check`; the ensemble stage (sauti.stages.ensemble) defines what each method
does with the members' predictions.
"""

from __future__ import annotations

from sauti.config.schema import ConfigError

METHODS = (
    "majority_voting",
    "mean",
    "max",
    "sum",
    "max_class",
    "uncertainty_threshold",
    "uncertainty_weighted",
    "confidence_weighted",
    "performance_weighted",
)
REGRESSION_METHODS = ("mean", "performance_weighted")


def check_members(name: str, section: dict, members: list[dict], source: str) -> None:
    """What can be known before running: one task, one target, the method fits the task, dev
    splits for performance_weighted, and a name of its own."""
    method = section["method"]
    if method not in METHODS:  # the schema enum says so too; kept for direct callers
        raise ConfigError(
            f"{source}: [ENSEMBLE] method {method!r} is not one of {', '.join(METHODS)}"
        )
    first = members[0]
    for cfg in members[1:]:
        for section_name, key in (("EXP", "type"), ("DATA", "target")):
            if cfg[section_name][key] != first[section_name][key]:
                raise ConfigError(
                    f"{source}: [ENSEMBLE] members must share {section_name}.{key}: "
                    f"{first['EXP']['name']} has {first[section_name][key]!r}, "
                    f"{cfg['EXP']['name']} has {cfg[section_name][key]!r}"
                )
    if first["EXP"]["type"] == "regression" and method not in REGRESSION_METHODS:
        raise ConfigError(
            f"{source}: [ENSEMBLE] method {method} needs class probabilities; regression members "
            f"support {' and '.join(REGRESSION_METHODS)}"
        )
    if method == "performance_weighted":
        missing = [c["EXP"]["name"] for c in members if not c["EXP"]["traindevtest"]]
        if missing:
            raise ConfigError(
                f"{source}: [ENSEMBLE] method performance_weighted weights members by their dev "
                f"score, but {', '.join(missing)} has no dev split",
                hint="set [EXP] traindevtest = True in every member",
            )
    if name in [c["EXP"]["name"] for c in members]:
        raise ConfigError(
            f"{source}: [EXP] name {name!r} is also a member's name; give the ensemble its own"
        )
