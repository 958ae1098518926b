"""SELFTRAIN at config time: the section against DATA.unlabelled, the student's MODEL keys and
the task.

Why in config: a self-training run that cannot work (no pool, a pool that is also training
data, a classifier student in a regression run) must stop `sauti check`, not round 1's job.
"""

from __future__ import annotations

from sauti.config.schema import ConfigError, schema
from sauti.core.model_names import CLASSIFIERS, REGRESSORS
from sauti.core.suggest import did_you_mean


def check_config(cfg: dict, source: str) -> None:
    """SELFTRAIN and DATA.unlabelled together: one-line ConfigError for what the schema cannot see."""
    section, data = cfg["SELFTRAIN"], cfg["DATA"]
    unlabelled = data.get("unlabelled") or []
    if section["rounds"] and not unlabelled:
        raise ConfigError(
            f"{source}: [SELFTRAIN] rounds = {section['rounds']} needs unlabelled audio",
            hint="define a database in DATA and list its name in DATA.unlabelled",
        )
    if unlabelled and not section["rounds"]:
        raise ConfigError(
            f"{source}: [DATA] unlabelled is only used by self-training, but SELFTRAIN.rounds is 0",
            hint="set SELFTRAIN.rounds (e.g. 2) or remove DATA.unlabelled",
        )
    clash = sorted(set(unlabelled) & set(data["databases"]))
    if clash:
        raise ConfigError(
            f"{source}: [DATA] database '{clash[0]}' is listed both in databases and in unlabelled",
            hint="a database is either labelled training data or unlabelled pool, not both",
        )
    model_keys = schema()["properties"]["MODEL"]["properties"]
    for key, value in section["student"].items():
        if key not in model_keys:
            raise ConfigError(
                f"{source}: [SELFTRAIN] unknown student key '{key}'{did_you_mean(key, model_keys)}",
                hint="student holds MODEL keys that the student uses instead of MODEL's",
            )
        allowed = model_keys[key].get("enum")
        if allowed and value not in allowed:
            raise ConfigError(
                f"{source}: [SELFTRAIN] student.{key}: {value!r} is not one of "
                f"{', '.join(map(str, allowed))}{did_you_mean(str(value), [str(a) for a in allowed])}"
            )
    task = cfg["EXP"]["type"]
    if section["confidence"] == "proba" and task == "regression":
        raise ConfigError(
            f"{source}: [SELFTRAIN] confidence proba needs class probabilities (EXP.type is regression)",
            hint="use confidence bootstrap (or auto)",
        )
    kind = str(student_model(cfg["MODEL"], section)["type"])
    wanted = CLASSIFIERS if task == "classification" else REGRESSORS
    if kind in CLASSIFIERS + REGRESSORS and kind not in wanted:
        raise ConfigError(
            f"{source}: [SELFTRAIN] student type '{kind}' does not fit EXP.type {task}",
            hint=f"use one of {', '.join(wanted)}",
        )


def student_model(model: dict, section: dict) -> dict:
    """The student's MODEL section: the experiment's MODEL with the `student` overrides."""
    return {**model, **(section.get("student") or {})}
